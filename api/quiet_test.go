package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/internal/testutil"
	"bgcall/session"
)

// TestQuietHoursVisible: a session held back by quiet hours says so, with
// the hours that apply to it, and its deadline counts from their end.
func TestQuietHoursVisible(t *testing.T) {
	night := time.Date(2026, 3, 2, 5, 28, 0, 0, time.UTC)
	e := newEnv(t, envOptions{engine: func(o *session.Options) {
		o.Clock = func() time.Time { return night }
		o.Policy.Quiet = session.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}
		o.Policy.MaxTotal = 2 * time.Hour
	}})
	a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	s := a.session(t)
	if s.QuietHours != "21:00-08:00 UTC" || !s.HeldByQuietHours {
		t.Errorf("quiet_hours %q, held %v; want 21:00-08:00 UTC, held", s.QuietHours, s.HeldByQuietHours)
	}
	morning := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if s.DueAt == nil || !s.DueAt.Equal(morning) || s.DeadlineAt == nil || !s.DeadlineAt.Equal(morning.Add(2*time.Hour)) {
		t.Errorf("due %v, deadline %v; want 08:00 and 10:00", s.DueAt, s.DeadlineAt)
	}
	got := e.call("GET", "/v1/sessions/"+s.ID, "").session(t)
	if got.QuietHours != s.QuietHours || !got.HeldByQuietHours {
		t.Errorf("GET: quiet_hours %q, held %v", got.QuietHours, got.HeldByQuietHours)
	}

	// B's own time zone: in Tokyo it is 14:28, nothing holds the call.
	a = e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004","policy":{"time_zone":"Asia/Tokyo"}}`)
	tokyo := a.session(t)
	if tokyo.QuietHours != "21:00-08:00 Asia/Tokyo" || tokyo.HeldByQuietHours {
		t.Errorf("Tokyo: quiet_hours %q, held %v; want 21:00-08:00 Asia/Tokyo, not held", tokyo.QuietHours, tokyo.HeldByQuietHours)
	}
}

// TestOverview: the overview counts live sessions by state, lists what is
// due, the quiet hours and what they hold, the nodes and the replicas.
func TestOverview(t *testing.T) {
	night := time.Date(2026, 3, 2, 5, 28, 0, 0, time.UTC)
	e := newEnv(t, envOptions{engine: func(o *session.Options) {
		o.Clock = func() time.Time { return night }
		o.Policy.Quiet = session.QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour}
	}})
	for _, b := range []string{"1002", "1003"} {
		if a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"`+b+`"}`); a.status != http.StatusCreated {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
	}
	// The engine writes its lease as it starts running, on its own.
	testutil.WaitFor(t, "the replica's lease", func() bool {
		r, err := e.store.Replicas(t.Context())
		return err == nil && len(r) > 0
	})
	a := e.call("GET", "/v1/overview", "")
	if a.status != http.StatusOK {
		t.Fatalf("overview: %d %s", a.status, a.body)
	}
	var o api.Overview
	if err := json.Unmarshal(a.body, &o); err != nil {
		t.Fatal(err)
	}
	if o.Live["waiting"] != 2 {
		t.Errorf("live %v, want 2 waiting", o.Live)
	}
	if !o.Quiet.Now || o.Quiet.Held != 2 || o.Quiet.Until == nil || o.Quiet.Until.Hour() != 8 || o.Quiet.Hours != "21:00-08:00 UTC" {
		t.Errorf("quiet hours %+v, want on, holding 2 until 08:00", o.Quiet)
	}
	if o.DueSoon.Count != 0 {
		t.Errorf("due soon %+v, want nothing before 08:00", o.DueSoon)
	}
	if len(o.Nodes) != 1 || !o.Nodes[0].Connected || o.Nodes[0].Name != "fs1" {
		t.Errorf("nodes %+v, want fs1 connected", o.Nodes)
	}
	if len(o.Replicas) != 1 || o.Replicas[0].ID != "api-test" || o.Replicas[0].Lost {
		t.Errorf("replicas %+v, want api-test holding its lease", o.Replicas)
	}
	if len(o.Finished) != 2 || o.Finished[0].Window != "1h" {
		t.Errorf("finished %+v, want the last hour and day", o.Finished)
	}
}

// TestFindLeg: a session is found by any of its legs' UUIDs.
func TestFindLeg(t *testing.T) {
	e := newEnv(t, envOptions{})
	s := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`).session(t)
	var leg string
	testutil.WaitFor(t, "a callee leg", func() bool {
		leg = e.call("GET", "/v1/sessions/"+s.ID, "").session(t).CalleeLeg
		return leg != ""
	})
	a := e.call("GET", "/v1/legs/"+strings.ToUpper(leg), "")
	if a.status != http.StatusOK || a.session(t).ID != s.ID || len(a.session(t).Timeline) == 0 {
		t.Errorf("find %s: %d %s, want session %s with its timeline", leg, a.status, a.body, s.ID)
	}
	if a := e.call("GET", "/v1/legs/00000000-0000-4000-8000-000000000000", ""); a.status != http.StatusNotFound {
		t.Errorf("unknown leg: %d %s", a.status, a.body)
	}
	if a := e.call("GET", "/v1/legs/not-a-uuid", ""); a.status != http.StatusBadRequest {
		t.Errorf("bad uuid: %d %s", a.status, a.body)
	}
}

// TestOperatorActions: bulk cancel counts first on a dry run, refuses to
// take everything, and cancels what matches; dial now brings a waiting
// session forward and refuses one that is not waiting.
func TestOperatorActions(t *testing.T) {
	e := newEnv(t, envOptions{})
	var ids []string
	for _, b := range []string{"1002", "1003"} {
		ids = append(ids, e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"`+b+`"}`).session(t).ID)
	}
	e.call("POST", "/v1/sessions", `{"caller":"1009","callee":"1002"}`)
	if a := e.call("POST", "/v1/cancel", `{}`); a.status != http.StatusBadRequest {
		t.Errorf("bulk cancel without a filter: %d %s", a.status, a.body)
	}
	var out api.BulkCancelResponse
	a := e.call("POST", "/v1/cancel", `{"caller":"1001","dry_run":true}`)
	if err := json.Unmarshal(a.body, &out); err != nil || a.status != http.StatusOK || len(out.Matched) != 2 || len(out.Cancelled) != 0 {
		t.Fatalf("dry run: %d %s", a.status, a.body)
	}
	if s := e.call("GET", "/v1/sessions/"+ids[0], "").session(t); s.State == "finished" {
		t.Fatalf("a dry run cancelled %s", s.ID)
	}
	a = e.call("POST", "/v1/cancel", `{"caller":"1001","by":"ops"}`)
	if err := json.Unmarshal(a.body, &out); err != nil || len(out.Cancelled) != 2 {
		t.Fatalf("bulk cancel: %d %s", a.status, a.body)
	}
	for _, id := range ids {
		if s := e.call("GET", "/v1/sessions/"+id, "").session(t); s.Outcome != "cancelled" {
			t.Errorf("%s after the bulk cancel: %s %s", id, s.State, s.Outcome)
		}
	}
	if a := e.call("POST", "/v1/sessions/"+ids[0]+"/dial-now", ""); a.status != http.StatusConflict || a.err(t).Code != "not_waiting" {
		t.Errorf("dial now of a finished session: %d %s", a.status, a.body)
	}
	w := e.call("POST", "/v1/sessions", `{"caller":"1005","callee":"1006","policy":{"ring_time":"1s","first_interval":"1h"}}`).session(t)
	deadline := time.Now().Add(10 * time.Second)
	for s := w; s.State != "waiting" || s.Attempts != 1; s = e.call("GET", "/v1/sessions/"+w.ID, "").session(t) {
		if time.Now().After(deadline) {
			t.Fatalf("never waiting after one attempt: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a := e.call("POST", "/v1/sessions/"+w.ID+"/dial-now", `{"by":"ops"}`); a.status != http.StatusOK || a.session(t).DueAt == nil || time.Until(*a.session(t).DueAt) > time.Minute {
		t.Errorf("dial now of a waiting session: %d %s", a.status, a.body)
	}
	if a := e.call("POST", "/v1/sessions/0000000000000000000a/dial-now", ""); a.status != http.StatusNotFound {
		t.Errorf("dial now of an unknown session: %d %s", a.status, a.body)
	}
	if a := e.call("POST", "/v1/sessions/"+ids[0]+"/dial-now", `{"by":7}`); a.status != http.StatusBadRequest {
		t.Errorf("dial now with a bad body: %d %s", a.status, a.body)
	}
	if a := e.call("POST", "/v1/cancel", "caller=1001", "Content-Type", "text/plain"); a.status != http.StatusUnsupportedMediaType {
		t.Errorf("bulk cancel as text: %d %s", a.status, a.body)
	}
	if a := e.call("POST", "/v1/cancel", `{"caller":"`+strings.Repeat("1", 70000)+`"}`); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("bulk cancel too large: %d", a.status)
	}
}

func TestPauseNode(t *testing.T) {
	e := newEnv(t, envOptions{})
	var n api.NodeStatus
	a := e.call("POST", "/v1/nodes/fs1/pause", `{"by":"ops"}`)
	if err := json.Unmarshal(a.body, &n); err != nil || a.status != http.StatusOK || !n.Paused {
		t.Errorf("pause fs1: %d %s", a.status, a.body)
	}
	a = e.call("POST", "/v1/nodes/fs1/resume", "")
	if err := json.Unmarshal(a.body, &n); err != nil || a.status != http.StatusOK || n.Paused {
		t.Errorf("resume fs1: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/v1/nodes/fs9/pause", "/v1/nodes/fs9/resume"} {
		if a := e.call("POST", path, ""); a.status != http.StatusNotFound {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}
	for _, path := range []string{"/v1/nodes/fs1/pause", "/v1/nodes/fs1/resume"} {
		if a := e.call("POST", path, `{"who":"x"}`); a.status != http.StatusBadRequest {
			t.Errorf("%s with an unknown field: %d %s", path, a.status, a.body)
		}
	}
}
