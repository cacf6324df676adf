package app

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"bgcall/internal/testutil"
)

// fakeEngine steers live sessions until the test ends them.
type fakeEngine struct {
	mu       sync.Mutex
	live     int
	drained  bool
	released chan struct{}
}

func newFakeEngine(live int) *fakeEngine {
	return &fakeEngine{live: live, released: make(chan struct{}, 1)}
}

func (f *fakeEngine) Drain() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drained = true
}

func (f *fakeEngine) Live() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

func (f *fakeEngine) Released() <-chan struct{} { return f.released }

// end ends one session, as the engine's worker does.
func (f *fakeEngine) end() {
	f.mu.Lock()
	f.live--
	f.mu.Unlock()
	select {
	case f.released <- struct{}{}:
	default:
	}
}

// TestDrainWakesOnRelease: the drain returns as soon as the last session
// ends, at that very instant, not at the next look of a poll.
func TestDrainWakesOnRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newFakeEngine(2)
		var logs testutil.SyncBuffer
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			drain(e, time.Minute, slog.New(slog.NewTextHandler(&logs, nil)))
		}()
		for _, left := range []int{1, 0} {
			synctest.Wait() // the drain waits for the next release
			select {
			case <-done:
				t.Fatalf("drain returned with %d sessions live", left+1)
			default:
			}
			e.end()
		}
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("drain still waits once no session is live")
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("drain returned %v after the last session ended, want at once", waited)
		}
		if !e.drained || !strings.Contains(logs.String(), "drained") {
			t.Errorf("engine drained %v; log:\n%s", e.drained, logs.String())
		}
	})
}

// TestDrainGivesUpAtTheTimeout: a session that outlasts the timeout does
// not hold the drain longer.
func TestDrainGivesUpAtTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newFakeEngine(1)
		var logs testutil.SyncBuffer
		start := time.Now()
		drain(e, 30*time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
		if waited := time.Since(start); waited != 30*time.Second {
			t.Errorf("drain gave up after %v, want 30s", waited)
		}
		if !strings.Contains(logs.String(), "drain timeout") {
			t.Errorf("log lacks the drain timeout:\n%s", logs.String())
		}
	})
}

// TestDrainWithNothingLive returns at once, also with no timeout set.
func TestDrainWithNothingLive(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Minute} {
		e := newFakeEngine(0)
		drain(e, timeout, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if !e.drained {
			t.Errorf("timeout %v: the engine was not told to drain", timeout)
		}
	}
	e := newFakeEngine(3)
	drain(e, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if e.Live() != 3 || !e.drained {
		t.Error("drain.timeout 0 must stop at once, live sessions or not")
	}
}
