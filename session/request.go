package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"bgcall/freeswitch"
	"bgcall/store"
)

// Sources a request can come from; the metrics label takes exactly these.
const (
	SourceAPI         = "api"
	SourceCLI         = "cli"
	SourceFeatureCode = "feature_code"
	SourceOffer       = "offer"
)

// Request asks for a background call from Caller (A) to Callee (B).
type Request struct {
	Caller, Callee string
	Source         string // one of the Source constants; "" means api
	IdempotencyKey string // a retried request with the same key returns the same session
	Policy         *PolicyOverrides
	// CallbackURL is where this session's lifecycle events go too, if the
	// operator allows a request to name one (Options.CallbackURL).
	CallbackURL string
}

// PolicyOverrides changes the retry policy of one session. Nil fields keep
// the operator's defaults.
type PolicyOverrides struct {
	RingTime      *Duration `json:"ring_time,omitempty"`
	FirstInterval *Duration `json:"first_interval,omitempty"`
	MaxAttempts   *int      `json:"max_attempts,omitempty"`
	MaxTotal      *Duration `json:"max_total,omitempty"`
	// TimeZone is the callee's IANA zone, for quiet hours.
	TimeZone string `json:"time_zone,omitempty"`
	// Confirm asks B to press 1 before A is dialled (Policy.Confirm).
	Confirm *bool `json:"confirm,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "90s", "2m".
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\" or \"2m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"2m\"", s)
	}
	*d = Duration(v)
	return nil
}

// ValidationError says which field of a request is wrong and why. Nothing
// was stored or dialled.
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

// Errors a caller of the engine can act on.
var (
	// ErrLimit: the caller or the callee already has as many live
	// sessions as the operator allows.
	ErrLimit = errors.New("live session limit reached")
	// ErrOptedOut: the callee refuses background calls from the caller
	// (from every caller, or from this one); see OptOut.
	ErrOptedOut = errors.New("opted out of background calls")
	// ErrFinished: the session has its outcome; nothing to cancel.
	ErrFinished = errors.New("session already finished")
	// ErrBridged: A and B are talking; cancel leaves the call alone unless
	// asked to end it.
	ErrBridged = errors.New("session is bridged; pass end_bridged to hang up the call")
)

// maxOverrideTotal bounds a per-session max_total: a session that lives for
// days would ring B long after A has forgotten it.
const maxOverrideTotal = 7 * 24 * time.Hour

// Validate checks r, setting the default source, and reports every bad
// field: nil, one *ValidationError, or several joined (errors.Join), the
// first of which errors.As finds. Create and DryRun call it; a caller may
// call it first to report every problem of a request at once.
func (r *Request) Validate() error {
	var problems []error
	bad := func(field, problem string) { problems = append(problems, &ValidationError{field, problem}) }
	if err := freeswitch.ValidNumber(r.Caller); err != nil {
		bad("caller", err.Error())
	}
	if err := freeswitch.ValidNumber(r.Callee); err != nil {
		bad("callee", err.Error())
	} else if r.Caller == r.Callee {
		bad("callee", "is the caller's own number")
	}
	switch r.Source {
	case "":
		r.Source = SourceAPI
	case SourceAPI, SourceCLI, SourceFeatureCode, SourceOffer:
	default:
		bad("source", fmt.Sprintf("%q is not one of api, cli, feature_code, offer", r.Source))
	}
	if len(r.IdempotencyKey) > 128 {
		bad("idempotency_key", "is longer than 128 characters")
	}
	if r.CallbackURL != "" {
		if err := ValidCallbackURL(r.CallbackURL); err != nil {
			bad("callback_url", err.Error())
		}
	}
	if p := r.Policy; p != nil {
		if p.RingTime != nil && (time.Duration(*p.RingTime) < time.Second || time.Duration(*p.RingTime) > 5*time.Minute) {
			bad("policy.ring_time", "must be between 1s and 5m")
		}
		if p.FirstInterval != nil && (time.Duration(*p.FirstInterval) < time.Second || time.Duration(*p.FirstInterval) > 24*time.Hour) {
			bad("policy.first_interval", "must be between 1s and 24h")
		}
		if p.MaxAttempts != nil && (*p.MaxAttempts < 0 || *p.MaxAttempts > 1000) {
			bad("policy.max_attempts", "must be between 0 (until answered) and 1000")
		}
		if p.MaxTotal != nil && (time.Duration(*p.MaxTotal) < time.Second || time.Duration(*p.MaxTotal) > maxOverrideTotal) {
			bad("policy.max_total", "must be between 1s and 168h")
		}
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				bad("policy.time_zone", fmt.Sprintf("%q is not an IANA time zone such as Europe/Berlin", p.TimeZone))
			}
		}
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return problems[0]
	}
	return errors.Join(problems...)
}

// apply returns base changed by o.
func (o *PolicyOverrides) apply(base Policy) Policy {
	if o == nil {
		return base
	}
	if o.RingTime != nil {
		base.RingTime = time.Duration(*o.RingTime)
	}
	if o.FirstInterval != nil {
		base.FirstInterval = time.Duration(*o.FirstInterval)
		base.MaxInterval = max(base.MaxInterval, base.FirstInterval)
	}
	if o.MaxAttempts != nil {
		base.MaxAttempts = *o.MaxAttempts
	}
	if o.MaxTotal != nil {
		base.MaxTotal = time.Duration(*o.MaxTotal)
	}
	if o.TimeZone != "" {
		if loc, err := time.LoadLocation(o.TimeZone); err == nil {
			base.Quiet.Location = loc
		}
	}
	if o.Confirm != nil {
		base.Confirm = *o.Confirm
	}
	return base
}

// maxCallbackURL bounds a request's callback URL: it is stored with the
// session.
const maxCallbackURL = 1024

// ValidCallbackURL checks that u is an absolute http(s) URL a session may
// keep.
func ValidCallbackURL(u string) error {
	if len(u) > maxCallbackURL {
		return fmt.Errorf("is longer than %d characters", maxCallbackURL)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL such as https://example.com/bgcall-events", u)
	}
	if strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%q contains spaces or control characters", u)
	}
	return nil
}

// refuseOptedOut returns ErrOptedOut when r's callee refuses background
// calls from r's caller, and counts the refusal. It runs before the
// session is stored, so a refused request stores nothing.
func (e *Engine) refuseOptedOut(ctx context.Context, r Request) error {
	o, out, err := e.opt.Store.OptedOut(ctx, r.Callee, r.Caller)
	if err != nil {
		e.opt.Metrics.RedisError("optout")
		return err
	}
	if !out {
		return nil
	}
	e.opt.Metrics.SessionRefused(r.Source, "opted_out")
	e.log.Info("request refused: callee opted out", "caller", r.Caller, "callee", r.Callee, "source", r.Source, "opt_out_caller", o.Caller, "opt_out_by", o.By)
	return optedOutError(o)
}

// cancelIfOptedOut checks again, after s was created, whether its callee
// refuses background calls from its caller: an opt-out stored between the
// first check and the creation did not see s among the live sessions it
// cancels. If so, s is cancelled and ErrOptedOut returned. A check that
// cannot tell cancels s too, and returns its error: the callee may have
// refused, and nothing else would stop s.
func (e *Engine) cancelIfOptedOut(ctx context.Context, s store.Session) error {
	o, out, err := e.opt.Store.OptedOut(ctx, s.Callee, s.Caller)
	if err != nil {
		e.opt.Metrics.RedisError("optout")
		if _, cerr := e.CancelBy(ctx, s.ID, false, "bgcall: the callee's opt-outs could not be checked"); cerr != nil && !errors.Is(cerr, ErrFinished) {
			return fmt.Errorf("session %s created; checking the callee's opt-outs again failed (%w), and cancelling it too: %w", s.ID, err, cerr)
		}
		return fmt.Errorf("session %s cancelled, as the callee's opt-outs could not be checked again; ask again: %w", s.ID, err)
	}
	if !out {
		return nil
	}
	e.opt.Metrics.SessionRefused(s.Source, "opted_out")
	if err := e.cancelOptedOut(ctx, s.ID, o); err != nil && !errors.Is(err, ErrFinished) {
		return fmt.Errorf("session %s created as the callee opted out, and not cancelled: %w", s.ID, err)
	}
	return optedOutError(o)
}
