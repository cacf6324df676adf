package bench

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

func mixDescription() string {
	var parts []string
	for _, c := range calleeMix {
		parts = append(parts, fmt.Sprintf("%d%% %s", c.share, c.name))
	}
	return fmt.Sprintf("B: %s; A misses %d%% of the calls B answered, else talks %v; ring %v, rings time out after 3 simulator seconds, at most 5 attempts",
		strings.Join(parts, ", "), callerMissShare, talkTime, answerRing)
}

// throughput offers rate new sessions per second for o.Duration to the
// replicas, waits for every session to finish, and measures.
func (b *bench) throughput(ctx context.Context, run, rate int) (ThroughputRun, error) {
	o := b.o
	tr := ThroughputRun{OfferedPerSec: rate}
	total := rate * int(o.Duration/time.Millisecond) / 1000
	script(b.nodes, run, 0, total)
	ns := fmt.Sprintf("tp%d", run)
	rs, err := b.startReplicas(ns)
	if err != nil {
		return tr, err
	}
	defer stopAll(rs)
	st := store.New(b.rc, store.Options{Namespace: ns})

	if p := profilePath(o, fmt.Sprintf("throughput-%d.cpu.pprof", run)); p != "" {
		if _, err := rs[0].call(request{Op: "cpuprofile", Path: p}); err != nil {
			return tr, err
		}
	}
	if p := profilePath(o, fmt.Sprintf("throughput-%d.sim.cpu.pprof", run)); p != "" {
		// The simulator's side of the same run, in this process.
		f, err := os.Create(p)
		if err != nil {
			return tr, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err == nil {
			defer pprof.StopCPUProfile()
		}
	}
	before, err := b.snap(ctx, rs)
	if err != nil {
		return tr, err
	}
	// Each replica creates its share, as if the API of each took requests.
	share := (total + len(rs) - 1) / len(rs)
	errs := make(chan error, len(rs))
	created := make(chan int, len(rs))
	for i, r := range rs {
		from, n := i*share, min(share, total-i*share)
		go func() {
			// Where the replica's goroutines wait, halfway through the load.
			rep, err := r.call(request{Op: "create", Run: run, From: from, Count: n, Rate: max(rate/len(rs), 1),
				Path: profilePath(o, fmt.Sprintf("throughput-%d-%s.goroutines.txt", run, r.name)), GoroutinesAt: o.Duration / 2})
			if err == nil && rep.Failed > 0 {
				err = fmt.Errorf("replica %s: %d of %d sessions not created", r.name, rep.Failed, n)
			}
			errs <- err
			created <- rep.Created
		}()
	}
	for range rs {
		if err := <-errs; err != nil {
			return tr, err
		}
		tr.Sessions += <-created
	}
	done, err := waitIdle(ctx, st, 0, 3*time.Minute)
	if err != nil {
		return tr, err
	}
	if !done {
		o.Logger.Warn("sessions still live 3 minutes after the load", "namespace", ns)
	}
	after, err := b.snap(ctx, rs)
	if err != nil {
		return tr, err
	}
	if o.ProfileDir != "" {
		if _, err := rs[0].call(request{Op: "cpuprofile_stop"}); err != nil {
			return tr, err
		}
		// Its alloc_space covers the whole run: what feeds the GC.
		if _, err := rs[0].call(request{Op: "heapprofile", Path: profilePath(o, fmt.Sprintf("throughput-%d.heap.pprof", run))}); err != nil {
			return tr, err
		}
	}
	tr.DrainSeconds = round2(after.at.Sub(before.at).Seconds() - o.Duration.Seconds())

	sessions, err := listAll(ctx, st)
	if err != nil {
		return tr, err
	}
	tr.Outcomes = map[string]int{}
	ids := make(map[string]bool, len(sessions))
	var attempts int
	var lastEnd time.Time
	for _, s := range sessions {
		ids[s.ID] = true
		tr.Transitions += s.Version - 1
		attempts += s.Attempts
		if s.State != store.Finished {
			tr.Unfinished++
			continue
		}
		tr.Outcomes[string(s.Outcome)]++
		if s.FinishedAt.After(lastEnd) {
			lastEnd = s.FinishedAt
		}
	}
	n := float64(len(sessions))
	tr.TransitionsPerSess = per(float64(tr.Transitions), n)
	tr.AttemptsPerSession = per(float64(attempts), n)
	tr.SustainedPerSec = sustained(sessions, before.at, o.Duration)
	tr.TransitionsPerSec = round2(tr.SustainedPerSec * float64(tr.Transitions) / max(n, 1))

	cmds := commandsBetween(before, after, nil)
	tr.Commands = cmds
	tr.CommandsPerSession = per(float64(cmds.total()), n)
	tr.CommandsPerTrans = per(float64(cmds.total()), float64(tr.Transitions))
	rt := float64(after.roundTrips - before.roundTrips)
	tr.RoundTripsPerSession = per(rt, n)
	tr.RoundTripsPerTrans = per(rt, float64(tr.Transitions))
	tr.CPUSecPer1000 = per((after.cpu-before.cpu).Seconds()*1000, n)
	tr.RedisCPUmsPerSession = per(float64(after.redisCPU-before.redisCPU)/1e6, n)
	tr.ESLAPI, tr.ESLBGAPI = after.api, after.bgapi
	tr.CalleeEndToEnd, tr.CallerEndToEnd = reactions(b.nodes, ids)
	tr.CalleeReaction = after.callerOriginate.sub(before.callerOriginate).summary()
	tr.CallerReaction = after.bridge.sub(before.bridge).summary()
	return tr, nil
}

// sustained is the rate at which sessions finished while the load was
// offered, leaving out the first seconds (nothing finishes before the
// first session's life is over) when the run is long enough.
func sustained(sessions []store.Session, start time.Time, d time.Duration) float64 {
	from, to := start, start.Add(d)
	if d >= 10*time.Second {
		from = start.Add(3 * time.Second)
	} else {
		for _, s := range sessions {
			if s.FinishedAt.After(to) {
				to = s.FinishedAt
			}
		}
	}
	n := 0
	for _, s := range sessions {
		if s.State == store.Finished && !s.FinishedAt.Before(from) && !s.FinishedAt.After(to) {
			n++
		}
	}
	return per(float64(n), to.Sub(from).Seconds())
}

func listAll(ctx context.Context, st *store.Store) ([]store.Session, error) {
	var all []store.Session
	cursor := ""
	for {
		page, next, err := st.List(ctx, store.Filter{Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

// reactions measures, at the simulator, from B's CHANNEL_ANSWER to the
// caller originate received, and from A's CHANNEL_ANSWER to uuid_bridge
// received, for the sessions in ids.
func reactions(nodes []*fssim.Node, ids map[string]bool) (callee, caller quantiles) {
	answered := map[string]time.Time{} // session -> B answered
	callerRec := map[string]fssim.OriginateRecord{}
	bridgedAt := map[string]time.Time{} // leg -> bridge
	for _, n := range nodes {
		for _, r := range n.Originates() {
			id := r.Vars[session.VarSession]
			if !ids[id] {
				continue
			}
			switch r.Vars[session.VarLeg] {
			case "callee":
				if !r.Answered.IsZero() {
					answered[id] = r.Answered
				}
			case "caller":
				callerRec[id] = r
			}
		}
		for _, br := range n.Bridges() {
			bridgedAt[br.A], bridgedAt[br.B] = br.At, br.At
		}
	}
	var toOriginate, toBridge []time.Duration
	for id, r := range callerRec {
		if a, ok := answered[id]; ok {
			toOriginate = append(toOriginate, r.Start.Sub(a))
		}
		if at, ok := bridgedAt[r.UUID]; ok && !r.Answered.IsZero() {
			toBridge = append(toBridge, at.Sub(r.Answered))
		}
	}
	return summarize(toOriginate), summarize(toBridge)
}
