// Package chaos is bgcall's randomized fault run: three bgcall daemons (this
// program started again as child processes), two simulated FreeSWITCH nodes
// and one redis-server behind a fault proxy carry hundreds of background
// calls with mixed far ends (B answers at once, later, after busy, never; A
// misses the call back; A or B hangs up after talking) and cancels at random
// moments, while faults drawn from a seed hit them: kill -9 of a replica
// (restarted under its id or a new one), SIGSTOP past the lease and SIGCONT,
// lost Redis replies (go-redis times out and sends the script again, or sees
// its connection cut), every Redis connection cut, every event-socket
// connection to a node cut, a node restarted.
//
// Once every session has ended, a checker reads the simulators' record of
// every originate, command, bridge, chat and channel, and the final store,
// and holds the run to bgcall's promises: every session has exactly one
// outcome, agreeing with its calls; two callee legs of a session are never
// up at once; no leg is dialled after a cancel was acknowledged; a bridged
// call is never cut by bgcall; no leg is left up; an SMS goes only to an A
// who missed the call back, once. The report counts each fault injected and
// each invariant checked, and names the seed that reproduces a failure: the
// same seed draws the same far ends, cancels and faults at the same moments.
//
// `make chaos` runs it for a few minutes (SEED and SEEDS choose the seeds);
// `make test` runs a short version.
package chaos
