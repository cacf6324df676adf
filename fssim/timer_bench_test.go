package fssim

import (
	"testing"
	"time"
)

// BenchmarkChannelTimers measures what every originate costs the node's
// timers: arming the originate timeout and a ring, and cancelling both at
// hangup. "1000_pending" runs beside a thousand other channels' timers, as
// a busy node has; "fire" arms a timer due at once and waits for it to act.
func BenchmarkChannelTimers(b *testing.B) {
	for _, tc := range []struct {
		name    string
		pending int
	}{{"idle", 0}, {"1000_pending", 1000}} {
		b.Run(tc.name, func(b *testing.B) {
			n, err := Start(Options{Heartbeat: -1, RecordLimit: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			n.mu.Lock()
			defer n.mu.Unlock()
			for i := 0; i < tc.pending; i++ {
				n.chanAfter(&channel{}, time.Hour+time.Duration(i)*time.Millisecond, func() {})
			}
			ch := &channel{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n.chanAfter(ch, 30*time.Minute, func() {})
				n.chanAfter(ch, 20*time.Minute, func() {})
				n.cancelChanTimers(ch)
			}
		})
	}
	b.Run("fire", func(b *testing.B) {
		n, err := Start(Options{Heartbeat: -1, RecordLimit: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		acted := make(chan struct{}, 1)
		for i := 0; i < b.N; i++ {
			n.mu.Lock()
			n.after(0, func() { acted <- struct{}{} })
			n.mu.Unlock()
			<-acted
		}
	})
}
