// Package fssim simulates a FreeSWITCH 1.10 node as seen through its inbound
// event socket (mod_event_socket), for everything a call controller does:
// authentication, event subscriptions and filters, api and bgapi commands,
// originate towards scripted far ends, bridging, prompts, hangups and the
// channel events FreeSWITCH fires for all of it, byte for byte.
//
// The simulator is an independent implementation of the protocol, written
// from FreeSWITCH's sources and from captures of a live 1.10.12 node, so that
// a client's fidelity can be checked against it separately from the client.
//
// A node is started with Start (or StartT in tests) and serves any number of
// connections. Far ends are scripted per number with Behavior sequences;
// time runs in FreeSWITCH "seconds" whose length Options.Second sets, so a
// whole call can finish in milliseconds under test.
package fssim
