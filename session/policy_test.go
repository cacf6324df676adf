package session

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
)

// TestCauseVerdicts runs every hangup cause FreeSWITCH knows through the
// default policy: it does what the cause's default verdict says.
func TestCauseVerdicts(t *testing.T) {
	p := DefaultPolicy()
	p.Quiet = QuietHours{}
	created := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	ended := created.Add(30 * time.Second)
	causes := freeswitch.Causes()
	if len(causes) < 60 {
		t.Fatalf("freeswitch.Causes() lists %d causes; expected FreeSWITCH's whole chart", len(causes))
	}
	failed := map[freeswitch.Cause]bool{}
	for _, c := range append(causes, "", causeNodeLost, "SOMETHING_NEW") {
		v := c.Verdict()
		d := p.After(c, 1, 1, created, ended, rand.New(rand.NewPCG(1, 2)))
		wait := d.Due.Sub(ended)
		switch {
		case v.Fail:
			failed[c] = true
			if d.Outcome != "failed" {
				t.Errorf("%s: outcome %q, want failed", c, d.Outcome)
			}
		case v.Interval > 0:
			if d.Outcome != "" || wait < v.Interval*9/10 || wait > v.Interval*11/10 {
				t.Errorf("%s: %+v, want a retry %v ±10%% later", c, d, v.Interval)
			}
		default:
			if d.Outcome != "" || wait < 54*time.Second || wait > 66*time.Second {
				t.Errorf("%s: %+v, want a retry after first_interval 1m ±10%%", c, d)
			}
		}
		if v.GiveUpAfter > 0 {
			if d := p.After(c, v.GiveUpAfter, v.GiveUpAfter, created, ended, nil); d.Outcome != "expired" {
				t.Errorf("%s %d times: %+v, want expired", c, v.GiveUpAfter, d)
			}
		}
	}
	for _, c := range []freeswitch.Cause{freeswitch.UnallocatedNumber, freeswitch.IncompatibleDestination, freeswitch.NoRouteDestination} {
		if !failed[c] {
			t.Errorf("%s does not fail the session", c)
		}
	}
}

func TestRejectedGivesUpAfterThree(t *testing.T) {
	p := DefaultPolicy()
	p.Quiet = QuietHours{}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	for same := 1; same <= 3; same++ {
		d := p.After(freeswitch.CallRejected, same, same, now, now, nil)
		if want := same == 3; (d.Outcome == "expired") != want {
			t.Errorf("rejected %d times: outcome %q", same, d.Outcome)
		}
	}
}

func TestBackoffAndCaps(t *testing.T) {
	p := Policy{RingTime: time.Second, CallerRingTime: time.Second, FirstInterval: time.Minute, Backoff: 2,
		MaxInterval: 5 * time.Minute, MaxAttempts: 6, MaxTotal: time.Hour}
	created := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		d := p.After(freeswitch.NoAnswer, i+1, i+1, created, created, nil)
		if d.Outcome != "" || d.Due.Sub(created) != w {
			t.Errorf("after attempt %d: %+v, want retry in %v", i+1, d, w)
		}
	}
	if d := p.After(freeswitch.NoAnswer, 6, 6, created, created, nil); d.Outcome != "expired" {
		t.Errorf("after max_attempts: %+v, want expired", d)
	}
	p.MaxAttempts = 0 // until answered: only max_total stops it
	if d := p.After(freeswitch.NoAnswer, 500, 500, created, created.Add(58*time.Minute), nil); d.Outcome != "expired" || !strings.Contains(d.Reason, "max_total") {
		t.Errorf("past max_total: %+v, want expired by max_total", d)
	}
	if d := p.After(freeswitch.NoAnswer, 500, 500, created, created.Add(10*time.Minute), nil); d.Outcome != "" {
		t.Errorf("max_attempts 0 within max_total: %+v, want retry", d)
	}
}

func TestQuietHours(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	q := QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour, Location: berlin}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct{ in, want string }{
		{"2026-03-02 12:00", "2026-03-02 12:00"},
		{"2026-03-02 20:59", "2026-03-02 20:59"},
		{"2026-03-02 21:00", "2026-03-03 08:00"},
		{"2026-03-02 23:30", "2026-03-03 08:00"},
		{"2026-03-03 03:00", "2026-03-03 08:00"},
		{"2026-03-03 08:00", "2026-03-03 08:00"},
		{"2026-03-28 22:00", "2026-03-29 08:00"}, // the night clocks go forward
	}
	for _, c := range cases {
		if got := q.Defer(at(c.in)); !got.Equal(at(c.want)) {
			t.Errorf("Defer(%s) = %s, want %s", c.in, got.In(berlin).Format("2006-01-02 15:04"), c.want)
		}
	}
	day := QuietHours{Start: 13 * time.Hour, End: 14 * time.Hour}
	noon := time.Date(2026, 3, 2, 13, 30, 0, 0, time.UTC)
	if got := day.Defer(noon); !got.Equal(time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("lunch window: %v", got)
	}
	if got := (QuietHours{}).Defer(noon); !got.Equal(noon) {
		t.Errorf("no quiet hours moved %v to %v", noon, got)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy invalid: %v", err)
	}
	bad := []func(*Policy){
		func(p *Policy) { p.RingTime = 500 * time.Millisecond },
		func(p *Policy) { p.MaxTotal = 0 },
		func(p *Policy) { p.Backoff = 0.5 },
		func(p *Policy) { p.Jitter = 1 },
		func(p *Policy) { p.MaxInterval = time.Second },
		func(p *Policy) { p.MaxAttempts = -1 },
		func(p *Policy) { p.Quiet.Start = 25 * time.Hour },
	}
	for i, f := range bad {
		p := DefaultPolicy()
		f(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("case %d: invalid policy accepted", i)
		}
	}
}

// TestMaxTotalCountsFromFirstAllowedAttempt: retries after a request made
// in quiet hours get the whole max_total from the morning on.
func TestMaxTotalCountsFromFirstAllowedAttempt(t *testing.T) {
	p := DefaultPolicy()
	p.Jitter = 0
	created := time.Date(2026, 3, 2, 5, 28, 0, 0, time.UTC)
	d := p.After(freeswitch.NoAnswer, 1, 1, created, time.Date(2026, 3, 2, 8, 0, 30, 0, time.UTC), nil)
	if d.Outcome != "" {
		t.Fatalf("after the first morning attempt: %+v, want a retry", d)
	}
	d = p.After(freeswitch.NoAnswer, 2, 2, created, time.Date(2026, 3, 2, 9, 59, 30, 0, time.UTC), nil)
	if d.Outcome != "expired" {
		t.Fatalf("a retry past 10:00: %+v, want expired", d)
	}
}

func TestQuietHoursDescribed(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	q := QuietHours{Start: 21 * time.Hour, End: 8*time.Hour + 30*time.Minute, Location: berlin}
	if got := q.String(); got != "21:00-08:30 Europe/Berlin" {
		t.Errorf("String() = %q", got)
	}
	if got := (QuietHours{}).String(); got != "" {
		t.Errorf("no quiet hours read %q", got)
	}
	end := time.Date(2026, 3, 2, 8, 30, 0, 0, berlin)
	if !q.Deferred(end) {
		t.Errorf("%v is the end of quiet hours: not reported deferred", end)
	}
	if q.Deferred(end.Add(time.Minute)) || q.Deferred(time.Date(2026, 3, 2, 20, 0, 0, 0, berlin)) {
		t.Error("a time outside quiet hours reported deferred")
	}
}

func TestValidateNamesEveryField(t *testing.T) {
	bad := -1
	r := Request{Caller: "10x1", Callee: "", Source: "fax", Policy: &PolicyOverrides{MaxAttempts: &bad, TimeZone: "Mars/Base"}}
	err := r.Validate()
	var first *ValidationError
	if !errors.As(err, &first) || first.Field != "caller" {
		t.Fatalf("Validate: %v; want the caller first", err)
	}
	for _, field := range []string{"caller:", "callee:", "source:", "policy.max_attempts:", "policy.time_zone:"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("%s not named: %v", field, err)
		}
	}
}

// TestQuietHoursAcrossFallBack: on the night clocks go back (Berlin,
// 2026-10-25, 03:00 CEST becomes 02:00 CET), the hour 02:00–03:00 comes
// twice. A window that starts or ends inside it holds by the wall clock in
// both passes of that hour.
func TestQuietHoursAcrossFallBack(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	cest, cet := time.FixedZone("CEST", 2*3600), time.FixedZone("CET", 3600)
	at := func(h, m int, zone *time.Location) time.Time { return time.Date(2026, 10, 25, h, m, 0, 0, zone) }
	for _, c := range []struct {
		name       string
		start, end time.Duration
		in, want   time.Time
	}{
		{"starts in the repeated hour, first pass", 2*time.Hour + 30*time.Minute, 6 * time.Hour, at(2, 40, cest), at(6, 0, cet)},
		{"starts in the repeated hour, second pass", 2*time.Hour + 30*time.Minute, 6 * time.Hour, at(2, 40, cet), at(6, 0, cet)},
		{"before the window, first pass", 2*time.Hour + 30*time.Minute, 6 * time.Hour, at(2, 10, cest), at(2, 10, cest)},
		{"ends in the repeated hour, first pass", time.Hour, 2*time.Hour + 30*time.Minute, at(2, 10, cest), at(2, 30, cest)},
		{"ends in the repeated hour, second pass", time.Hour, 2*time.Hour + 30*time.Minute, at(2, 10, cet), at(2, 30, cet)},
		{"after the end, second pass", time.Hour, 2*time.Hour + 30*time.Minute, at(2, 40, cet), at(2, 40, cet)},
		{"wraps midnight, starts in the repeated hour", 2*time.Hour + 30*time.Minute, time.Hour, at(2, 45, cest), time.Date(2026, 10, 26, 1, 0, 0, 0, cet)},
	} {
		q := QuietHours{Start: c.start, End: c.end, Location: berlin}
		if got := q.Defer(c.in); !got.Equal(c.want) {
			t.Errorf("%s: Defer(%s) = %s, want %s", c.name, c.in, got.In(berlin), c.want.In(berlin))
		}
	}
}
