package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

const (
	waitNS    = "w"
	farAhead  = 30 * 24 * time.Hour
	fillConns = 64
)

// waitingAndLateness fills one namespace with sessions due far ahead,
// measuring Redis memory and controller heap at each level of o.Waiting;
// at o.LatenessWaiting it measures scheduler lateness, then the same load
// through asynq.
func (b *bench) waitingAndLateness(ctx context.Context, res *Result) error {
	o := b.o
	rs, err := b.startReplicas(waitNS, nil)
	if err != nil {
		return err
	}
	defer func() { stopAll(rs) }()
	st := store.New(b.rc, store.Options{Namespace: waitNS})
	levels := slices.Clone(o.Waiting)
	slices.Sort(levels)
	if !slices.Contains(levels, o.LatenessWaiting) {
		levels = append(levels, o.LatenessWaiting)
		slices.Sort(levels)
	}
	have := 0
	var bytes, keys int64
	for _, level := range levels {
		mem0, keys0, err := usedMemory(ctx, b.rc)
		if err != nil {
			return err
		}
		o.Logger.Info("filling waiting sessions", "from", have, "to", level)
		t0 := time.Now()
		if err := fill(ctx, st, have, level-have); err != nil {
			return err
		}
		took := time.Since(t0)
		mem1, keys1, err := usedMemory(ctx, b.rc)
		if err != nil {
			return err
		}
		bytes, keys = bytes+mem1-mem0, keys+keys1-keys0
		fillRate := float64(level-have) / took.Seconds()
		have = level
		rep, err := rs[0].call(request{Op: "stats"})
		if err != nil {
			return err
		}
		if p := profilePath(o, fmt.Sprintf("heap-%d.pprof", level)); p != "" {
			if _, err := rs[0].call(request{Op: "heapprofile", Path: p}); err != nil {
				return err
			}
		}
		if slices.Contains(o.Waiting, level) {
			res.Waiting = append(res.Waiting, WaitingLevel{
				Waiting: level, RedisBytesPerSess: per(float64(bytes), float64(level)),
				KeysPerSession: per(float64(keys), float64(level)), RedisUsedMiB: mib(mem1),
				HeapMiB: mib(int64(rep.HeapAlloc)), HeapInuseMiB: mib(int64(rep.HeapInuse)), RSSMiB: mib(rs[0].rss()),
				FillPerSec: round2(fillRate),
			})
		}
		if level == o.LatenessWaiting {
			lr, err := b.lateness(ctx, rs, st, level, fillRate)
			if err != nil {
				return err
			}
			res.Lateness = &lr
			if err := b.asynqRuns(ctx, rs, res, level, fillRate); err != nil {
				return err
			}
			// A fresh replica for the higher levels, so that its heap
			// shows what waiting sessions cost and not the load above.
			stopAll(rs)
			if rs, err = b.startReplicas(waitNS, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func mib(n int64) float64 { return round2(float64(n) / (1 << 20)) }

// fill creates n sessions due far ahead, numbered from from, over many
// connections at once.
func fill(ctx context.Context, st *store.Store, from, n int) error {
	now := time.Now()
	return inParallel(from, from+n, func(i int) error {
		s := store.Session{Caller: waitCaller(i), Callee: waitCallee(i), Source: session.SourceAPI,
			DueAt: now.Add(farAhead), DeadlineAt: now.Add(farAhead + 2*time.Hour)}
		if _, _, err := st.Create(ctx, s, store.CreatedEntry(now, s.Source), store.Limits{}, now); err != nil {
			return fmt.Errorf("fill waiting sessions: %w", err)
		}
		return nil
	})
}

// inParallel calls f for every i in [from, end) on fillConns goroutines,
// stopping at the first error, which it returns.
func inParallel(from, end int, f func(i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range fillConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(end) {
					return
				}
				if err := f(int(i)); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(end))
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// lateness makes o.DueRate attempts fall due per second for o.DueDuration
// while `waiting` sessions wait, and measures how late each started. B is
// busy, so each attempt is a retry (claim, originate, USER_BUSY, waiting
// again, due after the run): what a retry costs Redis, beside asynq's job.
// A then cancels them, so that later levels count only waiting sessions.
func (b *bench) lateness(ctx context.Context, rs []*replica, st *store.Store, waiting int, fillRate float64) (LatenessRun, error) {
	o := b.o
	m := o.DueRate * int(o.DueDuration/time.Millisecond) / 1000
	lr := LatenessRun{Waiting: waiting, DuePerSec: o.DueRate, Attempts: m}
	for _, n := range b.nodes {
		n.SetDefault(alwaysBusy)
	}
	// Far enough ahead that every session exists before the first is due.
	t0 := time.Now().Add(time.Second + time.Duration(1.5*float64(m)/fillRate*float64(time.Second)))
	due := make(map[string]time.Time, m)
	var mu sync.Mutex
	c0, err := commandStats(ctx, b.rc)
	if err != nil {
		return lr, err
	}
	_, own0 := b.own.snapshot()
	now := time.Now()
	if err := inParallel(0, m, func(i int) error {
		at := t0.Add(time.Duration(i) * time.Second / time.Duration(o.DueRate))
		s := store.Session{Caller: lateCaller(i), Callee: lateCallee(i), Source: session.SourceAPI,
			DueAt: at, DeadlineAt: at.Add(time.Hour)}
		got, _, err := st.Create(ctx, s, store.CreatedEntry(now, s.Source), store.Limits{}, now)
		if err != nil {
			return fmt.Errorf("create due sessions: %w", err)
		}
		mu.Lock()
		due[got.ID] = at
		mu.Unlock()
		return nil
	}); err != nil {
		return lr, err
	}
	c1, err := commandStats(ctx, b.rc)
	if err != nil {
		return lr, err
	}
	_, own1 := b.own.snapshot()
	lr.CreateCommands = per(float64(commandsBetween(snapshot{server: c0, own: own0}, snapshot{server: c1, own: own1}, nil).total()), float64(m))
	if time.Now().After(t0) {
		o.Logger.Warn("due sessions were created after the first fell due; lateness is overstated")
	}
	time.Sleep(time.Until(t0.Add(-200 * time.Millisecond)))

	if p := profilePath(o, "lateness.cpu.pprof"); p != "" {
		if _, err := rs[0].call(request{Op: "cpuprofile", Path: p}); err != nil {
			return lr, err
		}
	}
	before, err := b.snap(ctx, rs)
	if err != nil {
		return lr, err
	}
	time.Sleep(time.Until(t0.Add(o.DueDuration)))
	if err := waitRetried(ctx, st, b.nodes, due, int64(waiting+m), time.Minute); err != nil {
		return lr, err
	}
	after, err := b.snap(ctx, rs)
	if err != nil {
		return lr, err
	}
	if o.ProfileDir != "" {
		if _, err := rs[0].call(request{Op: "cpuprofile_stop"}); err != nil {
			return lr, err
		}
	}
	lr.Commands = commandsBetween(before, after, nil)
	lr.CommandsPerAttempt = per(float64(lr.Commands.total()), float64(m))
	lr.RoundTripsPerAtt = per(float64(after.roundTrips-before.roundTrips), float64(m))
	lr.CPUSecPer1000 = per((after.cpu-before.cpu).Seconds()*1000, float64(m))
	lr.RedisCPUmsPerAtt = per(float64(after.redisCPU-before.redisCPU)/1e6, float64(m))
	lr.ESLBGAPI = after.bgapi
	lr.Claim = after.lag.sub(before.lag).summary()
	lr.Originate = originateLateness(b.nodes, due)
	if err := cancelAll(ctx, st, due); err != nil {
		return lr, err
	}
	return lr, nil
}

// waitRetried waits until every session in due has been dialled and is
// waiting again, total sessions waiting and none live.
func waitRetried(ctx context.Context, st *store.Store, nodes []*fssim.Node, due map[string]time.Time, total int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		idle, err := waitIdle(ctx, st, total, 0)
		if err != nil {
			return err
		}
		if idle && originateLateness(nodes, due).N == len(due) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lateness: not every due session was dialled and waiting again within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cancelAll cancels the sessions in due as A would (through the store,
// as the API does), so they stop waiting.
func cancelAll(ctx context.Context, st *store.Store, due map[string]time.Time) error {
	ids := make([]string, 0, len(due))
	for id := range due {
		ids = append(ids, id)
	}
	return inParallel(0, len(ids), func(i int) error {
		s, err := st.Get(ctx, ids[i])
		if err != nil {
			return fmt.Errorf("cancel %s: %w", ids[i], err)
		}
		now := time.Now()
		next := s
		next.State, next.Outcome, next.FinishedAt, next.UpdatedAt = store.Finished, store.Cancelled, now, now
		_, err = st.Apply(ctx, next, s.Version, []store.Entry{{At: now, Kind: store.KindCancelled, State: store.Finished, Note: "cancelled while waiting"}}, now)
		if err != nil {
			return fmt.Errorf("cancel %s: %w", ids[i], err)
		}
		return nil
	})
}

// originateLateness is, per session in due, the first originate received
// by the simulator minus the session's due time.
func originateLateness(nodes []*fssim.Node, due map[string]time.Time) quantiles {
	first := map[string]time.Time{}
	for _, n := range nodes {
		for _, r := range n.Originates() {
			id := r.Vars[session.VarSession]
			if _, ok := due[id]; !ok {
				continue
			}
			if t, ok := first[id]; !ok || r.Start.Before(t) {
				first[id] = r.Start
			}
		}
	}
	var ds []time.Duration
	for id, t := range first {
		ds = append(ds, t.Sub(due[id]))
	}
	return summarize(ds)
}
