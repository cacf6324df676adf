package api_test

import (
	"net/http"
	"testing"
	"time"

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
