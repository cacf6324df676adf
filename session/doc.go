// Package session is the background-call engine: it decides what happens
// to every session, from the request to its one outcome.
//
// A session is A's standing request to reach B. The engine dials B (the
// callee leg) until B answers or the retry policy gives up; when B answers it
// plays B a hold prompt and dials A (the caller leg) on the same FreeSWITCH
// node; when A answers it bridges the two. If A does not answer, B hears a
// prompt, B's leg is ended and A is sent a message.
//
// The engine remembers nothing that matters in memory: every transition is
// one atomic step in the store, guarded by the session's version and by the
// fence of the replica that steers it, so a replayed event or a replica that
// lost its lease changes nothing. Each replica steers the sessions it
// claimed; the others ignore their events.
package session
