package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Webhooks are the HTTP callbacks that follow every session's life
// (docs/webhooks.md).
type Webhooks struct {
	URL    string // receives every session's events; "" = none
	Secret string // keys the signature
	// AllowRequestURL lets a request name a callback URL of its own;
	// AllowedPrefixes, when set, are what such a URL must start with.
	AllowRequestURL bool
	AllowedPrefixes []string
	Timeout         time.Duration // one try
	MaxAttempts     int           // tries of one event before it is given up
	FirstRetry      time.Duration // wait before the first retry; doubles
	MaxRetry        time.Duration // longest wait between tries
	ClaimIdle       time.Duration // an event another replica holds this long untouched is taken over
	MaxBacklog      int           // events the outbox keeps at most
}

// On reports whether any event is delivered at all.
func (w Webhooks) On() bool { return w.URL != "" || w.AllowRequestURL }

func defaultWebhooks() Webhooks {
	return Webhooks{
		Timeout:     5 * time.Second,
		MaxAttempts: 10,
		FirstRetry:  time.Second,
		MaxRetry:    5 * time.Minute,
		ClaimIdle:   time.Minute,
		MaxBacklog:  100000,
	}
}

// validate reports each bad webhooks.* setting through bad.
func (w Webhooks) validate(bad func(key, format string, args ...any)) {
	if w.URL != "" && !httpURL(w.URL) {
		bad("webhooks.url", "%q is not an http(s) URL; set the endpoint that follows the calls, e.g. https://crm.example.com/bgcall-events", w.URL)
	}
	if w.On() {
		switch {
		case w.Secret == "":
			bad("webhooks.secret", "is empty while webhooks are on; set a secret of 16+ random characters (e.g. `openssl rand -hex 32`) and give it to the receivers")
		case w.Secret != Redacted && len(w.Secret) < 16:
			bad("webhooks.secret", "is %d characters; use at least 16 random characters (e.g. `openssl rand -hex 32`)", len(w.Secret))
		}
	}
	if len(w.AllowedPrefixes) > 0 && !w.AllowRequestURL {
		bad("webhooks.allowed_prefixes", "is set but webhooks.allow_request_url is off; turn it on, or leave the prefixes empty")
	}
	for _, p := range w.AllowedPrefixes {
		switch u, err := url.Parse(p); {
		case !httpURL(p):
			bad("webhooks.allowed_prefixes", "%q is not the start of an http(s) URL with a host, e.g. https://crm.example.com/hooks/", p)
		case err == nil && !strings.HasPrefix(u.Path, "/"):
			// Else https://crm.example.com would let https://crm.example.com.evil.net through.
			bad("webhooks.allowed_prefixes", "%q must go on past the host, at least to its /: %s/", p, p)
		}
	}
	if w.Timeout <= 0 {
		bad("webhooks.timeout", "must be positive, e.g. 5s")
	}
	if w.MaxAttempts < 1 || w.MaxAttempts > 100 {
		bad("webhooks.max_attempts", "must be between 1 and 100")
	}
	if w.FirstRetry <= 0 {
		bad("webhooks.first_retry", "must be positive, e.g. 1s")
	}
	if w.MaxRetry < w.FirstRetry {
		bad("webhooks.max_retry_interval", "%v is shorter than webhooks.first_retry %v; set it to webhooks.first_retry or longer", w.MaxRetry, w.FirstRetry)
	}
	if w.ClaimIdle < 4*time.Second {
		bad("webhooks.claim_idle", "must be at least 4s, e.g. 1m")
	} else if w.Timeout >= w.ClaimIdle/4 {
		// A replica touches the events it holds every quarter of it: a try
		// longer than that could let another replica take an event over
		// while it is being sent.
		bad("webhooks.timeout", "%v is not under a quarter of webhooks.claim_idle (%v); shorten it or lengthen webhooks.claim_idle", w.Timeout, w.ClaimIdle)
	}
	if w.MaxBacklog < 1000 {
		bad("webhooks.max_backlog", "must be at least 1000")
	}
}

// RequestURLCheck returns the check of a request's callback URL the
// configuration asks for, nil when requests may name none.
func (w Webhooks) RequestURLCheck() func(string) error {
	if !w.AllowRequestURL {
		return nil
	}
	prefixes := w.AllowedPrefixes
	return func(u string) error {
		if len(prefixes) == 0 {
			return nil
		}
		if climbsOut(u) {
			return fmt.Errorf("%q has a . or .. path segment (or an escaped / or \\ in one), which the endpoint's server may resolve out of the allowed prefixes; name the endpoint's path plainly", u)
		}
		for _, p := range prefixes {
			if strings.HasPrefix(u, p) {
				return nil
			}
		}
		return &urlError{u, prefixes}
	}
}

// climbsOut reports whether the path of u has a segment a server may
// resolve into another directory: "." or ".." (escaped or not, or before
// a ";" parameter), or one hiding an escaped / or \. A string prefix
// of such a URL says nothing about where it leads.
func climbsOut(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return true
	}
	for seg := range strings.SplitSeq(p.EscapedPath(), "/") {
		s, err := url.PathUnescape(seg)
		if err != nil || strings.ContainsAny(s, `/\`) {
			return true
		}
		s, _, _ = strings.Cut(s, ";")
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

type urlError struct {
	url      string
	prefixes []string
}

func (e *urlError) Error() string {
	return "\"" + e.url + "\" is not under a URL this server allows (" + strings.Join(e.prefixes, ", ") + "); use one of those"
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
