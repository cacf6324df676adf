package esl

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// TestConcurrentCommandsGetTheirOwnReplies: 16 goroutines issue 10,000 mixed
// api and bgapi commands whose replies differ per caller and per call; any
// reply handed to the wrong caller shows up as a wrong value.
func TestConcurrentCommandsGetTheirOwnReplies(t *testing.T) {
	const workers, perWorker = 16, 625
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	opts := fastOptions()
	opts.CommandTimeout = 5 * time.Second // -race on two cores: latency, not failure

	var jobsMu sync.Mutex
	jobs := map[string]string{} // job UUID → result body
	h := start(t, []Node{simNode("fs1", sim)}, opts, true, func(ev Event) {
		if ev.Name == freeswitch.EventBackgroundJob {
			jobsMu.Lock()
			jobs[ev.JobUUID] = ev.Body
			jobsMu.Unlock()
		}
	})
	h.waitUp(1)
	legs := make([]string, workers)
	for g := range legs {
		legs[g] = h.park("fs1", fmt.Sprint(2000+g))
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	expect := make([]map[string]string, workers) // per worker: job UUID → value
	began := time.Now()
	for g := 0; g < workers; g++ {
		expect[g] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			leg, last := legs[g], "_undef_"
			for i := 0; i < perWorker; i++ {
				var err error
				switch i % 4 {
				case 0:
					value := fmt.Sprintf("w%d-%d", g, i)
					var got string
					got, err = h.p.API(ctx, "fs1", "uuid_setvar "+leg+" k "+value)
					if err == nil && got != "" {
						err = fmt.Errorf("uuid_setvar answered %q", got)
					}
					last = value
				case 1:
					var got string
					got, err = h.p.API(ctx, "fs1", "uuid_getvar "+leg+" k")
					if err == nil && got != last {
						err = fmt.Errorf("api reply %q, want %q", got, last)
					}
				case 2:
					id := uuid.New()
					err = h.p.BGAPI(ctx, "fs1", "uuid_getvar "+leg+" k", id)
					expect[g][id] = last
				case 3:
					var got string
					got, err = h.p.BGAPIWait(ctx, "fs1", "uuid_getvar "+leg+" k")
					if err == nil && got != last {
						err = fmt.Errorf("job result %q, want %q", got, last)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d call %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every streamed job result must arrive, with its own value.
	want := 0
	for _, m := range expect {
		want += len(m)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobsMu.Lock()
		n := 0
		for _, m := range expect {
			for id := range m {
				if _, ok := jobs[id]; ok {
					n++
				}
			}
		}
		jobsMu.Unlock()
		if n == want || time.Now().After(deadline) {
			if n != want {
				t.Fatalf("%d of %d streamed job results arrived", n, want)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	jobsMu.Lock()
	for g, m := range expect {
		for id, value := range m {
			// A streamed job runs on a thread of its own once FreeSWITCH
			// accepted it, so on a loaded machine it may read a value this
			// worker set after it: its result is this worker's value at
			// the bgapi or a later one, never another worker's.
			if got, _ := freeswitch.ParseResult(jobs[id]); !setAtOrAfter(g, got, value) {
				t.Errorf("worker %d job %s: result %q, want %q or a later value of this worker", g, id, got, value)
			}
		}
	}
	jobsMu.Unlock()
	t.Logf("%d commands from %d goroutines in %v (%.0f/s)", workers*perWorker, workers, elapsed.Round(time.Millisecond),
		float64(workers*perWorker)/elapsed.Seconds())
	if hl := h.p.Health()[0]; hl.Reconnects != 0 || hl.PendingJobs != 0 {
		t.Errorf("health after the load: %+v", hl)
	}
	hangupAll(t, h, "fs1")
}

// setAtOrAfter reports whether got is a value worker g set (w<g>-<i>) no
// earlier than want.
func setAtOrAfter(g int, got, want string) bool {
	if got == want {
		return true
	}
	var gg, i, wi int
	if _, err := fmt.Sscanf(got, "w%d-%d", &gg, &i); err != nil || gg != g {
		return false
	}
	if _, err := fmt.Sscanf(want, "w%d-%d", &gg, &wi); err != nil {
		return true // nothing was set at the bgapi: any value of this worker is later
	}
	return i >= wi
}

// channelLog checks one channel's events as they are delivered.
type channelLog struct {
	lastSeq uint64
	names   []string
}

// TestTenThousandChannelsInOrder: 10,000 calls with the simulator letting
// channels overtake one another, as FreeSWITCH's threads do; every channel's
// events must arrive in its own order although eslgo starts a goroutine per
// event.
func TestTenThousandChannelsInOrder(t *testing.T) {
	const calls, workers = 10000, 16
	sim := fssim.StartT(t, fssim.Options{
		Second:  5 * time.Millisecond,
		Default: fssim.Behavior{Action: fssim.Answer, Talk: 2 * 5 * time.Millisecond},
	})
	sim.ReorderEvents(true)
	opts := fastOptions()
	opts.CommandTimeout = 5 * time.Second
	// The lifecycle a controller follows; fewer events keep the test within
	// a minute under -race on two cores.
	opts.Events = []string{freeswitch.EventChannelCreate, freeswitch.EventChannelAnswer,
		freeswitch.EventChannelHangup, freeswitch.EventChannelDestroy}

	// Commands no longer wait behind events (command connections), so
	// nothing else slows the workers down: an unbounded burst would outrun
	// the event path under -race and fail the event connection on lag, as
	// documented. Bound the channels alive, as a controller's sessions do.
	alive := make(chan struct{}, 1000)
	var mu sync.Mutex
	logs := make(map[string]*channelLog, calls)
	var problems []string
	destroyed := 0
	allDone := make(chan struct{})
	h := start(t, []Node{simNode("fs1", sim)}, opts, false, func(ev Event) {
		if ev.UniqueID == "" {
			return
		}
		if ev.Name == EventChannelGone {
			<-alive
			return
		}
		mu.Lock()
		defer mu.Unlock()
		l := logs[ev.UniqueID]
		if l == nil {
			l = &channelLog{}
			logs[ev.UniqueID] = l
		}
		if ev.Sequence <= l.lastSeq && len(problems) < 10 {
			problems = append(problems, fmt.Sprintf("%s: %s (sequence %d) after %v (sequence %d)", ev.UniqueID, ev.Name, ev.Sequence, l.names, l.lastSeq))
		}
		l.lastSeq = ev.Sequence
		l.names = append(l.names, ev.Name)
		if ev.Name == freeswitch.EventChannelDestroy {
			<-alive
			destroyed++
			if destroyed == calls {
				close(allDone)
			}
		}
	})
	h.waitUp(1)

	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls; i += workers {
				select {
				case alive <- struct{}{}:
				case <-time.After(20 * time.Second):
					t.Errorf("call %d: 1000 channels alive for 20s (health %+v)", i, h.p.Health())
					return
				}
				cmd, err := freeswitch.Originate{Endpoint: fmt.Sprintf("user/%d@example.com", 10000+i), UUID: uuid.New()}.Command()
				if err == nil {
					err = h.p.BGAPI(context.Background(), "fs1", cmd, uuid.New())
				}
				if err != nil {
					t.Errorf("call %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d originates accepted in %v", calls, time.Since(began).Round(time.Millisecond))
	select {
	case <-allDone:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Fatalf("%d of %d channels destroyed within 60s (health %+v)", destroyed, calls, h.p.Health())
	}
	elapsed := time.Since(began)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	events := 0
	lifecycle := []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_DESTROY"}
	for id, l := range logs {
		events += len(l.names)
		if l.names[0] != "CHANNEL_CREATE" || !subsequence(lifecycle, l.names) {
			t.Errorf("channel %s: %v", id, l.names)
			break
		}
	}
	hl := h.p.Health()[0]
	t.Logf("%d channels, %d channel events in %v (%.0f events/s); regressions %d",
		len(logs), events, elapsed.Round(time.Millisecond), float64(events)/elapsed.Seconds(), hl.OrderRegressions)
	if len(logs) != calls || hl.Channels != 0 || hl.BufferedEvents != 0 {
		t.Errorf("%d channels seen, %d still tracked, %d buffered", len(logs), hl.Channels, hl.BufferedEvents)
	}
}
