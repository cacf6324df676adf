package session_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bgcall/internal/testutil"
	"bgcall/session"
	"bgcall/store"
)

// logLines keeps what a JSON slog handler writes, line by line.
type logLines struct{ testutil.SyncBuffer }

func (l *logLines) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestTransitionLogLines: each transition line names A and B, a retry
// says when it is due, an ending says why, no field is printed empty, a
// cancel says who asked for it, and a normal cancel logs nothing stale.
func TestLogLineEachStep(t *testing.T) {
	var logs logLines
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Policy.MaxAttempts = 2
		o.Policy.FirstInterval, o.Policy.MaxInterval = 30*time.Millisecond, 30*time.Millisecond
	}))
	h.nodes[0].SetSubscriber("7002", noAnswer)
	expired := h.create("7001", "7002")
	if got := h.waitOutcome(expired.ID); got.Outcome != store.Expired {
		t.Fatalf("outcome %s, want expired", got.Outcome)
	}
	h.nodes[0].SetSubscriber("7004", noAnswer)
	cancelled := h.create("7003", "7004")
	h.waitState(cancelled.ID, store.DialingCallee)
	if _, err := h.eng.CancelBy(context.Background(), cancelled.ID, false, "cli:alice"); err != nil {
		t.Fatal(err)
	}
	h.waitIdle()

	var toWaiting, toExpired, cancel int
	for _, r := range h.recordsAfterCancel(&logs, cancelled.ID) {
		if r["level"] == "INFO" && strings.Contains(r["msg"].(string), "moved on") {
			t.Errorf("a normal cancel logged at info: %v", r)
		}
		if r["msg"] != "transition" {
			continue
		}
		for k, v := range r {
			if v == "" || v == nil {
				t.Errorf("transition line prints %s empty: %v", k, r)
			}
		}
		if r["caller"] == nil || r["callee"] == nil {
			t.Errorf("transition line without caller and callee: %v", r)
		}
		switch {
		case r["to"] == "waiting":
			toWaiting++
			if due, _ := r["due"].(string); due == "" {
				t.Errorf("retry without its due time: %v", r)
			}
		case r["outcome"] == "expired":
			toExpired++
			if reason, _ := r["reason"].(string); !strings.Contains(reason, "2 attempts") {
				t.Errorf("expiry without its reason: %v", r)
			}
		case r["outcome"] == "cancelled":
			cancel++
			if r["by"] != "cli:alice" {
				t.Errorf("cancel does not say who asked: %v", r)
			}
		}
	}
	if toWaiting == 0 || toExpired != 1 || cancel != 1 {
		t.Errorf("%d retries, %d expiries, %d cancels logged; want some, 1, 1", toWaiting, toExpired, cancel)
	}
	tl := h.timeline(cancelled.ID)
	if n := tl[len(tl)-2]; n.Kind != store.KindCancelled || !strings.Contains(n.Note, "cli:alice") {
		t.Errorf("the timeline does not say who cancelled: %+v", n)
	}
}

// recordsAfterCancel returns the log once the worker that steered session
// id has found it cancelled: its next step is refused, which it logs.
func (h *harness) recordsAfterCancel(l *logLines, id string) []map[string]any {
	h.t.Helper()
	t := h.t.(*testing.T)
	deadline := time.Now().Add(10 * time.Second)
	for {
		records := l.records(t)
		for _, r := range records {
			if r["session"] == id && strings.Contains(r["msg"].(string), "moved on") {
				return records
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker never found session %s cancelled", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
