package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"bgcall/internal/redistest"

	"github.com/redis/go-redis/v9"
)

// TestLifecycleCommands walks sessions through the life of a retried
// background call (create, claim, dial, back to waiting, claim and dial in
// one step as the engine does, finish, forgotten after retention) one step at a time, on a server of its
// own, and logs the Redis commands and CPU each step costs per session (run
// with -v to see the table). The bounds catch regressions; the table is what
// to compare before and after a change to a script.
func TestLifecycleCommands(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	// CPU figures are wall time inside Redis, which a busy machine
	// inflates: the best of a few rounds is the one to compare.
	var steps []step
	for round := range 5 {
		got := lifecycle(t, c, fmt.Sprintf("l%d", round), 200)
		if steps == nil {
			steps = got
			continue
		}
		for i := range steps {
			steps[i].usec = min(steps[i].usec, got[i].usec)
			steps[i].cpu = min(steps[i].cpu, got[i].cpu)
		}
	}
	var total, usec, cpu float64
	for _, s := range steps {
		t.Logf("%-10s %5.1f commands %6.1f µs script %6.1f µs cpu  %s", s.name, s.total, s.usec, s.cpu, s.byName())
		total, usec, cpu = total+s.total, usec+s.usec, cpu+s.cpu
	}
	t.Logf("%-10s %5.1f commands %6.1f µs script %6.1f µs cpu", "lifecycle", total, usec, cpu)
	// A claim reads its request token's replay record (GET) and, when it
	// claimed something, writes it (SET).
	bounds := map[string]float64{
		"create": 11, "claim": 9, "dialing": 6, "waiting": 9, "start2": 11, "finished": 15, "gc": 4,
	}
	for _, s := range steps {
		if s.total > bounds[s.name]+0.5 { // +0.5: a script loaded once (EVAL after NOSCRIPT)
			t.Errorf("%s costs %.1f commands, over %.0f", s.name, s.total, bounds[s.name])
		}
	}
}

// step is what one lifecycle step costs per session.
type step struct {
	name  string
	total float64            // commands, those run by scripts included
	usec  float64            // Redis CPU in scripts (EVAL, EVALSHA), per commandstats
	cpu   float64            // Redis process CPU, per INFO cpu: everything
	by    map[string]float64 // commands by name
}

func (s step) byName() string {
	names := make([]string, 0, len(s.by))
	for k, v := range s.by {
		names = append(names, fmt.Sprintf("%s %.2g", k, v))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// lifecycle runs n sessions of namespace ns through each step in turn,
// every session taking the step before the next step starts, and returns
// the cost of each step per session. Session i falls due i milliseconds
// after the others' step began, and is claimed then with the engine's
// default batch size: a replica's claims when attempts fall due one by
// one. Nothing else may use the server meanwhile.
func lifecycle(t testing.TB, c redis.UniversalClient, ns string, n int) []step {
	ctx := context.Background()
	st := New(c, Options{Namespace: ns, Retention: time.Hour})
	// Warm up: load the scripts and create the shared keys.
	warm := mustCreate(t, st, newSession("+10", "+11"), t0)
	if _, _, err := st.ClaimDue(ctx, "r1", t0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, Session{ID: warm.ID, Caller: warm.Caller, Callee: warm.Callee, CreatedAt: t0, State: Finished}, 99, nil, t0); err == nil {
		t.Fatal("warm-up Apply at a wrong version succeeded")
	}

	var out []step
	measure := func(name string, op func(i int)) {
		calls0, usec0 := commandStats(t, c)
		cpu0 := redisCPUUsec(t, c)
		for i := range n {
			op(i)
		}
		cpu1 := redisCPUUsec(t, c)
		calls1, usec1 := commandStats(t, c)
		s := step{name: name, by: make(map[string]float64), usec: float64(usec1-usec0) / float64(n), cpu: float64(cpu1-cpu0) / float64(n)}
		for k, v := range calls1 {
			if d := float64(v-calls0[k]) / float64(n); d > 0 && k != "info" {
				s.by[k] = d
				s.total += d
			}
		}
		out = append(out, s)
	}

	sessions := make([]Session, n)
	byID := make(map[string]int, n)
	measure("create", func(i int) {
		s := newSession(fmt.Sprintf("+49151%07d", i), fmt.Sprintf("+49160%07d", i))
		s.DueAt, s.DeadlineAt = t0.Add(time.Duration(i)*time.Millisecond), t0.Add(time.Hour)
		first := Entry{Kind: KindCreated, Note: "source api"}
		got, _, err := st.Create(ctx, s, first, Limits{PerCaller: 3, PerCallee: 3}, t0)
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = got
		byID[got.ID] = i
	})
	claim := func(start time.Time) func(int) {
		return func(i int) {
			got, _, err := st.ClaimDue(ctx, "r1", start.Add(time.Duration(i)*time.Millisecond), 256)
			if err != nil || len(got) != 1 {
				t.Fatal(got, err)
			}
			sessions[byID[got[0].ID]] = got[0]
		}
	}
	apply := func(change func(s *Session) []Entry, now time.Time) func(int) {
		return func(i int) {
			next := sessions[i]
			entries := change(&next)
			got, err := st.Apply(ctx, next, sessions[i].Version, entries, now)
			if err != nil {
				t.Fatal(err)
			}
			sessions[i] = got
		}
	}
	dial := func(attempt int) func(s *Session) []Entry {
		return func(s *Session) []Entry {
			leg := fmt.Sprintf("0e5bd3a2-5a4c-4c6e-8a53-3f0b5d3f4b%02d", attempt)
			s.State, s.Attempts, s.Node, s.CalleeLeg = DialingCallee, attempt, "fs1", leg
			return []Entry{{Kind: KindAttempt, Leg: "callee", Node: "fs1", UUID: leg, Attempt: attempt}}
		}
	}
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	measure("claim", claim(t0))
	measure("dialing", apply(dial(1), t0))
	measure("waiting", apply(func(s *Session) []Entry {
		s.State, s.Owner, s.DueAt, s.CalleeLeg, s.Node = Waiting, "", t1.Add(time.Duration(byID[s.ID])*time.Millisecond), "", ""
		return []Entry{
			{Kind: KindAttemptEnded, Leg: "callee", Attempt: 1, Node: "fs1", Cause: "USER_BUSY"},
			{Kind: KindScheduled, Attempt: 2, Note: "retry in 1s"},
		}
	}, t0))
	// The engine claims and starts the attempt in one script.
	measure("start2", func(i int) {
		got, _, err := st.ClaimAndStart(ctx, "r1", t1.Add(time.Duration(i)*time.Millisecond), 256, []string{"fs1"})
		if err != nil || len(got) != 1 || got[0].State != DialingCallee || got[0].Attempts != 2 {
			t.Fatal(got, err)
		}
		sessions[byID[got[0].ID]] = got[0]
	})
	measure("finished", apply(func(s *Session) []Entry {
		s.State, s.Outcome, s.Cause, s.FinishedAt, s.Owner = Finished, Failed, "UNALLOCATED_NUMBER", t2, ""
		return []Entry{{Kind: KindFinished, State: Finished, Cause: "UNALLOCATED_NUMBER"}}
	}, t2))
	gone := false
	measure("gc", func(int) {
		// One scheduler pass forgets them all (n is below the gc batch);
		// the others find nothing to forget.
		if !gone {
			gone = true
			if _, _, err := st.ClaimDue(ctx, "r1", t2.Add(2*time.Hour), 0); err != nil {
				t.Fatal(err)
			}
		}
	})
	// The steps did what they say: nothing is left.
	if n := c.ZCard(ctx, st.indexKey()).Val(); n != 1 {
		t.Errorf("index holds %d sessions after gc, want the warm-up one", n)
	}
	if counts, err := st.LiveCounts(ctx); err != nil || counts[Waiting] != 1 || counts[DialingCallee] != 0 {
		t.Errorf("live counts after the lifecycle = %v, %v", counts, err)
	}
	return out
}

// redisCPUUsec returns the CPU time redis-server has used, from INFO cpu.
func redisCPUUsec(t testing.TB, c redis.UniversalClient) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		t.Fatal(err)
	}
	var sec float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("INFO cpu %s: %v", line, err)
			}
			sec += f
		}
	}
	return int64(sec * 1e6)
}
