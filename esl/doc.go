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
//   - So that commands to one node still overlap, each node has a few command
//     connections (Options.CommandConns, default 4) besides its event
//     connection. They subscribe to nothing, so their replies never wait
//     behind events; api and bgapi go to the least busy one. The event
//     connection alone decides whether the node is up (see command.go).
//   - bgapi commands carry a client-chosen Job-UUID, and BACKGROUND_JOB is
//     subscribed before any command is sent, so no job result can be missed.
//   - eslgo talks to FreeSWITCH through a relay (relay.go) that reads whole
//     frames. It reports an EOF in the middle of a frame, drops frame types
//     that would stop eslgo's reader (log/data), and never lets eslgo see a
//     disconnect, because eslgo's own close path is a data race.
//   - Events never reach eslgo. eslgo parses each with net/textproto into a
//     map and starts a goroutine per event, which loses their order and,
//     measured, cost a replica half of its CPU. The relay parses events
//     itself (ParseEvent: one copy of the payload, headers decoded when
//     read) on the one goroutine that reads the socket, so they are queued
//     in wire order by construction. For a channel, wire order is
//     FreeSWITCH's creation order. eslgo keeps what it does well: the
//     handshake, and sending commands and reading their replies.
//   - Dead connections are detected by the relay (EOF, reset, disconnect
//     notice, a cut frame), by command errors and timeouts, by an "api status"
//     sent whenever nothing was received for PingInterval, and by silence (no
//     HEARTBEAT, event or reply for SilenceTimeout).
//   - Reconnection uses capped exponential backoff with jitter, subscribes to
//     explicit event names (never "all", never "myevents"), then resyncs: each
//     channel tracked before the loss is checked with uuid_exists, and a changed
//     Core-UUID means every tracked channel is gone. Consumers learn it through
//     synthetic events (EventNodeDown, EventChannelGone, EventNodeUp).
//   - Memory stays bounded: no listener per channel or job, channel tracking
//     bounded by live channels, job waiters by calls in flight, and a bounded
//     event buffer. When it is full the relay
//     stops reading the socket (backpressure); if the consumer stays stuck for
//     CommandTimeout the connection is treated as failed, reported and resynced.
//
// A Pool runs any number of nodes and merges their events into one stream.
package esl
