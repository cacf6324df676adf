package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bgcall/bench"
)

func TestMain(m *testing.M) {
	if bench.IsReplica() {
		if _, err := bench.Run(context.Background(), bench.Options{}, io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestShortRun runs the whole harness with small counts and checks that
// every figure it reports is there and plausible, so the harness cannot
// rot unnoticed. Speed targets are not asserted: they are the full run's.
func TestShortRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	var table bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	res, err := bench.Run(ctx, bench.Options{
		Short: true,
		Nodes: 2,
		Out:   out,
		// The real-FreeSWITCH runs have a test of their own.
		NoFreeSWITCH:   true,
		ReplicaCommand: []string{os.Args[0], "-test.run=^$"},
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}, &table)
	t.Log("\n" + table.String())
	if err != nil {
		t.Fatal(err)
	}

	if len(res.Throughput) != 1 {
		t.Fatalf("throughput runs = %d, want 1", len(res.Throughput))
	}
	tr := res.Throughput[0]
	positive(t, "sessions", float64(tr.Sessions))
	if tr.Unfinished != 0 {
		t.Errorf("%d sessions unfinished", tr.Unfinished)
	}
	positive(t, "sustained sessions/s", tr.SustainedPerSec)
	positive(t, "transitions/s", tr.TransitionsPerSec)
	positive(t, "controller CPU per 1000 sessions", tr.CPUSecPer1000)
	positive(t, "Redis commands per transition", tr.CommandsPerTrans)
	positive(t, "round trips per transition", tr.RoundTripsPerTrans)
	if tr.TransitionsPerSess < 3 {
		// Every session is claimed and dialled at least once and finishes.
		t.Errorf("transitions per session = %.2f, want at least 3", tr.TransitionsPerSess)
	}
	if tr.CalleeReaction.N == 0 || tr.CallerReaction.N == 0 {
		t.Errorf("reaction samples: callee %d, caller %d; want both > 0", tr.CalleeReaction.N, tr.CallerReaction.N)
	}
	if tr.CalleeReaction.P50 <= 0 || tr.CallerReaction.P50 <= 0 {
		t.Errorf("reaction p50: %v, %v; want > 0", tr.CalleeReaction.P50, tr.CallerReaction.P50)
	}
	if tr.CalleeEndToEnd.N == 0 || tr.CallerEndToEnd.N == 0 {
		t.Errorf("end-to-end samples: callee %d, caller %d; want both > 0", tr.CalleeEndToEnd.N, tr.CallerEndToEnd.N)
	}
	if tr.Outcomes["completed"] == 0 || tr.Outcomes["expired"] == 0 {
		t.Errorf("outcomes %v: the mix must complete some sessions and expire others", tr.Outcomes)
	}

	if len(res.Waiting) != 2 {
		t.Fatalf("waiting levels = %d, want 2", len(res.Waiting))
	}
	for _, l := range res.Waiting {
		if l.RedisBytesPerSess < 100 || l.RedisBytesPerSess > 10_000 {
			t.Errorf("%d waiting: %.0f Redis bytes per session, implausible", l.Waiting, l.RedisBytesPerSess)
		}
		if l.KeysPerSession < 1 {
			t.Errorf("%d waiting: %.2f keys per session, want at least 1", l.Waiting, l.KeysPerSession)
		}
		positive(t, "controller heap", l.HeapMiB)
	}

	l := res.Lateness
	if l == nil {
		t.Fatal("no lateness run")
	}
	if l.Originate.N != l.Attempts {
		t.Errorf("lateness measured for %d of %d attempts", l.Originate.N, l.Attempts)
	}
	if l.Claim.N < l.Attempts {
		t.Errorf("claim histogram holds %d samples, want at least %d", l.Claim.N, l.Attempts)
	}
	positive(t, "Redis commands per attempt", l.CommandsPerAttempt)
	if len(res.Asynq) != 1 {
		t.Fatalf("asynq runs = %d, want 1", len(res.Asynq))
	}
	a := res.Asynq[0]
	if a.Processed != a.Jobs || a.Jobs != l.Attempts {
		t.Errorf("asynq processed %d of %d jobs (bgcall attempts %d)", a.Processed, a.Jobs, l.Attempts)
	}
	positive(t, "asynq Redis commands per job", a.CommandsPerJob)
	if len(res.Checks) == 0 {
		t.Error("no target checks")
	}

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("JSON result: %v", err)
	}
	if back.Throughput[0].Sessions != tr.Sessions {
		t.Errorf("JSON sessions = %d, want %d", back.Throughput[0].Sessions, tr.Sessions)
	}
	if res.FreeSWITCH == nil || res.FreeSWITCH.Skipped == "" || len(res.FreeSWITCH.Runs) != 0 {
		t.Errorf("real FreeSWITCH %+v; want skipped, as asked", res.FreeSWITCH)
	}
	for _, want := range []string{"FULL SESSIONS", "REAL FREESWITCH: not run", "WAITING SESSIONS", "SCHEDULER LATENESS", "asynq", "TARGETS"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

func positive(t *testing.T, what string, v float64) {
	t.Helper()
	if !(v > 0) {
		t.Errorf("%s = %v, want > 0", what, v)
	}
}
