package session

// Claims is how many claims the scheduler has made (found work or not).
func (e *Engine) Claims() int64 { return e.claims.Load() }

// LeaseRounds is how many times the lease loop renewed the lease.
func (e *Engine) LeaseRounds() int64 { return e.leaseRounds.Load() }

// Settled reports whether e steers no session and has no command queued
// for FreeSWITCH: nothing it does can reach a node until it claims again.
func (e *Engine) Settled() bool { return e.Live() == 0 && e.senders.backlog() == 0 }
