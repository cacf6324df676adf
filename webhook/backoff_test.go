package webhook

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToMax(t *testing.T) {
	b := Backoff{First: time.Second, Max: 10 * time.Second, Factor: 2}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := b.Delay(i+1, nil); got != w {
			t.Errorf("retry %d: %v, want %v", i+1, got, w)
		}
	}
	// A huge retry count must neither overflow nor loop for long.
	if got := b.Delay(1<<30, nil); got != 10*time.Second {
		t.Errorf("retry 2^30: %v, want the max", got)
	}
}

func TestBackoffJitterSpreadsBothWays(t *testing.T) {
	b := Backoff{First: 10 * time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}
	low := b.Delay(1, func() float64 { return 0 })
	mid := b.Delay(1, func() float64 { return 0.5 })
	high := b.Delay(1, func() float64 { return 0.999999 })
	if low != 8*time.Second || mid != 10*time.Second || high <= 11900*time.Millisecond || high > 12*time.Second {
		t.Errorf("jittered first wait: low %v, mid %v, high %v; want 8s, 10s, just under 12s", low, mid, high)
	}
	for range 1000 {
		if d := b.Delay(3, nil); d < 32*time.Second || d > 48*time.Second {
			t.Fatalf("third wait %v outside 40s±20%%", d)
		}
	}
}

func TestDefaultBackoffIsBounded(t *testing.T) {
	b := DefaultBackoff()
	if d := b.Delay(100, func() float64 { return 0.999 }); d > 6*time.Minute {
		t.Errorf("the 100th retry waits %v; the default must stay near 5 minutes", d)
	}
}
