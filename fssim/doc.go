// Package fssim simulates a FreeSWITCH 1.10 node as seen through its inbound
// event socket (mod_event_socket), for everything a call controller does:
// authentication, event subscriptions and filters, api and bgapi commands,
// originate towards scripted far ends, bridging, prompts, hangups and the
// channel events FreeSWITCH fires for all of it, byte for byte.
//
// The simulator is an independent implementation of the protocol, written
// from FreeSWITCH's sources and from captures of a live 1.10.12 node, so that
// a client's fidelity can be checked against it separately from the client.
// Its tests re-serialize every captured event to the same bytes and compare
// the header layout of every event it fires with the captured one.
//
// # Running a node
//
// Start (or StartT in tests, which fails the test if channels are left
// alive) serves one node; StartCluster several, each with its own port,
// Core-UUID and hostname; Run serves nodes for `bgcall sim` until its
// context ends. Time runs in FreeSWITCH seconds whose length Options.Second
// sets: originate_timeout and park_timeout count in them, so a test with
// Second = 20ms finishes a whole call in milliseconds. Far-end delays (ring,
// talk, prompt lengths) are plain durations.
//
// # Far ends
//
// Every dial string form a controller uses reaches a subscriber by number:
// user/<n>[@domain], sofia/gateway/<gw>/<n>, sofia/<profile>/<n>[@host] and
// loopback/<n>[/context]. Each originate to a number takes the next Behavior
// of its sequence (the last one repeats): answer after a ring, ring until the
// originate times out, busy, reject, no user response, not registered (no
// channel at all), unallocated, early media without answer, a talk time after
// which the far end hangs up, a hangup during the first prompt, DTMF after
// answer. Numbers without a sequence answer after one Second. A test can also
// play the far end by hand: Answer, FarEndHangup, SendDTMF.
//
// # Where FreeSWITCH races
//
// Events FreeSWITCH fires from different threads come in an order that
// varies from run to run; the simulator fires them in one order
// FreeSWITCH showed, every time (testdata/freeswitch/flows.json):
//
//   - An originate returns Options.OriginateReturn (20 ms) after its leg's
//     CHANNEL_ANSWER: BACKGROUND_JOB +OK, then CHANNEL_PARK.
//   - A uuid_bridge on a leg that answered but whose originate has not
//     returned yet bridges it, and its originate ends as Options.EarlyBridge
//     says: by default -ERR ORIGINATOR_CANCEL before CHANNEL_BRIDGE, the
//     outcome FreeSWITCH gives whenever the bridge wins the race (it loses
//     it more often) and the one a controller judging A by its job gets
//     wrong. BridgeThenCancel and ReturnThenBridge force the other orders.
//   - A uuid_bridge on a leg still ringing answers +OK, then the originate
//     fails ORIGINATOR_CANCEL, the ringing leg hangs up
//     DESTINATION_OUT_OF_ORDER and the other leg ORIGINATOR_CANCEL; there is
//     no CHANNEL_BRIDGE.
//   - The job of an originate the far end or a uuid_kill ended comes after
//     the leg's HANGUP_COMPLETE (a uuid_kill on CHANNEL_ANSWER ends the
//     originate too); one that timed out comes right after CHANNEL_HANGUP.
//   - A leg its bridge partner's hangup takes down is destroyed after the
//     partner's HANGUP_COMPLETE.
//
// # Commands as FreeSWITCH reads them
//
// Commands are read and answered as mod_event_socket 1.10.12's read_packet
// and parse_command do, quirks included: a command ends at a blank line,
// LF or CRLF; its first line ends at the first CR of the whole command, or
// at its first LF when it has none, so "bgapi status\nJob-UUID: X\r\n\r\n"
// runs the command "status\nJob-UUID:" with argument X and a job id of the
// node's own; commands are recognised by a case-insensitive prefix of their
// text ("exitfoo" exits, "events" subscribes); header values start after
// the spaces following the colon; a command that starts with NUL is a parse
// error that closes the connection; only the first command has a deadline.
// The answers to ninety-odd such cases, before and after auth, are held to
// recordings of a real FreeSWITCH (testdata/freeswitch, re-recorded with
// `make record-freeswitch`).
//
// # Ordinary calls and the outbound socket
//
// Call places a subscriber's own call through the dialplan bgcall ships
// (deploy/freeswitch): a feature code (*86 to *89) runs the socket
// application at once; any other number is bridged to user/<number> with
// continue_on_fail and hangup_after_bridge set, and a failed bridge hands
// the caller's still-up leg to the socket. The caller's leg is inbound
// (Call-Direction inbound, Caller-Source mod_sofia); the bridge sets
// originate_disposition, originate_failed_cause and DIALSTATUS on it, B's
// ringing reaches it as CHANNEL_PROGRESS, and a caller hanging up while B
// rings cancels B with ORIGINATOR_CANCEL.
//
// The socket application connects out to a controller, which must send
// connect first: the reply is the channel's data as a CHANNEL_DATA event
// (its profile under Channel-, then the usual headers and variables) with
// the reply headers last, every value URL-encoded, as mod_event_socket
// serializes it. myevents sends the channel's own events only; linger
// keeps the socket open after hangup; sendmsg with call-command execute
// runs answer, playback, play_and_get_digits, set, sleep and hangup one
// after another, each announced by CHANNEL_EXECUTE and ended by
// CHANNEL_EXECUTE_COMPLETE whose Application-UUID is the sendmsg's
// Event-UUID; call-command hangup ends the leg. A hangup sends a
// disconnect notice naming the channel; a controller closing without
// resume hangs the leg up. The caller keys CallOptions.DTMF at the first
// digit read; SendDTMF keys by hand.
//
// # Faults
//
// SetMaxSessions and SetSessionsPerSecond make originates fail as
// FreeSWITCH's throttles do (-ERR DESTINATION_OUT_OF_ORDER); SetAPIDelay
// slows replies; StallEvents holds event delivery; ReorderEvents lets events
// of different channels overtake one another; DropConnections cuts every
// connection in the middle of a frame; Restart brings the node back with a
// new Core-UUID and no channels after sending every client the disconnect
// notice.
//
// # What is simplified
//
// A leg is one channel whatever the endpoint (a real loopback call is two
// channels, and SIP adds its own variables); CODEC, COMMAND and
// PRIVATE_COMMAND events are not fired; an <exten> XML <context> originate
// parks the answered leg; show channels is current unless Options.ShowLag
// asks for FreeSWITCH's lag; a bridge's B leg is originated and parked
// before it is joined, so it shows the events of a parked originate rather
// than of the bridge application, and no sip_* variables are set; the
// indentation of event-xml payloads is approximated. On the event socket:
// userauth always fails (there are no directory users); unload and reload
// of mod_event_socket are answered as the api command FreeSWITCH puts in
// their place, which the simulator does not know; header arrays (Name[i],
// ARRAY::) are not modelled; a Content-Length over 16 MB closes the
// connection, as later FreeSWITCH releases do; myevents naming a channel on
// an inbound connection filters the events but does not tie the connection
// to the channel's life.
package fssim
