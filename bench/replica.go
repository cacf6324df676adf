package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"bgcall/esl"
	"bgcall/internal/fsreal"
	"bgcall/metrics"
	"bgcall/session"
	"bgcall/store"
)

// replicaEnv carries a replica child's configuration, as JSON. Its presence
// makes Run serve as that replica.
const replicaEnv = "BGCALL_BENCH_REPLICA"

// IsReplica reports whether this process was started as a benchmark
// replica; Run then serves as one instead of running the benchmark.
func IsReplica() bool { return os.Getenv(replicaEnv) != "" }

type replicaConfig struct {
	Replica      string
	Redis        string
	Namespace    string
	Nodes        []esl.Node
	PollInterval time.Duration
	Workers      int
	ClaimBatch   int
	LogLevel     slog.Level
	Events       []string
	// BusyRetry, when set, is how long after USER_BUSY the next attempt
	// falls due (benchPolicy's is 100ms).
	BusyRetry time.Duration
	// FreeSWITCH says Nodes is a real FreeSWITCH: the replica runs at real
	// time (realPolicy), dials through the loopback endpoint, and its
	// sessions call the far ends of the real mix.
	FreeSWITCH bool
}

// request is one command from the benchmark to a replica child, over the
// child's file descriptor 3; the reply comes back on descriptor 4.
type request struct {
	Op    string // "stats", "create", "cpuprofile", "cpuprofile_stop", "heapprofile"
	Run   int    `json:",omitempty"`
	From  int    `json:",omitempty"`
	Count int    `json:",omitempty"`
	Rate  int    `json:",omitempty"`
	Path  string `json:",omitempty"`
	// GoroutinesAt, with Path, makes create write a goroutine profile
	// to Path this long after it starts: where the engine waits under load.
	GoroutinesAt time.Duration `json:",omitempty"`
}

type reply struct {
	Err        string `json:",omitempty"`
	Created    int    `json:",omitempty"`
	Failed     int    `json:",omitempty"`
	HeapAlloc  uint64 `json:",omitempty"` // live heap after a GC
	HeapInuse  uint64 `json:",omitempty"`
	Sys        uint64 `json:",omitempty"`
	Goroutines int    `json:",omitempty"`
	RoundTrips int64  `json:",omitempty"`
	Commands   counts `json:",omitempty"`
	Lag        hist   `json:",omitempty"`
	// bgcall_reaction_seconds by step.
	CallerOriginate, Bridge hist
	// ESL command round trips since the previous stats, by kind.
	API, BGAPI quantiles
}

// commandTimes is the replica's esl.Observer: it keeps every command's
// duration, so the benchmark can tell how long the engine waits on
// FreeSWITCH, and passes everything on to the metrics.
type commandTimes struct {
	esl.Observer
	mu         sync.Mutex
	api, bgapi []time.Duration
}

func (c *commandTimes) CommandDone(node, kind string, d time.Duration, err error) {
	c.mu.Lock()
	if kind == "bgapi" {
		c.bgapi = append(c.bgapi, d)
	} else {
		c.api = append(c.api, d)
	}
	c.mu.Unlock()
	c.Observer.CommandDone(node, kind, d, err)
}

// take returns the summaries since the last take.
func (c *commandTimes) take() (api, bgapi quantiles) {
	c.mu.Lock()
	defer c.mu.Unlock()
	api, bgapi = summarize(c.api), summarize(c.bgapi)
	c.api, c.bgapi = nil, nil
	return api, bgapi
}

// runReplica serves as one engine replica until descriptor 3 is closed.
func runReplica(ctx context.Context) error {
	var cfg replicaConfig
	if err := json.Unmarshal([]byte(os.Getenv(replicaEnv)), &cfg); err != nil {
		return fmt.Errorf("bench replica: bad %s: %w", replicaEnv, err)
	}
	in, out := os.NewFile(3, "bench-requests"), os.NewFile(4, "bench-replies")
	if in == nil || out == nil {
		return errors.New("bench replica: descriptors 3 and 4 are not open; replicas are started by the benchmark itself")
	}
	defer out.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{Version: "bench"})
	times := &commandTimes{Observer: m}
	pool, err := esl.NewPool(cfg.Nodes, esl.Options{Logger: log, Observer: times, Events: cfg.Events,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("bench replica: %w", err)
	}
	// Closed after the engine stopped, which releases its sessions.
	counter := newTally()
	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{cfg.Redis}})
	defer client.Close()
	client.AddHook(counter)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); pool.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	err = pool.WaitConnected(wctx, len(cfg.Nodes))
	wcancel()
	if err != nil {
		return fmt.Errorf("bench replica: connect to FreeSWITCH: %w", err)
	}

	opt := session.Options{
		Store:   store.New(client, store.Options{Namespace: cfg.Namespace}),
		Pool:    pool,
		Replica: cfg.Replica,
		Policy:  benchPolicy(cfg.BusyRetry),
		// The simulator's second is a few milliseconds: a parked leg
		// must outlive a whole session.
		ParkTimeout:   1000 * time.Second,
		LegGrace:      2 * time.Second,
		PromptTimeout: 5 * time.Second,
		PollInterval:  cfg.PollInterval,
		Workers:       cfg.Workers,
		ClaimBatch:    cfg.ClaimBatch,
		Metrics:       m,
		Logger:        log,
	}
	numbers := simNumbers
	if cfg.FreeSWITCH {
		// Real time: the engine's own leg timeouts, and a parked leg
		// outlives B's hold (A's ring) with room to spare.
		opt.Policy, opt.ParkTimeout, opt.LegGrace = realPolicy(), 30*time.Second, 0
		opt.CalleeDial, opt.CallerDial = fsreal.DialTemplate, fsreal.DialTemplate
		numbers = realNumbers
	}
	eng, err := session.New(opt)
	if err != nil {
		return fmt.Errorf("bench replica: %w", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); eng.Run(ctx) }()

	enc := json.NewEncoder(out)
	if err := enc.Encode(reply{}); err != nil { // ready
		return fmt.Errorf("bench replica: %w", err)
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("bench replica: bad request: %w", err)
		}
		var rep reply
		switch req.Op {
		case "stats":
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			rep.HeapAlloc, rep.HeapInuse, rep.Sys = ms.HeapAlloc, ms.HeapInuse, ms.Sys
			rep.Goroutines = runtime.NumGoroutine()
			rep.RoundTrips, rep.Commands = counter.snapshot()
			rep.Lag, err = gatherHist(reg, "bgcall_scheduler_lag_seconds")
			if err == nil {
				rep.CallerOriginate, err = gatherHist(reg, "bgcall_reaction_seconds", "step", "caller_originate")
			}
			if err == nil {
				rep.Bridge, err = gatherHist(reg, "bgcall_reaction_seconds", "step", "bridge")
			}
			rep.API, rep.BGAPI = times.take()
		case "create":
			rep.Created, rep.Failed = create(ctx, eng, req, numbers)
		case "cpuprofile":
			var f *os.File
			if f, err = os.Create(req.Path); err == nil {
				err = pprof.StartCPUProfile(f)
			}
		case "cpuprofile_stop":
			pprof.StopCPUProfile()
		case "heapprofile":
			var f *os.File
			if f, err = os.Create(req.Path); err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		default:
			err = fmt.Errorf("unknown op %q", req.Op)
		}
		if err != nil {
			rep.Err = err.Error()
			err = nil
		}
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("bench replica: %w", err)
		}
	}
	return nil
}

// create makes req.Count sessions through the engine, paced at req.Rate
// per second, as the API would on behalf of callers, between the numbers
// that numbers gives session i of run req.Run.
func create(ctx context.Context, eng *session.Engine, req request, numbers func(run, i int) (caller, callee string)) (created, failed int) {
	const senders = 8
	jobs := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				caller, callee := numbers(req.Run, i)
				_, ok, err := eng.Create(ctx, session.Request{Caller: caller, Callee: callee, Source: session.SourceAPI})
				mu.Lock()
				if err != nil || !ok {
					failed++
				} else {
					created++
				}
				mu.Unlock()
			}
		}()
	}
	if req.Path != "" && req.GoroutinesAt > 0 {
		t := time.AfterFunc(req.GoroutinesAt, func() {
			if f, err := os.Create(req.Path); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
		})
		defer t.Stop()
	}
	start := time.Now()
	for k := range req.Count {
		if d := time.Until(start.Add(time.Duration(k) * time.Second / time.Duration(req.Rate))); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- req.From + k:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return created, failed
}

// replica is the benchmark's handle on one replica child.
type replica struct {
	mu   sync.Mutex // one request at a time: replies are not tagged
	name string
	cmd  *exec.Cmd
	req  *os.File
	rep  *bufio.Reader
	done chan error
}

func startReplica(o *Options, cfg replicaConfig) (*replica, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	argv := o.ReplicaCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start replica: %w", err)
		}
		argv = append([]string{exe}, os.Args[1:]...)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), replicaEnv+"="+string(b))
	if o.GOGC > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GOGC=%d", o.GOGC))
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.ExtraFiles = []*os.File{reqR, repW}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica %s: %w", cfg.Replica, err)
	}
	reqR.Close()
	repW.Close()
	r := &replica{name: cfg.Replica, cmd: cmd, req: reqW, rep: bufio.NewReader(repR), done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait(); repR.Close() }()
	repR.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := r.read(); err != nil {
		r.stop()
		return nil, fmt.Errorf("replica %s did not start: %w", cfg.Replica, err)
	}
	repR.SetReadDeadline(time.Time{})
	return r, nil
}

func (r *replica) read() (reply, error) {
	line, err := r.rep.ReadBytes('\n')
	if err != nil {
		return reply{}, fmt.Errorf("replica %s: %w", r.name, err)
	}
	var rep reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return reply{}, fmt.Errorf("replica %s: bad reply: %w", r.name, err)
	}
	if rep.Err != "" {
		return rep, fmt.Errorf("replica %s: %s", r.name, rep.Err)
	}
	return rep, nil
}

func (r *replica) call(req request) (reply, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(req)
	if _, err := r.req.Write(append(b, '\n')); err != nil {
		return reply{}, fmt.Errorf("replica %s: %w", r.name, err)
	}
	return r.read()
}

// cpu returns the child's user+system CPU time so far, from /proc.
func (r *replica) cpu() time.Duration { return processCPU(r.cmd.Process.Pid) }

// rss returns the child's resident memory, from /proc.
func (r *replica) rss() int64 { return processRSS(r.cmd.Process.Pid) }

// processCPU returns process pid's user+system CPU time so far, from /proc,
// or 0 when unknown.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticksPerSecond
}

// processRSS returns process pid's resident memory, from /proc, or 0 when
// unknown.
func processRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// stop closes the child's requests, which ends it, and waits for it.
func (r *replica) stop() error {
	r.req.Close()
	select {
	case err := <-r.done:
		return err
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("replica %s did not stop within 15s; killed", r.name)
	}
}

func profilePath(o *Options, name string) string {
	if o.ProfileDir == "" {
		return ""
	}
	return filepath.Join(o.ProfileDir, name)
}
