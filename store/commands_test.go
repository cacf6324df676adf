package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"bgcall/internal/redistest"

	"github.com/redis/go-redis/v9"
)

// TestCommandsPerOperation counts the Redis commands each operation costs,
// the commands its script runs included, from INFO commandstats deltas on a
// server of its own, with and without a subscriber. Commands are what Redis
// spends its single thread on, so they are the store's cost per call
// attempt; the bounds catch regressions.
func TestCommandsPerOperation(t *testing.T) {
	for _, watched := range []bool{false, true} {
		t.Run(fmt.Sprintf("watched=%v", watched), func(t *testing.T) {
			got := countCommands(t, watched)
			// A subscriber reads each changed session once more.
			var extra float64
			if watched {
				extra = 2
			}
			// A claim reads its request token's replay record (GET) and, when
			// it claimed something, writes it (SET).
			for _, op := range []struct {
				name  string
				bound float64
			}{{"create", 11}, {"claim", 9}, {"apply", 6}, {"finish", 14}, {"poll", 3}} {
				c := got[op.name]
				t.Logf("%-6s %5.1f commands, %5.1f µs of Redis CPU: %v", op.name, c.total, c.usec, c.by)
				if c.total > op.bound+extra+0.5 { // +0.5: a script loaded once (EVAL after NOSCRIPT)
					t.Errorf("%s costs %.1f commands, over %.0f", op.name, got[op.name].total, op.bound)
				}
			}
		})
	}
}

type commandCount struct {
	total float64
	usec  float64 // Redis CPU, scripts included
	by    map[string]float64
}

// countCommands creates, claims, applies and finishes n sessions one
// operation kind at a time and returns the commands per operation.
func countCommands(t *testing.T, watched bool) map[string]commandCount {
	const n = 200
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.Client(t)
	st := New(c, Options{})
	if watched {
		changes, stop := st.Subscribe(ctx)
		defer stop()
		go func() {
			for range changes {
			}
		}()
	}
	out := make(map[string]commandCount)
	measure := func(name string, op func(i int)) {
		before, usecBefore := commandStats(t, c)
		for i := range n {
			op(i)
		}
		after, usecAfter := commandStats(t, c)
		cc := commandCount{by: make(map[string]float64), usec: float64(usecAfter-usecBefore) / n}
		for k, v := range after {
			if d := float64(v-before[k]) / n; d > 0 && k != "info" {
				cc.by[k] = d
				cc.total += d
			}
		}
		out[name] = cc
	}
	// Warm up: load the scripts and create the shared keys.
	mustCreate(t, st, newSession("+10", "+11"), t0)
	if _, _, err := st.ClaimDue(ctx, "warm", t0, 10); err != nil {
		t.Fatal(err)
	}
	sessions := make([]Session, n)
	measure("create", func(i int) {
		s := newSession(fmt.Sprintf("+49151%07d", i), fmt.Sprintf("+49160%07d", i))
		first := Entry{At: t0, Kind: KindCreated, State: Waiting, Note: "source api"}
		got, _, err := st.Create(ctx, s, first, Limits{PerCaller: 3, PerCallee: 3}, t0)
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = got
	})
	measure("claim", func(i int) {
		got, _, err := st.ClaimDue(ctx, "r1", t0, 1)
		if err != nil || len(got) != 1 {
			t.Fatal(got, err)
		}
		for j := range sessions {
			if sessions[j].ID == got[0].ID {
				sessions[j] = got[0]
			}
		}
	})
	entry := []Entry{{Kind: KindAttempt, Leg: "callee", Node: "fs1", UUID: "0e5bd3a2-5a4c-4c6e-8a53-3f0b5d3f4b1a", Attempt: 1}}
	measure("apply", func(i int) {
		next := sessions[i]
		next.State, next.Attempts, next.Node = DialingCallee, 1, "fs1"
		next.CalleeLeg = "0e5bd3a2-5a4c-4c6e-8a53-3f0b5d3f4b1a"
		got, err := st.Apply(ctx, next, next.Version, entry, t0)
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = got
	})
	measure("finish", func(i int) {
		next := sessions[i]
		next.State, next.Outcome, next.Cause = Finished, CallerMissed, "NO_ANSWER"
		if _, err := st.Apply(ctx, next, next.Version, []Entry{{Kind: KindFinished, State: Finished}}, t0); err != nil {
			t.Fatal(err)
		}
	})
	// A scheduler poll that finds nothing due, as most polls do.
	mustCreate(t, st, Session{Caller: "+20", Callee: "+21", DueAt: t0.Add(time.Hour)}, t0)
	measure("poll", func(int) {
		got, next, err := st.ClaimDue(ctx, "r1", t0, 256)
		if err != nil || len(got) != 0 || !next.Equal(t0.Add(time.Hour)) {
			t.Fatal(got, next, err)
		}
	})
	return out
}

// commandStats returns the calls of every command from INFO commandstats,
// and the CPU time of the scripts (EVAL, EVALSHA: their commands included).
func commandStats(t testing.TB, c redis.UniversalClient) (calls map[string]int64, scriptUsec int64) {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]int64)
	for _, line := range strings.Split(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, stats, _ := strings.Cut(rest, ":")
		fields := make(map[string]int64)
		for _, kv := range strings.Split(stats, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				fields[k] = n
			}
		}
		if _, ok := fields["calls"]; !ok {
			t.Fatalf("commandstats line %q has no calls", line)
		}
		out[name] = fields["calls"]
		if name == "eval" || name == "evalsha" {
			scriptUsec += fields["usec"]
		}
	}
	return out, scriptUsec
}
