// Package esl connects bgcall to FreeSWITCH nodes over the inbound event socket.
//
// It is built on github.com/percipia/eslgo and makes safe what eslgo leaves
// unsafe:
//
//   - Commands are serialised per connection by one worker goroutine, so eslgo's
//     shared reply channel can never hand a reply to the wrong caller. A caller
//     that gives up does not leave its reply to the next one: the worker keeps
//     waiting for it, and a reply that never comes within the command timeout
//     poisons the connection, which is closed and dialled again.
//   - bgapi commands carry a client-chosen Job-UUID, and BACKGROUND_JOB is
//     subscribed before any command is sent, so no job result can be missed.
//   - eslgo starts a goroutine per event, which loses their order. Events are
//     put back in FreeSWITCH's order by a resequencer per node that sorts on
//     Event-Sequence within a connection (one Core-UUID) and holds an event for
//     a short window only while an earlier sequence number may still be on its
//     way (see resequencer).
//   - Dead connections are detected from eslgo's disconnect callback, from
//     command errors and timeouts, from a periodic "api status", and from
//     silence (no HEARTBEAT, event or reply). Some failures (an EOF in the middle
//     of a frame, an unknown frame type, a reset) stop eslgo's reader without
//     any callback; the periodic status command is what catches those.
//   - Reconnection uses capped exponential backoff with jitter, subscribes to
//     explicit event names (never "all", never "myevents"), then resyncs: each
//     channel tracked before the loss is checked with uuid_exists, and a changed
//     Core-UUID means every tracked channel is gone. Consumers learn it through
//     synthetic events (EventNodeDown, EventChannelGone, EventNodeUp).
//   - Memory stays bounded: one event listener per connection (never one per
//     channel or job), channel tracking bounded by live channels, job waiters by
//     calls in flight, and a bounded event buffer whose overflow is treated as
//     a failed connection (reported and resynced), never as silent loss.
//
// A Pool runs any number of nodes and merges their events into one stream.
package esl
