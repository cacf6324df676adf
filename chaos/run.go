package chaos

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/fssim"
	"bgcall/store"
)

// Run carries out one fault run and checks it. The error says the run
// could not be carried out (Redis missing, a replica that would not
// start); what the checker found is in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.fill()
	began := time.Now()
	argv := o.ReplicaCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("fault run: %w", err)
		}
		argv = append([]string{exe}, os.Args[1:]...)
	}
	ownDir := o.Dir == ""
	if ownDir {
		dir, err := os.MkdirTemp("", fmt.Sprintf("bgcall-chaos-%d-", o.Seed))
		if err != nil {
			return nil, fmt.Errorf("fault run: %w", err)
		}
		o.Dir = dir
	}
	p := newPlan(o.Seed, &o)
	rep := newReport(o.Seed, len(p.sessions))
	rep.Dir, rep.Short = o.Dir, o.Short
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "chaos seed %d: "+format+"\n", append([]any{o.Seed}, args...)...)
		}
	}

	c, err := startCluster(&o, argv, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("fault run: %w", err)
	}
	defer c.close()
	for _, sp := range p.sessions {
		for _, n := range c.nodes {
			n.SetSubscriber(sp.callee, sp.calleeSeq...)
			n.SetSubscriber(sp.caller, sp.callerSeq...)
		}
	}
	say("%d replicas, %d nodes, Redis behind a fault proxy; %d sessions and %d faults over %v; logs in %s",
		o.Replicas, o.Nodes, len(p.sessions), len(p.faults), o.Load, o.Dir)

	d := newDriver(c)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.run(ctx, p.sessions, start)
	}()
	injectAll(ctx, c, p.faults, start, rep, say)
	wg.Wait()
	if err := c.calm(); err != nil {
		return rep, fmt.Errorf("fault run: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}

	direct := redis.NewClient(&redis.Options{Addr: c.redis.Addr})
	defer direct.Close()
	st := store.New(direct, store.Options{Namespace: c.ns})
	say("load over at %v; waiting up to %v for every session to end", time.Since(start).Round(time.Second), settleSessions)
	if err := waitSessions(ctx, st, settleSessions); err != nil {
		return rep, err
	}
	say("waiting up to %v for every leg to be gone", settleLegs)
	waitLegs(ctx, c.nodes, settleLegs)

	ev, err := gather(ctx, c, st, p, d)
	if err != nil {
		return rep, err
	}
	ck := check(ev)
	rep.Checked, rep.Notes, rep.Violations = ck.checked, ck.notes, ck.violations
	for _, r := range ev.sessions {
		rep.Outcomes[string(r.s.Outcome)]++
	}
	d.mu.Lock()
	rep.Requests = d.counts
	rep.Checked[invAPI] = d.counts[requestsSent]
	for _, pr := range d.problems {
		rep.Violations = append(rep.Violations, Violation{Invariant: invAPI, Detail: pr})
	}
	d.mu.Unlock()
	rep.RepliesLost = c.repliesLost()

	rep.Checked[invProcess] = len(c.logs())
	if err := c.stop(); err != nil {
		rep.Violations = append(rep.Violations, Violation{Invariant: invProcess, Detail: err.Error()})
	}
	for _, log := range c.logs() {
		for _, line := range troubleIn(log) {
			rep.Violations = append(rep.Violations, Violation{Invariant: invProcess, Detail: filepath.Base(log) + ": " + line})
		}
	}
	for _, v := range rep.Violations {
		if r := ev.sessions[v.Session]; r != nil {
			rep.Timelines[v.Session] = describe(r, ck.legs[v.Session])
		}
	}
	rep.Took = time.Since(began)
	if rep.Passed() && ownDir {
		os.RemoveAll(o.Dir)
		rep.Dir = ""
	}
	return rep, nil
}

// injectAll injects every planned fault at its moment and logs it.
func injectAll(ctx context.Context, c *cluster, faults []faultPlan, start time.Time, rep *Report, say func(string, ...any)) {
	for _, f := range faults {
		if !sleepUntil(ctx, start.Add(f.at)) {
			return
		}
		what, ok := c.inject(f)
		now := time.Now()
		line := fmt.Sprintf("%s (+%6.2fs) %s: %s", clock(now), now.Sub(start).Seconds(), f.kind, what)
		if ok {
			rep.Faults[string(f.kind)]++
		} else {
			rep.Skipped[string(f.kind)]++
			line += " — skipped"
		}
		rep.Log = append(rep.Log, line)
		say("%s", line)
	}
}

// waitSessions waits until no session in the store is live.
func waitSessions(ctx context.Context, st *store.Store, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	for {
		live, err := liveSessions(ctx, st)
		if err == nil && live == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return nil // the checker names each one
		}
		if !sleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

func liveSessions(ctx context.Context, st *store.Store) (int, error) {
	all, err := listAll(ctx, st)
	if err != nil {
		return 0, err
	}
	live := 0
	for _, s := range all {
		if s.State.Live() {
			live++
		}
	}
	return live, nil
}

// listAll reads every session of the namespace.
func listAll(ctx context.Context, st *store.Store) ([]store.Session, error) {
	var all []store.Session
	cursor := ""
	for {
		page, next, err := st.List(ctx, store.Filter{Limit: 1000, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

// waitLegs waits until no node has a channel up.
func waitLegs(ctx context.Context, nodes []*fssim.Node, bound time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for _, n := range nodes {
		if n.WaitIdle(wctx) != nil {
			return // the checker names each one
		}
	}
}

// gather reads the final store and the simulators' record.
func gather(ctx context.Context, c *cluster, st *store.Store, p *plan, d *driver) (*evidence, error) {
	ev := &evidence{planned: p.sessions, sessions: map[string]*sessionRecord{}, domain: "chaos.test"}
	all, err := listAll(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("read the final store: %w", err)
	}
	for _, s := range all {
		tl, err := st.Timeline(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("read the timeline of %s: %w", s.ID, err)
		}
		ev.sessions[s.ID] = &sessionRecord{s: s, timeline: tl}
	}
	d.mu.Lock()
	ev.created, ev.cancels = d.created, d.cancels
	d.mu.Unlock()
	for i, n := range c.nodes {
		ev.nodes = append(ev.nodes, nodeRecord{name: c.names[i], originates: n.Originates(), commands: n.Commands(),
			bridges: n.Bridges(), chats: n.Chats(), live: n.Channels()})
	}
	return ev, nil
}

// troubleIn returns the lines of a replica's log that no healthy process
// writes: a data race, a panic, a fatal error.
func troubleIn(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "WARNING: DATA RACE") || strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			out = append(out, line)
		}
	}
	return out
}

// describe is a session's timeline and legs, for a violation's report.
func describe(r *sessionRecord, legs []leg) string {
	var b strings.Builder
	s := r.s
	fmt.Fprintf(&b, "  A=%s B=%s state=%s outcome=%s cause=%s attempts=%d owner=%q\n", s.Caller, s.Callee, s.State, s.Outcome, s.Cause, s.Attempts, s.Owner)
	for _, e := range r.timeline {
		fmt.Fprintf(&b, "  %s %-16s %-14s attempt=%d leg=%s node=%s uuid=%s cause=%s %s\n",
			clock(e.At), e.Kind, e.State, e.Attempt, e.Leg, e.Node, e.UUID, e.Cause, e.Note)
	}
	for _, l := range legs {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String()
}
