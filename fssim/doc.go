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
// asks for FreeSWITCH's lag; myevents and linger are acknowledged but change
// nothing; the indentation of event-xml payloads is approximated.
package fssim
