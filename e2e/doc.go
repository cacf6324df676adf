// Package e2e runs bgcall end to end, as an operator runs it: the daemon
// (package app) with a real redis-server, in front of a FreeSWITCH that is
// either the simulator (package fssim) or a real FreeSWITCH 1.10.12
// (package internal/fsreal).
//
// One scenario table is run on both backends and judged by the same
// assertions, taken from what the channels did (their events, recorded by
// internal/callrec), from the commands bgcall sent (a proxy in front of the
// event socket), and from the session bgcall stored. A difference between
// the backends is a bug in one of them.
//
// The far ends (the subscribers' phones) are numbers that say what the phone
// does: FarEnd builds them, its Behaviors script the simulator, and
// Dialplan scripts a real FreeSWITCH the same way (farends.xml).
//
// The tests with RealFreeSWITCH in their name need FreeSWITCH: they skip
// without it, and fail instead under BGCALL_REQUIRE_FREESWITCH=1 (make
// test-freeswitch, CI).
package e2e
