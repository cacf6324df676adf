package esl

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// BenchmarkAPI measures api round trips through one connection, from one
// caller and from many (they queue: one command is in flight at a time).
func BenchmarkAPI(b *testing.B) {
	sim := fssim.StartT(b, fssim.Options{RecordLimit: -1})
	h := start(b, []Node{simNode("fs1", sim)}, fastOptions(), false, nil)
	h.waitUp(1)
	cmd := "uuid_exists " + uuid.New()
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if v, err := h.p.API(ctx, "fs1", cmd); err != nil || v != "false" {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v, err := h.p.API(ctx, "fs1", cmd); err != nil || v != "false" {
					b.Fatal(v, err)
				}
			}
		})
	})
}

// BenchmarkCalls measures whole short calls (bgapi originate, answer, hang
// up: eight events each) through one connection, with the simulator in its
// own process. It reports calls and events per second.
func BenchmarkCalls(b *testing.B) {
	node := startSimProcess(b)
	opts := fastOptions()
	opts.CommandTimeout = 5 * time.Second
	slots := make(chan struct{}, 256)
	var mu sync.Mutex
	events := 0
	h := start(b, []Node{node}, opts, false, func(ev Event) {
		mu.Lock()
		events++
		mu.Unlock()
		if ev.Name == freeswitch.EventChannelDestroy {
			<-slots
		}
	})
	h.waitUp(1)
	ctx := context.Background()
	mu.Lock()
	events = 0
	mu.Unlock()
	began := time.Now()
	i := 0
	for b.Loop() {
		slots <- struct{}{}
		cmd, _ := freeswitch.Originate{Endpoint: "user/" + strconv.Itoa(1000+i%9000) + "@example.com", UUID: uuid.New()}.Command()
		if err := h.p.BGAPI(ctx, "fs1", cmd, uuid.New()); err != nil {
			b.Fatal(err)
		}
		i++
	}
	for len(slots) > 0 {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(began)
	mu.Lock()
	b.ReportMetric(float64(i)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	mu.Unlock()
}
