package store

import (
	"sync/atomic"
	"time"
)

// Now returns the time by Redis's clock, as this process sees it: what
// Redis TIME said at the Store's last sync, plus the time elapsed since on
// this process's monotonic clock. It is the clock for every time two
// replicas compare (due times, deadlines, leases): replicas whose own
// clocks differ, or one whose clock is stepped, still agree, to within half
// a round trip to Redis and the drift between two syncs. Heartbeat syncs;
// before the first sync Now is the local clock.
//
// Pass Now to the Store's methods (and use it for the times stored in a
// session): the Store compares the times it is given, it does not read
// Redis's clock in its scripts, so that tests can drive time.
func (s *Store) Now() time.Time {
	b := s.clock.Load()
	if b == nil {
		return s.wall()
	}
	return b.redis.Add(time.Since(b.local))
}

// clockSync is one reading of Redis's clock.
type clockSync struct {
	redis time.Time     // what Redis TIME said
	local time.Time     // when, locally: halfway through the round trip, with the monotonic reading
	err   time.Duration // how far off it may be: half the round trip
}

// maxDrift bounds how fast two clocks drift apart between syncs: NTP
// slews a clock by at most 500 ppm, and both clocks may.
const maxDrift = 1000 // parts per million

// observe takes Redis's time t, read by a call sent at sent and answered at
// got, if it is at least as precise as the reading in use, allowing for how
// far that one may have drifted since: a reading through a slow round trip
// does not replace a good recent one.
func observe(clock *atomic.Pointer[clockSync], t, sent, got time.Time) {
	rtt := got.Sub(sent)
	next := &clockSync{redis: t, local: sent.Add(rtt / 2), err: rtt / 2}
	for {
		cur := clock.Load()
		if cur != nil && next.err > cur.err+time.Duration(int64(next.local.Sub(cur.local))*maxDrift/1e6) {
			return
		}
		if clock.CompareAndSwap(cur, next) {
			return
		}
	}
}
