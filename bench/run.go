package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/esl"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/store"
)

// Run runs the benchmark described by opts, prints its table to w and
// writes the JSON result to opts.Out. In a process started as a replica
// (IsReplica) it serves as that replica instead and returns a zero Result.
func Run(ctx context.Context, opts Options, w io.Writer) (Result, error) {
	if IsReplica() {
		return Result{}, runReplica(ctx)
	}
	opts.fill()
	if os.Getenv("GOGC") == "" {
		// This process plays FreeSWITCH, which has no garbage collector:
		// its pauses would be counted in the reaction times it measures.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	b, err := newBench(ctx, &opts)
	if err != nil {
		return Result{}, err
	}
	defer b.close()
	start := time.Now()
	res, err := b.run(ctx)
	res.Seconds = round2(time.Since(start).Seconds())
	res.Machine.LoadAtEnd = loadAverage()
	if err != nil {
		return res, err
	}
	res.Checks = checks(res)
	printTable(w, res)
	if opts.Out != "-" {
		if err := writeJSON(opts.Out, res); err != nil {
			return res, err
		}
		fmt.Fprintf(w, "\nwritten to %s\n", opts.Out)
	}
	return res, nil
}

// bench holds what every phase shares: the simulator, Redis, and the
// benchmark's own bookkeeping client, whose commands are subtracted from
// the server's counts.
type bench struct {
	o       *Options
	redis   *redistest.Server
	rc      redis.UniversalClient
	own     *tally
	nodes   []*fssim.Node
	eslNode []esl.Node
}

func newBench(ctx context.Context, o *Options) (*bench, error) {
	b := &bench{o: o, own: newTally()}
	srv, err := redistest.StartServer()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	b.redis = srv
	b.rc = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr}, PoolSize: 128})
	b.rc.AddHook(b.own)
	nodes, err := fssim.StartCluster(o.Nodes, fssim.Options{
		Hostname: "fs", Second: o.SimSecond, PromptDuration: 50 * time.Millisecond,
		// Reaction times and lateness are read from the record: keep all.
		RecordLimit: 1 << 22,
	})
	if err != nil {
		b.close()
		return nil, fmt.Errorf("bench: start simulator: %w", err)
	}
	b.nodes = nodes
	for i, n := range nodes {
		b.eslNode = append(b.eslNode, esl.Node{Name: fmt.Sprintf("fs%d", i+1), Addr: n.Addr(), Password: n.Password()})
	}
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			b.close()
			return nil, fmt.Errorf("bench: profile dir: %w", err)
		}
	}
	return b, nil
}

func (b *bench) close() {
	for _, n := range b.nodes {
		n.Close()
	}
	if b.rc != nil {
		b.rc.Close()
	}
	if b.redis != nil {
		b.redis.Stop()
	}
}

func (b *bench) run(ctx context.Context) (Result, error) {
	o := b.o
	res := Result{Machine: machine(ctx, b.rc), Setup: Setup{
		Nodes: o.Nodes, Replicas: o.Replicas, SimSecondMS: ms(o.SimSecond),
		Replica: "child process per replica; CPU from /proc/<pid>/stat, heap from runtime.MemStats after GC",
		Mix:     mixDescription(), LoadSeconds: o.Duration.Seconds(),
	}}
	for k, rate := range o.Rates {
		o.Logger.Info("throughput run", "rate", rate, "duration", o.Duration)
		tr, err := b.throughput(ctx, k, rate)
		if err != nil {
			return res, err
		}
		res.Throughput = append(res.Throughput, tr)
	}
	fs, err := b.realFreeSWITCH(ctx)
	res.FreeSWITCH = fs
	if err != nil {
		return res, err
	}
	if err := b.waitingAndLateness(ctx, &res); err != nil {
		return res, err
	}
	return res, nil
}

// replicaConfig returns the configuration of replica i in namespace ns.
func (b *bench) replicaConfig(i int, ns string) replicaConfig {
	c := replicaConfig{
		Replica: fmt.Sprintf("bench-%s-%d", ns, i+1), Redis: b.redis.Addr, Namespace: ns, Nodes: b.eslNode,
		PollInterval: b.o.PollInterval, Workers: b.o.Workers, ClaimBatch: b.o.ClaimBatch,
		LogLevel: b.o.LogLevel, Events: b.o.Events,
	}
	if ns == waitNS {
		// A busy B in the lateness phase is retried after the whole run:
		// each due session is one retry, then waits again.
		c.BusyRetry = 30 * time.Minute
	}
	return c
}

// startReplicas starts the replicas of namespace ns; configure, when set,
// changes each one's configuration.
func (b *bench) startReplicas(ns string, configure func(*replicaConfig)) ([]*replica, error) {
	var rs []*replica
	for i := range b.o.Replicas {
		c := b.replicaConfig(i, ns)
		if configure != nil {
			configure(&c)
		}
		r, err := startReplica(b.o, c)
		if err != nil {
			stopAll(rs)
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func stopAll(rs []*replica) {
	for _, r := range rs {
		r.stop()
	}
}

// snapshot is the state of every counter at one moment.
type snapshot struct {
	at         time.Time
	server     counts // INFO commandstats
	own        counts // the benchmark's own client
	roundTrips int64  // the replicas' clients
	replicas   counts
	cpu        time.Duration
	lag        hist
	// Reaction times as the replicas measure them (bgcall_reaction_seconds).
	callerOriginate, bridge hist
	heap                    uint64
	redisCPU                time.Duration
	api, bgapi              quantiles // the first replica's, since the previous snapshot
}

func (b *bench) snap(ctx context.Context, rs []*replica) (snapshot, error) {
	s := snapshot{replicas: counts{}}
	for _, r := range rs {
		rep, err := r.call(request{Op: "stats"})
		if err != nil {
			return s, err
		}
		s.roundTrips += rep.RoundTrips
		for k, v := range rep.Commands {
			s.replicas[k] += v
		}
		s.cpu += r.cpu()
		s.heap += rep.HeapAlloc
		if r == rs[0] {
			s.api, s.bgapi = rep.API, rep.BGAPI
		}
		s.lag = s.lag.add(rep.Lag)
		s.callerOriginate = s.callerOriginate.add(rep.CallerOriginate)
		s.bridge = s.bridge.add(rep.Bridge)
	}
	_, s.own = b.own.snapshot()
	var err error
	if s.server, err = commandStats(ctx, b.rc); err != nil {
		return s, err
	}
	s.redisCPU, err = redisCPU(ctx, b.rc)
	s.at = time.Now()
	return s, err
}

// commands are the server's commands between two snapshots, less the
// benchmark's own and less those of clients not under test (ignore).
func commandsBetween(a, z snapshot, ignore counts) counts {
	d := z.server.sub(a.server)
	delete(d, "info")
	for k, v := range z.own.sub(a.own) {
		d[k] -= v
	}
	for k, v := range ignore {
		d[k] -= v
	}
	for k, v := range d {
		if v <= 0 {
			delete(d, k)
		}
	}
	return d
}

// waitIdle waits until no session of st is live but the waiting ones
// expected, or the timeout passes.
func waitIdle(ctx context.Context, st *store.Store, waiting int64, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := st.LiveCounts(ctx)
		if err != nil {
			return false, err
		}
		live := int64(0)
		for s, n := range c {
			if s != store.Waiting {
				live += n
			}
		}
		if live == 0 && c[store.Waiting] <= waiting {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeJSON(path string, res Result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

func per(n, d float64) float64 {
	if d == 0 {
		return 0
	}
	return round2(n / d)
}
