package session

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"bgcall/freeswitch"
)

// Verdict is what one ended callee attempt means for the session.
type Verdict int

const (
	// Retry schedules another attempt after the backoff interval.
	Retry Verdict = iota
	// Fail ends the session at once with outcome failed: calling again
	// cannot help (the number does not exist, the network refuses it).
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Retry:
		return "retry"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// CauseRule overrides the policy for one hangup cause of a callee attempt.
type CauseRule struct {
	Verdict Verdict `json:"verdict"`
	// Interval, when set, replaces the backoff interval after this cause
	// (B is busy: try again sooner than after no answer).
	Interval time.Duration `json:"interval,omitempty"`
	// GiveUpAfter, when set, expires the session after this many attempts
	// ended with this cause (B keeps rejecting: stop bothering B).
	GiveUpAfter int `json:"give_up_after,omitempty"`
}

// QuietHours is a daily window, in the callee's time zone, in which no
// attempt starts; an attempt due inside it waits until the window ends.
// Start == End means no quiet hours. A window may wrap midnight.
type QuietHours struct {
	Start    time.Duration  // offset from local midnight
	End      time.Duration  // offset from local midnight
	Location *time.Location // nil: UTC
}

// Policy is the retry policy of a session: when to dial B again and when to
// give up. Every field is data, so an operator changes behaviour without code.
type Policy struct {
	RingTime       time.Duration // how long one callee attempt rings
	FirstInterval  time.Duration // wait after the first unanswered attempt
	Backoff        float64       // interval multiplier per further attempt
	Jitter         float64       // ± fraction of each interval, spreads retries
	MaxInterval    time.Duration // the interval never grows past this
	MaxAttempts    int           // 0: until B answers (bounded by MaxTotal)
	MaxTotal       time.Duration // always set: the session expires after this
	CallerRingTime time.Duration // how long A's phone rings while B holds
	Quiet          QuietHours
	Causes         map[freeswitch.Cause]CauseRule
	// Confirm asks B, once B's leg answers, to press 1 before A is
	// dialled (2 declines): a voicemail that answers for B presses
	// nothing, and the attempt counts as not answered.
	Confirm bool
	// ConfirmTimeout is how long B has, from the answer, to press a
	// digit; then the attempt ends as not answered.
	ConfirmTimeout time.Duration
	// VoicemailAfter is how long the network lets B's phone ring before
	// its voicemail answers; 0: unknown. A RingTime that long or longer
	// without Confirm lets the voicemail answer for B (RingWarning).
	VoicemailAfter time.Duration
}

// DefaultPolicy is what a telecom operator would accept without tuning:
// ring B for 30 s, retry after 1, 2, 4, 8 … minutes (capped at 15, ±10 %),
// at most 10 attempts within 2 hours, no calls between 21:00 and 08:00,
// and the causes' default verdicts (DefaultCauseRules); B is not asked to
// confirm, and the network's voicemail is taken to answer after 20 s.
func DefaultPolicy() Policy {
	return Policy{
		RingTime:       30 * time.Second,
		FirstInterval:  time.Minute,
		Backoff:        2,
		Jitter:         0.1,
		MaxInterval:    15 * time.Minute,
		MaxAttempts:    10,
		MaxTotal:       2 * time.Hour,
		CallerRingTime: 30 * time.Second,
		Quiet:          QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour},
		Causes:         DefaultCauseRules(),
		ConfirmTimeout: 10 * time.Second,
		VoicemailAfter: 0, // unknown until the operator states the network's delay
	}
}

// DefaultCauseRules maps the hangup causes that need more than the plain
// backoff to their default verdicts (freeswitch.Cause.Verdict): busy
// retries after 2 minutes, rejected gives up after 3, numbers that cannot
// be dialled fail at once. Every cause not listed retries with backoff.
func DefaultCauseRules() map[freeswitch.Cause]CauseRule {
	rules := map[freeswitch.Cause]CauseRule{}
	for _, c := range freeswitch.Causes() {
		v := c.Verdict()
		switch {
		case v.Fail:
			rules[c] = CauseRule{Verdict: Fail}
		case v != freeswitch.Verdict{}:
			rules[c] = CauseRule{Verdict: Retry, Interval: v.Interval, GiveUpAfter: v.GiveUpAfter}
		}
	}
	return rules
}

// Rule returns the rule for cause, or plain Retry.
func (p Policy) Rule(cause freeswitch.Cause) CauseRule {
	if r, ok := p.Causes[cause]; ok {
		return r
	}
	return CauseRule{Verdict: Retry}
}

// Validate reports the first setting that cannot work, naming it.
func (p Policy) Validate() error {
	switch {
	case p.RingTime < time.Second:
		return fmt.Errorf("ring_time %v is under 1s; FreeSWITCH's originate_timeout counts whole seconds", p.RingTime)
	case p.CallerRingTime < time.Second:
		return fmt.Errorf("caller_ring_time %v is under 1s; FreeSWITCH's originate_timeout counts whole seconds", p.CallerRingTime)
	case p.FirstInterval <= 0:
		return fmt.Errorf("first_interval must be positive, got %v", p.FirstInterval)
	case p.Backoff < 1:
		return fmt.Errorf("backoff must be 1 or more (1 = fixed interval), got %v", p.Backoff)
	case p.Jitter < 0 || p.Jitter >= 1:
		return fmt.Errorf("jitter must be in [0, 1), got %v", p.Jitter)
	case p.MaxInterval < p.FirstInterval:
		return fmt.Errorf("max_interval %v is below first_interval %v", p.MaxInterval, p.FirstInterval)
	case p.MaxAttempts < 0:
		return fmt.Errorf("max_attempts must be 0 (until answered) or more, got %d", p.MaxAttempts)
	case p.MaxTotal <= 0:
		return fmt.Errorf("max_total must be set: a session always has a time limit")
	case p.Quiet.Start < 0 || p.Quiet.Start >= 24*time.Hour || p.Quiet.End < 0 || p.Quiet.End >= 24*time.Hour:
		return fmt.Errorf("quiet hours must be times of day between 00:00 and 23:59")
	case p.ConfirmTimeout < time.Second:
		// Set even with Confirm off: a request may switch it on.
		return fmt.Errorf("confirm_timeout %v is under 1s; B needs time to hear the prompt and press 1", p.ConfirmTimeout)
	case p.VoicemailAfter < 0:
		return fmt.Errorf("voicemail_after must be 0 (unknown) or more, got %v", p.VoicemailAfter)
	}
	return nil
}

// RingWarning says, when it does, that B's voicemail may answer in B's
// place: B rings at least as long as the network waits before its
// voicemail answers, and B is not asked to confirm. "" otherwise.
func (p Policy) RingWarning() string {
	if p.Confirm || p.VoicemailAfter <= 0 || p.RingTime < p.VoicemailAfter {
		return ""
	}
	return fmt.Sprintf("ring_time %v is not shorter than the network's voicemail delay %v (retry.voicemail_after) and confirmation is off: "+
		"B's voicemail may answer and A would be connected to it; ring B for less than %v or switch confirmation on (confirm)",
		p.RingTime, p.VoicemailAfter, p.VoicemailAfter)
}

// Decision is what the policy decided after an attempt ended.
type Decision struct {
	Outcome string    // "" to retry, else "expired" or "failed"
	Due     time.Time // when the next attempt starts, if retrying
	Reason  string    // why, for the timeline
}

// After decides what follows a callee attempt that ended with cause.
// attempts counts the attempts made so far (including this one), sameCause
// how many of them ended with this cause, created and now bound the total
// time; rnd draws the jitter (nil: the global source). The total time counts
// from the first moment dialling was allowed (see First), so a request made
// in quiet hours gets its whole max_total once they end.
func (p Policy) After(cause freeswitch.Cause, attempts, sameCause int, created, now time.Time, rnd *rand.Rand) Decision {
	rule := p.Rule(cause)
	if rule.Verdict == Fail {
		return Decision{Outcome: "failed", Reason: fmt.Sprintf("%s is permanent", cause)}
	}
	if rule.GiveUpAfter > 0 && sameCause >= rule.GiveUpAfter {
		return Decision{Outcome: "expired", Reason: fmt.Sprintf("%s %d times", cause, sameCause)}
	}
	if p.MaxAttempts > 0 && attempts >= p.MaxAttempts {
		return Decision{Outcome: "expired", Reason: fmt.Sprintf("%d attempts made", attempts)}
	}
	interval := rule.Interval
	if interval == 0 {
		interval = p.interval(attempts)
	}
	interval = jitter(interval, p.Jitter, rnd)
	due := p.Quiet.Defer(now.Add(interval))
	if due.Sub(p.First(created)) >= p.MaxTotal {
		return Decision{Outcome: "expired", Reason: fmt.Sprintf("next attempt would pass max_total %v", p.MaxTotal)}
	}
	return Decision{Due: due, Reason: fmt.Sprintf("retry in %v", due.Sub(now).Round(time.Millisecond))}
}

// First returns when the first attempt of a session created at now starts.
func (p Policy) First(now time.Time) time.Time { return p.Quiet.Defer(now) }

// interval is the backoff before attempt n+1, after n attempts.
func (p Policy) interval(n int) time.Duration {
	d := float64(p.FirstInterval) * math.Pow(p.Backoff, float64(max(n-1, 0)))
	if d > float64(p.MaxInterval) || math.IsInf(d, 0) {
		return p.MaxInterval
	}
	return time.Duration(d)
}

func jitter(d time.Duration, frac float64, rnd *rand.Rand) time.Duration {
	if frac == 0 || d <= 0 {
		return d
	}
	f := rand.Float64
	if rnd != nil {
		f = rnd.Float64
	}
	return time.Duration(float64(d) * (1 + frac*(2*f()-1)))
}

// location is the zone the quiet hours are read in.
func (q QuietHours) location() *time.Location {
	if q.Location == nil {
		return time.UTC
	}
	return q.Location
}

// String reads "21:00-08:00 Europe/Berlin", or "" when there are no quiet
// hours.
func (q QuietHours) String() string {
	if q.Start == q.End {
		return ""
	}
	loc := q.location()
	clock := func(d time.Duration) string {
		return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return clock(q.Start) + "-" + clock(q.End) + " " + loc.String()
}

// Deferred reports whether due is the end of a quiet window, that is,
// whether an attempt due then was held back by quiet hours.
func (q QuietHours) Deferred(due time.Time) bool {
	return q.Start != q.End && !due.IsZero() && q.Defer(due.Add(-time.Millisecond)).Equal(due)
}

// Defer returns t, or the end of the quiet window t falls in. Both are read
// on the wall clock of the callee's zone: on the night clocks go back, a
// window that starts or ends in the repeated hour holds in both passes of
// it, and its end is the first time after t that the clock shows End.
func (q QuietHours) Defer(t time.Time) time.Time {
	if q.Start == q.End {
		return t
	}
	loc := q.location()
	lt := t.In(loc)
	clock := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute +
		time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
	var inside bool
	day := lt            // the date whose End ends the window
	if q.Start < q.End { // e.g. 13:00-14:00
		inside = clock >= q.Start && clock < q.End
	} else { // wraps midnight, e.g. 21:00-08:00
		inside = clock >= q.Start || clock < q.End
		if clock >= q.Start {
			day = lt.AddDate(0, 0, 1)
		}
	}
	if !inside {
		return t
	}
	// Wall-clock offsets, not elapsed time: on a DST day midnight+8h is
	// not 08:00, so build the boundary from the date and clock instead.
	h, m := int(q.End/time.Hour), int(q.End%time.Hour/time.Minute)
	end := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc)
	// End may fall in the hour that comes twice, and time.Date picks one
	// of its passes: the window ends at the first one after t.
	for _, alt := range []time.Time{end.Add(-time.Hour), end.Add(time.Hour)} {
		if a := alt.In(loc); a.Hour() == h && a.Minute() == m && alt.After(t) && (alt.Before(end) || !end.After(t)) {
			end = alt
		}
	}
	return end
}
