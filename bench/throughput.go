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
// replicas on the simulator, waits for every session to finish, and
// measures.
func (b *bench) throughput(ctx context.Context, run, rate int) (ThroughputRun, error) {
	total := rate * int(b.o.Duration/time.Millisecond) / 1000
	script(b.nodes, run, 0, total)
	tr, sessions, err := b.offer(ctx, load{
		ns: fmt.Sprintf("tp%d", run), profile: fmt.Sprintf("throughput-%d", run), run: run, rate: rate,
		duration: b.o.Duration, warmUp: simWarmUp, drain: 3 * time.Minute,
	})
	if err != nil {
		return tr, err
	}
	ids := make(map[string]bool, len(sessions))
	for _, s := range sessions {
		ids[s.ID] = true
	}
	tr.CalleeEndToEnd, tr.CallerEndToEnd = reactions(b.nodes, ids)
	return tr, nil
}

// simWarmUp is how long after the load starts the simulator's sessions
// finish at the rate offered: nothing finishes before the first session's
// life is over.
const simWarmUp = 3 * time.Second

// load is one full-session run: where it goes and what it offers.
type load struct {
	ns      string // the store namespace, one per run
	profile string // the prefix of its profile files
	run     int    // numbers the sessions' far ends
	rate    int
	// duration is how long the load is offered; warmUp how long after
	// its start sessions finish at the rate offered (see sustained); drain
	// how long after it the run waits for the last session to finish.
	duration, warmUp, drain time.Duration
	// configure, when set, changes each replica's configuration.
	configure func(*replicaConfig)
	// idle, when set, runs once every session finished, before the
	// replicas stop.
	idle func(context.Context) error
}

// offer offers l to new replicas, waits for every session to finish, and
// measures what the FreeSWITCH of the run does not change: throughput,
// controller and Redis cost, ESL round trips, reaction times and outcomes.
// It returns the run's sessions as stored at the end.
func (b *bench) offer(ctx context.Context, l load) (ThroughputRun, []store.Session, error) {
	o := b.o
	tr := ThroughputRun{OfferedPerSec: l.rate}
	total := l.rate * int(l.duration/time.Millisecond) / 1000
	rs, err := b.startReplicas(l.ns, l.configure)
	if err != nil {
		return tr, nil, err
	}
	defer stopAll(rs)
	st := store.New(b.rc, store.Options{Namespace: l.ns})

	if p := profilePath(o, l.profile+".cpu.pprof"); p != "" {
		if _, err := rs[0].call(request{Op: "cpuprofile", Path: p}); err != nil {
			return tr, nil, err
		}
	}
	if p := profilePath(o, l.profile+".sim.cpu.pprof"); p != "" {
		// The simulator's side of the same run, in this process.
		f, err := os.Create(p)
		if err != nil {
			return tr, nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err == nil {
			defer pprof.StopCPUProfile()
		}
	}
	before, err := b.snap(ctx, rs)
	if err != nil {
		return tr, nil, err
	}
	// Each replica creates its share, as if the API of each took requests.
	share := (total + len(rs) - 1) / len(rs)
	errs := make(chan error, len(rs))
	created := make(chan int, len(rs))
	for i, r := range rs {
		from, n := i*share, min(share, total-i*share)
		go func() {
			// Where the replica's goroutines wait, halfway through the load.
			rep, err := r.call(request{Op: "create", Run: l.run, From: from, Count: n, Rate: max(l.rate/len(rs), 1),
				Path: profilePath(o, fmt.Sprintf("%s-%s.goroutines.txt", l.profile, r.name)), GoroutinesAt: l.duration / 2})
			if err == nil && rep.Failed > 0 {
				err = fmt.Errorf("replica %s: %d of %d sessions not created", r.name, rep.Failed, n)
			}
			errs <- err
			created <- rep.Created
		}()
	}
	for range rs {
		if err := <-errs; err != nil {
			return tr, nil, err
		}
		tr.Sessions += <-created
	}
	done, err := waitIdle(ctx, st, 0, l.drain)
	if err != nil {
		return tr, nil, err
	}
	if !done {
		o.Logger.Warn("sessions still live after the load", "namespace", l.ns, "waited", l.drain)
	}
	if l.idle != nil {
		if err := l.idle(ctx); err != nil {
			return tr, nil, err
		}
	}
	after, err := b.snap(ctx, rs)
	if err != nil {
		return tr, nil, err
	}
	if o.ProfileDir != "" {
		if _, err := rs[0].call(request{Op: "cpuprofile_stop"}); err != nil {
			return tr, nil, err
		}
		// Its alloc_space covers the whole run: what feeds the GC.
		if _, err := rs[0].call(request{Op: "heapprofile", Path: profilePath(o, l.profile+".heap.pprof")}); err != nil {
			return tr, nil, err
		}
	}
	tr.DrainSeconds = round2(after.at.Sub(before.at).Seconds() - l.duration.Seconds())

	sessions, err := listAll(ctx, st)
	if err != nil {
		return tr, nil, err
	}
	tr.Outcomes = map[string]int{}
	var attempts int
	for _, s := range sessions {
		tr.Transitions += s.Version - 1
		attempts += s.Attempts
		if s.State != store.Finished {
			tr.Unfinished++
			continue
		}
		tr.Outcomes[string(s.Outcome)]++
	}
	n := float64(len(sessions))
	tr.TransitionsPerSess = per(float64(tr.Transitions), n)
	tr.AttemptsPerSession = per(float64(attempts), n)
	tr.SustainedPerSec = sustained(sessions, before.at, l.duration, l.warmUp)
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
	tr.CalleeReaction = after.callerOriginate.sub(before.callerOriginate).summary()
	tr.CallerReaction = after.bridge.sub(before.bridge).summary()
	return tr, sessions, nil
}

// sustained is the rate at which sessions finished while the load was
// offered, leaving out the first warmUp (nothing finishes before the first
// session's life is over) when the run is long enough.
func sustained(sessions []store.Session, start time.Time, d, warmUp time.Duration) float64 {
	from, to := start, start.Add(d)
	if d >= warmUp+7*time.Second {
		from = start.Add(warmUp)
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
