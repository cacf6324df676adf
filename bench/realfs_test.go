package bench

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/internal/fsreal"
	"bgcall/store"
)

// TestShortRunRealFreeSWITCH offers a few seconds of the real mix to a real
// FreeSWITCH and judges the run by FreeSWITCH's own count of channels as
// well as by the sessions' outcomes, so the real column cannot rot.
func TestShortRunRealFreeSWITCH(t *testing.T) {
	fsreal.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Options{
		Short: true, Nodes: 1, Out: "-",
		ReplicaCommand: []string{os.Args[0], "-test.run=^$"},
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	o.fill()
	b, err := newBench(ctx, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	f, err := b.realFreeSWITCH(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	printFreeSWITCH(&table, Result{FreeSWITCH: f})
	t.Log("\n" + table.String())

	if f.Skipped != "" || len(f.Runs) != 1 {
		t.Fatalf("skipped %q, %d runs; want 1 run", f.Skipped, len(f.Runs))
	}
	if !strings.HasPrefix(f.Version, "FreeSWITCH Version") || f.MaxSessions != realMaxSessions || f.SessionsPerSecond != realSessionsPerSecond {
		t.Errorf("version %q, limits %d and %d/s", f.Version, f.MaxSessions, f.SessionsPerSecond)
	}
	r := f.Runs[0]
	want := o.RealRates[0] * int(o.RealDuration/time.Second)
	if r.Sessions != want || r.Unfinished != 0 {
		t.Fatalf("%d sessions, %d unfinished; want %d, all finished", r.Sessions, r.Unfinished, want)
	}
	if r.AsDictated != r.Sessions {
		t.Errorf("%d of %d sessions ended as their far ends dictate; outcomes %v; otherwise:\n%s",
			r.AsDictated, r.Sessions, r.Outcomes, strings.Join(r.Otherwise, "\n"))
	}
	for _, o := range []store.Outcome{store.Completed, store.CallerMissed, store.Expired} {
		if r.Outcomes[string(o)] == 0 {
			t.Errorf("no session %s: the mix must have some; outcomes %v", o, r.Outcomes)
		}
	}
	// FreeSWITCH created exactly the channels of the attempts bgcall
	// stored: two per loopback call, and no more.
	if r.Channels != r.ChannelsDialled || r.Channels == 0 {
		t.Errorf("FreeSWITCH created %d channels; the stored attempts account for %d", r.Channels, r.ChannelsDialled)
	}
	if len(r.LeftUp) != 0 {
		t.Errorf("%d channels left up after every session finished:\n%s", len(r.LeftUp), strings.Join(r.LeftUp, "\n"))
	}
	// A is dialled after every answer of B, and bridged after every answer
	// of A: the reaction histograms hold one sample each.
	answeredB := r.Outcomes[string(store.Completed)] + r.Outcomes[string(store.CallerMissed)]
	if r.CalleeReaction.N != answeredB || r.CallerReaction.N != r.Outcomes[string(store.Completed)] {
		t.Errorf("reaction samples %d and %d; want %d (B answered) and %d (completed)",
			r.CalleeReaction.N, r.CallerReaction.N, answeredB, r.Outcomes[string(store.Completed)])
	}
	positive(t, "reaction p99, B answer to caller originate", r.CalleeReaction.P99)
	positive(t, "reaction p99, A answer to uuid_bridge", r.CallerReaction.P99)
	positive(t, "FreeSWITCH CPU per 1000 sessions", r.FreeSWITCHCPUSecPer1000)
	positive(t, "controller CPU per 1000 sessions", r.CPUSecPer1000)
	positive(t, "FreeSWITCH peak channels", float64(r.PeakChannels))
	positive(t, "sustained sessions/s", r.SustainedPerSec)
	for _, s := range []string{"SIMULATOR AND REAL FREESWITCH", "real FS 10/s", f.Version} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q", s)
		}
	}
}

// Without FreeSWITCH the table says so in one line, naming the binary.
func TestFreeSWITCHNotInstalled(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "freeswitch")
	o := Options{FreeSWITCH: missing}
	o.fill()
	f, err := (&bench{o: &o}).realFreeSWITCH(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Runs) != 0 || !strings.Contains(f.Skipped, missing) {
		t.Fatalf("runs %d, skipped %q; want none, naming %s", len(f.Runs), f.Skipped, missing)
	}
	var table bytes.Buffer
	printFreeSWITCH(&table, Result{FreeSWITCH: f, Throughput: []ThroughputRun{{OfferedPerSec: 100}}})
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "REAL FREESWITCH: not installed") {
		t.Errorf("table:\n%s\nwant one line saying FreeSWITCH is not installed", table.String())
	}
}

func TestParseStatus(t *testing.T) {
	// As FreeSWITCH 1.10.12 replies to "api status".
	const status = `UP 0 years, 0 days, 0 hours, 0 minutes, 7 seconds, 508 milliseconds, 611 microseconds
FreeSWITCH (Version 1.10.12-release  64bit) is ready
1234 session(s) since startup
56 session(s) - peak 78, last 5min 78 
12 session(s) per Sec out of max 2000, peak 30, last 5min 30 
5000 session(s) max
min idle cpu 0.00/86.67
Current Stack Size/Max 240K/8192K
`
	c, err := parseStatus(status)
	if err != nil {
		t.Fatal(err)
	}
	if c.created != 1234 || c.up != 56 {
		t.Errorf("parsed %+v, want created 1234, up 56", c)
	}
	if _, err := parseStatus("-ERR no reply"); err == nil {
		t.Error("a reply without the counts parsed")
	}
}

// Every number of the real mix is one bgcall accepts, ends with its index,
// and dictates what the mix says.
func TestRealNumbers(t *testing.T) {
	counts := map[store.Outcome]int{}
	for i := range 1000 {
		caller, callee := realNumbers(3, i)
		for _, n := range []string{caller, callee} {
			if err := freeswitch.ValidNumber(n); err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
			if got, err := realIndex(n); err != nil || got != i {
				t.Fatalf("session %d: number %s gives index %d, %v", i, n, got, err)
			}
		}
		outcome, attempts := dictated(i)
		counts[outcome]++
		answers := strings.HasPrefix(callee, fsreal.AnswerAfter(realAnswerRing, ""))
		misses := strings.HasPrefix(caller, fsreal.NoAnswer(""))
		switch {
		case !answers && (outcome != store.Expired || attempts != realAttempts),
			answers && misses && (outcome != store.CallerMissed || attempts != 1),
			answers && !misses && (outcome != store.Completed || attempts != 1):
			t.Fatalf("session %d (%s calls %s): dictated %s after %d attempts", i, caller, callee, outcome, attempts)
		}
	}
	// 65% of B answer; A misses 20% of those.
	if c := counts[store.Completed]; c < 470 || c > 570 {
		t.Errorf("%d of 1000 completed, want about 520", c)
	}
	if c := counts[store.CallerMissed]; c < 90 || c > 170 {
		t.Errorf("%d of 1000 caller_missed, want about 130", c)
	}
}

func TestShortfall(t *testing.T) {
	ok := RealRun{ThroughputRun: ThroughputRun{OfferedPerSec: 50, Sessions: 1500, SustainedPerSec: 49.5}, AsDictated: 1500}
	long, short := 30*time.Second, 5*time.Second
	cases := []struct {
		name string
		r    RealRun
		d    time.Duration
		want string // in the reason; "" sustained
	}{
		{"sustained", ok, long, ""},
		{"unfinished", func(r RealRun) RealRun { r.Unfinished = 3; return r }(ok), long, "3 of 1500 sessions unfinished"},
		{"one in a hundred otherwise", func(r RealRun) RealRun { r.AsDictated = 1485; return r }(ok), long, ""},
		{"more otherwise", func(r RealRun) RealRun { r.AsDictated = 1484; return r }(ok), long, "16 of 1500 sessions ended otherwise"},
		{"slow", func(r RealRun) RealRun { r.SustainedPerSec = 44.9; return r }(ok), long, "44.9 sessions finished per second"},
		{"too short to tell the rate", func(r RealRun) RealRun { r.SustainedPerSec = 10; return r }(ok), short, ""},
	}
	for _, c := range cases {
		got := c.r.shortfall(c.d)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: shortfall %q, want %q", c.name, got, c.want)
		}
	}
}

func positive(t *testing.T, what string, v float64) {
	t.Helper()
	if !(v > 0) {
		t.Errorf("%s = %v, want > 0", what, v)
	}
}
