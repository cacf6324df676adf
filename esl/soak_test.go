package esl

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// simHelperEnv makes the test binary serve a FreeSWITCH simulator instead of
// running tests: the soak test runs the node in its own process, so that the
// heap and goroutines it measures are the client's alone.
const simHelperEnv = "BGCALL_ESL_SIM_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(simHelperEnv) == "1" {
		serveSim()
		return
	}
	os.Exit(m.Run())
}

// serveSim runs a simulator whose calls answer at once and hang up after two
// (1 ms) seconds, prints its address, and stops when stdin closes.
func serveSim() {
	sim, err := fssim.Start(fssim.Options{
		Second:      time.Millisecond,
		Default:     fssim.Behavior{Action: fssim.Answer, Talk: 2 * time.Millisecond},
		RecordLimit: -1,
	})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", sim.Addr(), sim.Password())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	sim.Close()
}

// startSimProcess starts serveSim in a child process.
func startSimProcess(t testing.TB) Node {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), simHelperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "ADDR" {
		t.Fatalf("simulator process said %q, %v", line, err)
	}
	return Node{Name: "fs1", Addr: f[1], Password: f[2]}
}

type memSample struct {
	calls      int
	goroutines int
	heap       uint64 // live heap after a collection
}

func sample(calls int) memSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{calls: calls, goroutines: runtime.NumGoroutine(), heap: ms.HeapAlloc}
}

// TestSoakFlatGoroutinesAndHeap runs many short calls (answer, hang up two
// milliseconds later: seven events and one bgapi each) through one
// connection and checks that goroutines return to their baseline and the
// heap stays flat. BGCALL_LONG=1 runs a million calls and prints figures;
// BGCALL_CALLS=n sets the count.
func TestSoakFlatGoroutinesAndHeap(t *testing.T) {
	calls := 20000
	if raceEnabled {
		calls = 3000
	}
	if os.Getenv("BGCALL_LONG") == "1" {
		calls = 1000000
	}
	if n, err := strconv.Atoi(os.Getenv("BGCALL_CALLS")); err == nil && n > 0 {
		calls = n
	}
	const inFlight = 256
	node := startSimProcess(t)
	opts := fastOptions()
	opts.CommandTimeout = 5 * time.Second
	opts.PingInterval = time.Second
	if os.Getenv("BGCALL_DEBUG") == "1" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	slots := make(chan struct{}, inFlight)
	var mu sync.Mutex
	destroyed, events, jobs := 0, 0, 0
	allDone := make(chan struct{})
	h := start(t, []Node{node}, opts, false, func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		events++
		switch ev.Name {
		case freeswitch.EventBackgroundJob:
			jobs++
		case freeswitch.EventChannelDestroy:
			destroyed++
			<-slots
			if destroyed == calls {
				close(allDone)
			}
		}
	})
	h.waitUp(1)
	time.Sleep(200 * time.Millisecond) // let start-up goroutines settle
	base := sample(0)
	samples := []memSample{base}
	began := time.Now()
	ctx := context.Background()
	every := max(calls/10, 1)
	for i := 0; i < calls; i++ {
		slots <- struct{}{}
		cmd, err := freeswitch.Originate{Endpoint: "user/" + strconv.Itoa(1000+i%9000) + "@example.com", UUID: uuid.New()}.Command()
		if err == nil {
			err = h.p.BGAPI(ctx, "fs1", cmd, uuid.New())
		}
		if err != nil {
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			t.Fatalf("call %d: %v (health %+v)", i, err, h.p.Health())
		}
		if (i+1)%every == 0 {
			samples = append(samples, sample(i+1))
		}
	}
	select {
	case <-allDone:
	case <-time.After(time.Minute):
		mu.Lock()
		t.Fatalf("%d of %d calls ended (health %+v)", destroyed, calls, h.p.Health())
	}
	elapsed := time.Since(began)

	// Goroutines started per event by eslgo end within moments.
	var end memSample
	for deadline := time.Now().Add(5 * time.Second); ; {
		end = sample(calls)
		if end.goroutines <= base.goroutines+2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	samples = append(samples, end)
	mu.Lock()
	t.Logf("%d calls, %d events, %d job results in %v: %.0f calls/s, %.0f events/s",
		calls, events, jobs, elapsed.Round(time.Millisecond), float64(calls)/elapsed.Seconds(), float64(events)/elapsed.Seconds())
	mu.Unlock()
	maxG, maxHeap := 0, uint64(0)
	for _, s := range samples {
		t.Logf("after %7d calls: %4d goroutines, heap %6.2f MiB", s.calls, s.goroutines, float64(s.heap)/(1<<20))
		maxG, maxHeap = max(maxG, s.goroutines), max(maxHeap, s.heap)
	}
	// The last calls' trailing events (hangup-complete, job results) may
	// still be on their way when the last destroy is seen.
	hl := h.p.Health()[0]
	for deadline := time.Now().Add(5 * time.Second); hl.BufferedEvents != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		hl = h.p.Health()[0]
	}
	if end.goroutines > base.goroutines+2 {
		t.Errorf("goroutines %d after the run, %d before", end.goroutines, base.goroutines)
	}
	// The heap may hold the calls in flight and the event queue; it
	// must not grow with the number of calls.
	if limit := base.heap + 16<<20; end.heap > limit {
		t.Errorf("heap %d MiB after the run, %d MiB before", end.heap>>20, base.heap>>20)
	}
	if hl.Channels != 0 || hl.PendingJobs != 0 || hl.BufferedEvents != 0 || hl.Reconnects != 0 {
		t.Errorf("health after the run: %+v", hl)
	}
	t.Logf("goroutines: baseline %d, max sampled %d, end %d; heap: baseline %.2f MiB, max %.2f MiB, end %.2f MiB",
		base.goroutines, maxG, end.goroutines, float64(base.heap)/(1<<20), float64(maxHeap)/(1<<20), float64(end.heap)/(1<<20))
}
