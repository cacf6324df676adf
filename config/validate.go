package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"bgcall/freeswitch"
)

// Error lists every problem found in a configuration.
type Error struct {
	Problems []Problem
}

// Problem is one invalid setting and how to fix it.
type Problem struct {
	Key     string // the setting, e.g. "retry.backoff"
	Problem string // what is wrong and what to do instead
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		s, _ := lookup(p.Key)
		fmt.Fprintf(&b, "\n  %s: %s (set with %s, --%s or `%s` in the config file)", p.Key, p.Problem, s.env(), s.flag(), p.Key)
	}
	return b.String()
}

var (
	nodeNameRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	namespaceRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	causeRE     = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	replicaRE   = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	placeRE     = regexp.MustCompile(`\{[^}]*\}`)
)

// Validate checks every setting and returns an *Error naming each bad one.
func (c *Config) Validate() error {
	var ps []Problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Problem: fmt.Sprintf(format, args...)})
	}

	if len(c.FreeSWITCH.Nodes) == 0 {
		bad("freeswitch.nodes", "no FreeSWITCH node; list at least one event socket, e.g. fs1=127.0.0.1:8021")
	}
	seen := map[string]bool{}
	for _, n := range c.FreeSWITCH.Nodes {
		if !nodeNameRE.MatchString(n.Name) {
			bad("freeswitch.nodes", "node name %q must be 1-64 of letters, digits, '_', '.', '-'", n.Name)
		}
		if seen[n.Name] {
			bad("freeswitch.nodes", "node name %q is used twice; give each node its own name", n.Name)
		}
		seen[n.Name] = true
		if _, port, err := net.SplitHostPort(n.Addr); err != nil || port == "" {
			bad("freeswitch.nodes", "node %s address %q is not host:port (the event socket listens on 8021 by default)", n.Name, n.Addr)
		}
		if n.Password == Redacted {
			bad("freeswitch.nodes", "node %s's password is the placeholder %s that --print-config writes; write %s=PASSWORD@%s", n.Name, Redacted, n.Name, n.Addr)
		}
		if n.Password == "" && c.FreeSWITCH.Password == "" {
			bad("freeswitch.password", "node %s has no password; set freeswitch.password or write the node as name=password@host:port", n.Name)
		}
	}
	if c.FreeSWITCH.DialTimeout <= 0 {
		bad("freeswitch.dial_timeout", "must be positive, e.g. 5s")
	}
	if n := c.FreeSWITCH.CommandConnections; n < 1 || n > 64 {
		bad("freeswitch.command_connections", "must be 1 to 64, got %d; 4 serves a few hundred new sessions a second per node", n)
	}
	if c.FreeSWITCH.CommandTimeout <= 0 {
		bad("freeswitch.command_timeout", "must be positive, e.g. 5s")
	}
	if c.FreeSWITCH.SilenceTimeout < 5*time.Second {
		bad("freeswitch.silence_timeout", "must be at least 5s, and above FreeSWITCH's heartbeat period (20s by default); 60s is usual")
	}

	for _, t := range []struct{ key, tmpl string }{
		{"dial.callee_template", c.Dial.CalleeTemplate},
		{"dial.caller_template", c.Dial.CallerTemplate},
	} {
		switch {
		case !strings.Contains(t.tmpl, "{number}"):
			bad(t.key, "template %q has no {number}; write e.g. user/{number}@{domain} or sofia/gateway/gw1/{number}", t.tmpl)
		case strings.ContainsAny(t.tmpl, " \t\r\n'\","):
			bad(t.key, "template %q contains spaces, quotes or commas, which would break the originate command; remove them", t.tmpl)
		case strings.Contains(t.tmpl, "{domain}") && c.Dial.Domain == "":
			bad("dial.domain", "%s uses {domain} but dial.domain is empty; set it to your FreeSWITCH domain", t.key)
		}
		unknown := false
		for _, p := range placeRE.FindAllString(t.tmpl, -1) {
			if p != "{number}" && p != "{domain}" {
				bad(t.key, "unknown placeholder %s; only {number} and {domain} are replaced", p)
				unknown = true
			}
		}
		// The engine fills the template the same way; a template it would
		// refuse must stop start-up, not every call.
		missingDomain := strings.Contains(t.tmpl, "{domain}") && c.Dial.Domain == ""
		if !unknown && !missingDomain && strings.Contains(t.tmpl, "{number}") {
			if _, err := freeswitch.DialTemplate(t.tmpl).Endpoint("1000", map[string]string{"domain": c.Dial.Domain}); err != nil {
				bad(t.key, "%v", err) // names the template and what is wrong with it
			}
		}
	}
	if strings.ContainsAny(c.Dial.Domain, " \t\r\n'\",{}/@") {
		bad("dial.domain", "%q is not a domain name; use a plain name such as pbx.example.com", c.Dial.Domain)
	}

	validateCallerBusy(c.CallerBusy, bad)

	r := c.Redis
	for _, a := range r.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			bad("redis.addrs", "%q is not host:port (Redis listens on 6379, Sentinel on 26379 by default)", a)
		}
	}
	if r.Embedded() && (r.Master != "" || r.Cluster) {
		bad("redis.addrs", "redis.master or redis.cluster is set but no address is; list the sentinels or cluster nodes")
	}
	if len(r.Addrs) > 1 && r.Master == "" && !r.Cluster {
		bad("redis.addrs", "lists %d addresses but neither redis.cluster nor redis.master is set; list one server, or say whether these are cluster nodes or sentinels", len(r.Addrs))
	}
	if r.Master != "" && r.Cluster {
		bad("redis.cluster", "Sentinel (redis.master) and Cluster cannot both be on; choose one")
	}
	if r.SentinelPassword != "" && r.Master == "" {
		bad("redis.sentinel_password", "is set but redis.master is not; it is only used with Sentinel")
	}
	if r.DB < 0 {
		bad("redis.db", "must be 0 or more")
	}
	if r.Cluster && r.DB != 0 {
		bad("redis.db", "Redis Cluster has only database 0; remove redis.db")
	}
	if r.TLSCA != "" {
		if _, err := os.Stat(r.TLSCA); err != nil {
			bad("redis.tls_ca", "cannot read %s: %v", r.TLSCA, err)
		}
		if !r.TLS {
			bad("redis.tls", "redis.tls_ca is set but TLS is off; set redis.tls = true")
		}
	}
	if !namespaceRE.MatchString(c.Namespace) {
		bad("namespace", "%q must be 1-64 of letters, digits, '_', '.', ':', '-' (no braces: it becomes the Redis Cluster hash tag)", c.Namespace)
	}
	if c.Retention < time.Minute {
		bad("retention", "must be at least 1m so that finished sessions can be read")
	}

	p := c.Retry
	if p.RingTime < time.Second || p.RingTime > 10*time.Minute {
		bad("retry.ring_time", "must be between 1s and 10m (FreeSWITCH rings in whole seconds); 30s is usual")
	}
	if p.CallerRing < time.Second || p.CallerRing > 10*time.Minute {
		bad("retry.caller_ring_time", "must be between 1s and 10m; 30s is usual")
	}
	if p.FirstInterval <= 0 {
		bad("retry.first_interval", "must be positive, e.g. 1m")
	}
	if p.Backoff < 1 {
		bad("retry.backoff", "is %g; must be at least 1 (1 keeps the interval fixed)", p.Backoff)
	}
	if p.Jitter < 0 || p.Jitter > 1 {
		bad("retry.jitter", "is %g; must be between 0 and 1 (0.1 spreads each wait by ±10%%)", p.Jitter)
	}
	if p.MaxInterval < p.FirstInterval {
		bad("retry.max_interval", "%s is shorter than retry.first_interval %s; raise it", formatDuration(p.MaxInterval), formatDuration(p.FirstInterval))
	}
	if p.MaxAttempts < 0 {
		bad("retry.max_attempts", "must be 0 (no cap) or more")
	}
	if p.MaxTotal <= 0 {
		bad("retry.max_total", "must be positive: a session always ends; e.g. 2h")
	}
	if p.QuietStart.Set() != p.QuietEnd.Set() {
		bad("retry.quiet_start", "set both retry.quiet_start and retry.quiet_end (e.g. 21:00 and 08:00) or neither")
	} else if p.QuietStart.Set() && p.QuietStart == p.QuietEnd {
		bad("retry.quiet_end", "quiet hours start and end at the same time; clear both to have none")
	}
	if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "" {
		bad("retry.timezone", "%q is not an IANA time zone; use e.g. UTC or Europe/Berlin", p.Timezone)
	}
	if p.VoicemailAfter < 0 || p.VoicemailAfter > 10*time.Minute {
		bad("retry.voicemail_after", "must be between 0 (unknown) and 10m; mobile networks answer with voicemail after 15-30s")
	}
	if c.Confirm.Timeout < time.Second || c.Confirm.Timeout > 2*time.Minute {
		bad("confirm.timeout", "must be between 1s and 2m (a request may switch confirmation on even when confirm.enabled is off); 10s gives B time to hear the prompt and press 1")
	}
	causesSeen := map[string]bool{}
	for _, rule := range p.Causes {
		if !causeRE.MatchString(rule.Cause) || !freeswitch.ParseCause(rule.Cause).Known() {
			bad("retry.causes", "%q is not a FreeSWITCH hangup cause such as USER_BUSY or NO_ANSWER", rule.Cause)
		}
		if causesSeen[rule.Cause] {
			bad("retry.causes", "%s has two rules; keep one", rule.Cause)
		}
		causesSeen[rule.Cause] = true
	}

	for _, pr := range []struct{ key, path string }{
		{"prompts.hold", c.Prompts.Hold},
		{"prompts.caller_unavailable", c.Prompts.CallerUnavailable},
		{"prompts.cancelled", c.Prompts.Cancelled},
		{"prompts.confirm", c.Prompts.Confirm},
	} {
		if pr.path == "" {
			bad(pr.key, "is empty; name a sound file FreeSWITCH can play, e.g. ivr/ivr-please_hold_while_party_contacted.wav")
		} else if strings.ContainsAny(pr.path, "\r\n\t ") {
			bad(pr.key, "%q contains white space; FreeSWITCH's uuid_broadcast would split it", pr.path)
		}
	}
	// {caller} becomes A's number; anything else uuid_broadcast would take
	// for variables or split on, the engine would refuse at every call.
	if rest := strings.ReplaceAll(c.Prompts.Confirm, "{caller}", "1000"); rest != "" && !strings.ContainsAny(rest, "\r\n\t ") {
		if _, err := freeswitch.UUIDBroadcast("00000000-0000-4000-8000-000000000000", rest, "aleg"); err != nil {
			bad("prompts.confirm", "%q: %v; only {caller} is replaced", c.Prompts.Confirm, err)
		}
	}

	n := c.Notify
	switch n.Mode {
	case "none", "chat", "webhook", "both":
	default:
		bad("notify.mode", "%q: must be none, chat, webhook or both", n.Mode)
	}
	if n.Mode == "chat" || n.Mode == "both" {
		if n.ChatProto == "" || n.ChatFrom == "" || n.ChatTo == "" {
			bad("notify.chat_proto", "chat notifications need notify.chat_proto, notify.chat_from and notify.chat_to")
		}
		if strings.Contains(n.ChatFrom+n.ChatTo, "{domain}") && c.Dial.Domain == "" {
			bad("dial.domain", "notify.chat_from or notify.chat_to uses {domain} but dial.domain is empty; set it to your SIP domain")
		}
		if strings.ContainsAny(n.ChatFrom+n.ChatTo+n.ChatProto, "|\r\n") {
			bad("notify.chat_to", "chat fields cannot contain '|' or line breaks (they separate the chat command's fields)")
		}
	}
	if n.Mode == "webhook" || n.Mode == "both" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("notify.webhook_url", "%q is not an http(s) URL; set the SMS gateway's endpoint", n.WebhookURL)
		}
	}
	if n.Timeout <= 0 {
		bad("notify.timeout", "must be positive, e.g. 5s")
	}
	if n.Retries < 0 {
		bad("notify.retries", "must be 0 or more")
	}

	c.Webhooks.validate(bad)

	if c.Limits.PerCaller < 1 {
		bad("limits.per_caller", "must be at least 1")
	}
	if c.Limits.PerCallee < 1 {
		bad("limits.per_callee", "must be at least 1")
	}

	if c.Phone.Enabled {
		if _, port, err := net.SplitHostPort(c.Phone.Listen); err != nil || port == "" {
			bad("phone.listen", "%q is not host:port; e.g. 127.0.0.1:8084, the address the shipped dialplan uses", c.Phone.Listen)
		}
		codes := []struct{ key, code string }{
			{"phone.on_prefix", c.Phone.OnPrefix}, {"phone.off_prefix", c.Phone.OffPrefix},
			{"phone.optout_prefix", c.Phone.OptOutPrefix}, {"phone.optin_prefix", c.Phone.OptInPrefix},
		}
		for i, fc := range codes {
			if err := freeswitch.ValidFeatureCode(fc.code); err != nil {
				bad(fc.key, "%q: %v; use * or # and digits, e.g. *88", fc.code, err)
				continue
			}
			for _, earlier := range codes[:i] {
				if fc.code == earlier.code {
					bad(fc.key, "is the same as %s (%s); give each feature code its own", earlier.key, fc.code)
				}
			}
		}
		if c.Phone.OfferThreshold < 0 {
			bad("phone.offer_threshold", "must be 0 (never offer) or more")
		}
		if c.Phone.OfferWindow <= 0 {
			bad("phone.offer_window", "must be positive, e.g. 1h")
		}
		if c.Phone.DigitTimeout <= 0 {
			bad("phone.digit_timeout", "must be positive, e.g. 5s")
		}
		if c.Phone.OfferByMessage && c.Notify.Mode == "none" {
			bad("phone.offer_by_message", "is set but notify.mode is none; set notify.mode to chat, webhook or both")
		}
	}

	host, _, err := net.SplitHostPort(c.API.Listen)
	if err != nil {
		bad("api.listen", "%q is not host:port; e.g. 127.0.0.1:8080 or :8080 for every interface", c.API.Listen)
	} else if c.API.Token == "" && !isLoopback(host) {
		bad("api.token", "is empty while api.listen %s is reachable from other hosts; set a token of 16+ random characters (e.g. `openssl rand -hex 32`) or listen on 127.0.0.1", c.API.Listen)
	}
	if c.API.Token != "" && c.API.Token != Redacted && len(c.API.Token) < 16 {
		bad("api.token", "is %d characters; use at least 16 random characters (e.g. `openssl rand -hex 32`)", len(c.API.Token))
	}
	if c.API.MaxBody < 1024 {
		bad("api.max_body", "must be at least 1024 bytes")
	}
	if c.Metrics.PprofListen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.PprofListen); err != nil {
			bad("pprof.listen", "%q is not host:port; e.g. 127.0.0.1:6060", c.Metrics.PprofListen)
		}
	}

	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: must be text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: must be debug, info, warn or error", c.Log.Level)
	}
	if c.ReplicaID != "" && !replicaRE.MatchString(c.ReplicaID) {
		bad("replica.id", "%q must be 1-128 of letters, digits, '_', '.', ':', '-'", c.ReplicaID)
	}
	if c.LeaseTTL < time.Second || c.LeaseTTL > 5*time.Minute {
		bad("replica.lease_ttl", "must be between 1s and 5m; shorter takes over sooner after a crash, longer tolerates slower Redis")
	}
	if c.Drain < 0 {
		bad("drain.timeout", "must be 0 (exit at once) or more")
	}

	for _, s := range settings {
		if s.secret && s.get(c) == Redacted {
			bad(s.key, "holds the placeholder %s that --print-config writes instead of the secret; write the real value", Redacted)
		}
	}

	if len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}

// Warnings returns what in c works but is likely not what the operator
// wants; the daemon logs each at start as a WARNING. c must be valid.
func (c *Config) Warnings() []Problem {
	var ps []Problem
	p := c.Retry
	if p.VoicemailAfter > 0 && p.RingTime >= p.VoicemailAfter && !c.Confirm.Enabled {
		ps = append(ps, Problem{Key: "retry.ring_time", Problem: fmt.Sprintf(
			"%s is not shorter than retry.voicemail_after %s and confirm.enabled is off: B's voicemail may answer in B's place and A would be connected to it; "+
				"set retry.ring_time below %s, or switch confirm.enabled on (or set retry.voicemail_after = 0 if your network has no voicemail)",
			formatDuration(p.RingTime), formatDuration(p.VoicemailAfter), formatDuration(p.VoicemailAfter))})
	}
	if c.Confirm.MachineDetection && !c.Confirm.Enabled {
		ps = append(ps, Problem{Key: "confirm.machine_detection", Problem: "is on but confirm.enabled is off: beeps are listened for only while B is asked to confirm, so only requests that ask for it (policy.confirm) are covered; switch confirm.enabled on"})
	}
	if c.Webhooks.AllowRequestURL && len(c.Webhooks.AllowedPrefixes) == 0 {
		ps = append(ps, Problem{Key: "webhooks.allowed_prefixes", Problem: "is empty while webhooks.allow_request_url is on: any API client can make bgcall post to any host it reaches, loopback and internal services included; " +
			"list the endpoints' URLs, e.g. https://crm.example.com/hooks/"})
	}
	return ps
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateCallerBusy checks the caller_busy settings.
func validateCallerBusy(b CallerBusy, bad func(key, format string, args ...any)) {
	switch b.Check {
	case "channels", "off":
	case "command":
		if b.Command == "" {
			bad("caller_busy.command", "is empty but caller_busy.check is command; write an API command with {number}, e.g. hash select/busy/{number}, or set caller_busy.check=channels")
		} else if err := freeswitch.CommandTemplate(b.Command).Validate(); err != nil {
			bad("caller_busy.command", "%v", err) // names the template and what is wrong
		}
		if _, err := regexp.Compile(b.BusyReply); err != nil {
			bad("caller_busy.busy_reply", "%q is not a regular expression: %v", b.BusyReply, err)
		} else if b.BusyReply == "" {
			bad("caller_busy.busy_reply", "is empty, which every reply matches; write what a busy reply looks like, e.g. ^(true|[1-9][0-9]*)$")
		}
	default:
		bad("caller_busy.check", "%q is not channels, command or off", b.Check)
	}
	if b.Wait < 0 {
		bad("caller_busy.wait", "must not be negative; 0 ends the session at once when A is busy, e.g. 20s holds B that long")
	}
	if b.Interval <= 0 {
		bad("caller_busy.interval", "must be positive, e.g. 2s")
	} else if b.Wait > 0 && b.Interval > b.Wait {
		bad("caller_busy.interval", "%v is longer than caller_busy.wait %v: A would be asked once only; make it shorter, e.g. 2s", b.Interval, b.Wait)
	}
	if b.Wait > 5*time.Minute {
		bad("caller_busy.wait", "%v holds B too long on hold; at most 5m (20s is usual)", b.Wait)
	}
	if b.BeforeCallee && b.Defer <= 0 {
		bad("caller_busy.defer", "must be positive with caller_busy.before_callee, e.g. 30s")
	}
}
