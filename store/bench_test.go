package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreate measures Create, one script per session.
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	st, _ := newStore(b, Options{})
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := i.Add(1)
			s := newSession(fmt.Sprintf("1%09d", n), fmt.Sprintf("2%09d", n))
			if _, _, err := st.Create(ctx, s, firstEntry(), Limits{PerCaller: 3, PerCallee: 3}, t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkApply measures transitions: each goroutine steers its own
// session back and forth between two live states, one EVALSHA per Apply.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	st, _ := newStore(b, Options{})
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		n := seq.Add(1)
		replica := fmt.Sprintf("r%d", n)
		if _, _, err := st.Create(ctx, newSession(fmt.Sprintf("1%d", n), fmt.Sprintf("2%d", n)), firstEntry(), Limits{}, t0); err != nil {
			b.Error(err)
			return
		}
		// Any waiting session will do: claim until this goroutine has one.
		var claimed []Session
		var err error
		for len(claimed) == 0 && err == nil {
			claimed, _, err = st.ClaimDue(ctx, replica, t0, 1)
		}
		if err != nil {
			b.Error(err)
			return
		}
		s := claimed[0]
		entry := []Entry{{Kind: KindAttempt, Leg: "callee", Node: "fs1", UUID: "0e5bd3a2-5a4c-4c6e-8a53-3f0b5d3f4b1a"}}
		for pb.Next() {
			next := s
			if s.State == DialingCallee {
				next.State = CalleeHold
			} else {
				next.State = DialingCallee
			}
			next.Attempts++
			s, err = st.Apply(ctx, next, s.Version, entry, t0)
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "applies/s")
}

// BenchmarkClaimDue measures how fast waiting sessions are claimed in
// batches of 100 by 4 replicas at once.
func BenchmarkClaimDue(b *testing.B) {
	ctx := context.Background()
	st, _ := newStore(b, Options{})
	for i := range b.N {
		s := newSession(fmt.Sprintf("1%09d", i), fmt.Sprintf("2%09d", i))
		s.DueAt = t0.Add(time.Duration(i%1000) * time.Millisecond)
		mustCreate(b, st, s, t0)
	}
	var claimed atomic.Int64
	b.ResetTimer()
	done := make(chan struct{})
	for r := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				got, _, err := st.ClaimDue(ctx, fmt.Sprintf("r%d", r), t0.Add(time.Hour), 100)
				if err != nil {
					b.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				claimed.Add(int64(len(got)))
			}
		}()
	}
	for range 4 {
		<-done
	}
	b.StopTimer()
	if claimed.Load() != int64(b.N) {
		b.Fatalf("claimed %d of %d", claimed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
