package fssim

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScenarioFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scenario.json")
	const text = `{"default": {"action": "answer", "ring": "5ms"},
		"subscribers": {"1002": [{"action": "no_answer"}, {"action": "busy", "ring": "1ms"}, {"action": "answer", "ring": "2ms", "talk": "1s", "dtmf": "12", "dtmf_delay": "3ms"}]},
		"prompts": {"ivr/hold.wav": "3s"}}`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	var opts Options
	if err := sc.Apply(&opts); err != nil {
		t.Fatal(err)
	}
	seq := opts.Subscribers["1002"]
	if len(seq) != 3 || seq[0].Action != NoAnswer || seq[1].Ring != time.Millisecond ||
		seq[2].Talk != time.Second || seq[2].DTMF != "12" || seq[2].DTMFDelay != 3*time.Millisecond {
		t.Errorf("subscribers = %+v", seq)
	}
	if opts.Default.Ring != 5*time.Millisecond || opts.Prompts["ivr/hold.wav"] != 3*time.Second {
		t.Errorf("default %+v prompts %v", opts.Default, opts.Prompts)
	}
	out, err := json.Marshal(seq[2])
	if err != nil || !strings.Contains(string(out), `"talk":"1s"`) {
		t.Errorf("marshal: %s %v", out, err)
	}
	for _, bad := range []string{`{"action":"ring_forever"}`, `{"action":"fail"}`, `{"ring":"soon"}`} {
		var b Behavior
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, RunOptions{Addr: "127.0.0.1:0", Nodes: 2, Second: 10 * time.Millisecond,
			Ready: func(a []string) { ready <- a }})
	}()
	var addrs []string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run not ready")
	}
	if len(addrs) != 2 {
		t.Fatalf("addrs = %v", addrs)
	}
	// What an operator types in fs_cli: the default far end answers.
	c := dialRaw(t, addrs[0])
	c.next()
	c.reply("auth ClueCon")
	got := c.api("originate {}user/1000 &park()")
	if !strings.HasPrefix(got, "+OK ") {
		t.Errorf("fs_cli originate = %q", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestRunRejectsBadScenario(t *testing.T) {
	err := Run(context.Background(), RunOptions{Addr: "127.0.0.1:0", Scenario: filepath.Join(t.TempDir(), "missing.json")})
	if err == nil || !strings.Contains(err.Error(), "scenario") {
		t.Errorf("Run with a missing scenario: %v", err)
	}
}
