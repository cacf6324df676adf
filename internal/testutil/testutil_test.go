package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing.T's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a recorder in a goroutine of its own, so that its
// Fatalf can end it, and returns what it recorded.
func run(fn func(t testing.TB)) string {
	rec := &fatalRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	msg := run(func(t testing.TB) {
		waitFor(t, time.Hour, "the third look", func() bool { return calls.Add(1) == 3 })
	})
	if msg != "" || calls.Load() != 3 {
		t.Errorf("failed with %q after %d looks, want success on the third", msg, calls.Load())
	}
}

func TestWaitForFailsNamingWhatItAwaited(t *testing.T) {
	msg := run(func(t testing.TB) {
		waitFor(t, 0, "the moon", func() bool { return false })
	})
	if !strings.Contains(msg, "waiting for the moon") {
		t.Errorf("failure message %q does not name what was awaited", msg)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprint(&b, "x")
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("%d bytes written, want 800", got)
	}
}
