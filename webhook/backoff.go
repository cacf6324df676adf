package webhook

import (
	"math/rand/v2"
	"time"
)

// Backoff says how long to wait before each retry: First before the
// first, then each wait Factor times the one before, never more than Max,
// each spread by up to Jitter (a fraction) either way, so that the
// retries of many events to an endpoint that was down do not come back
// all at once.
type Backoff struct {
	First  time.Duration
	Max    time.Duration
	Factor float64
	Jitter float64
}

// DefaultBackoff waits 1s, 2s, 4s, ... up to 5 minutes, ±20%.
func DefaultBackoff() Backoff {
	return Backoff{First: time.Second, Max: 5 * time.Minute, Factor: 2, Jitter: 0.2}
}

// Delay returns the wait before retry n (1 for the first retry); rnd is a
// number in [0, 1), nil for a random one.
func (b Backoff) Delay(n int, rnd func() float64) time.Duration {
	d := float64(b.First)
	for i := 1; i < n && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	d = min(d, float64(b.Max))
	if b.Jitter > 0 {
		if rnd == nil {
			rnd = rand.Float64
		}
		d *= 1 + b.Jitter*(2*rnd()-1)
	}
	return time.Duration(d)
}
