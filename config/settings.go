package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"bgcall/freeswitch"
)

// setting binds one key to one field of Config.
type setting struct {
	key    string
	help   string
	get    func(*Config) string
	set    func(*Config, string) error
	kind   string // what the value is, for -h: "duration", "number", ...
	bool   bool   // a flag that may be given without a value
	secret bool   // never printed
}

// Env is the environment variable that sets the key's value.
func (s setting) env() string {
	return "BGCALL_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

// flag is the command-line flag (without dashes) that sets the key's value.
func (s setting) flag() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(s.key)
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		FreeSWITCH: FreeSWITCH{
			Nodes:              []Node{{Name: "fs1", Addr: "127.0.0.1:8021"}},
			Password:           "ClueCon",
			DialTimeout:        5 * time.Second,
			CommandTimeout:     5 * time.Second,
			CommandConnections: 4,
			SilenceTimeout:     time.Minute,
		},
		Dial: Dial{
			// FreeSWITCH's user endpoint falls back to its default domain,
			// so the plain form works on a stock install.
			CalleeTemplate: "user/{number}",
			CallerTemplate: "user/{number}",
		},
		Namespace: "bgcall",
		Retention: 7 * 24 * time.Hour,
		Retry: Retry{
			RingTime:      30 * time.Second,
			CallerRing:    30 * time.Second,
			FirstInterval: time.Minute,
			Backoff:       2,
			Jitter:        0.1,
			MaxInterval:   15 * time.Minute,
			MaxAttempts:   10,
			MaxTotal:      2 * time.Hour,
			QuietStart:    21 * 60,
			QuietEnd:      8 * 60,
			Timezone:      "UTC",
			Causes:        defaultCauseRules(),
			// Unknown until the operator states the network's delay
			// (mobile networks forward to voicemail after 15-30 s): a
			// default that warned would warn every deployment.
			VoicemailAfter: 0,
		},
		Confirm: Confirm{Timeout: 10 * time.Second},
		Prompts: Prompts{
			Hold:              "local_stream://moh",
			CallerUnavailable: "ivr/ivr-not_available.wav",
			Cancelled:         "ivr/ivr-call_cannot_be_completed_as_dialed.wav",
			Confirm:           "ivr/ivr-accept_reject_voicemail.wav",
		},
		CallerBusy: CallerBusy{
			Check:     "channels",
			BusyReply: `^(?i:true|yes|busy|[1-9][0-9]*)$`,
			Wait:      20 * time.Second,
			Interval:  2 * time.Second,
			Defer:     30 * time.Second,
		},
		Notify: Notify{
			Mode:             "none",
			ChatProto:        "sip",
			ChatFrom:         "bgcall@{domain}",
			ChatTo:           "{caller}@{domain}",
			Timeout:          5 * time.Second,
			Retries:          3,
			SMSTemplate:      "{callee} called you back at {time} and could not reach you. Call {callee} to talk.",
			BusyTemplate:     "{callee} called you back at {time} while you were on another call. Call {callee} to talk.",
			DeclinedTemplate: "{callee} answered your background call at {time} and declined it.",
			OfferTemplate:    "{callee} did not answer your last {missed} calls. Dial {on_prefix}{callee} and we will keep trying {callee} and call you back when they answer.",
		},
		Webhooks: defaultWebhooks(),
		Limits:   Limits{PerCaller: 5, PerCallee: 3},
		Phone: Phone{
			Listen:         "127.0.0.1:8084",
			OnPrefix:       "*88",
			OffPrefix:      "*89",
			OptOutPrefix:   "*87",
			OptInPrefix:    "*86",
			OfferThreshold: 3,
			OfferWindow:    time.Hour,
			DigitTimeout:   5 * time.Second,
			Prompts: PhonePrompts{
				On:       "ivr/ivr-thank_you.wav",
				Off:      "ivr/ivr-call_cancelled.wav",
				NotFound: "ivr/ivr-no_match_trying_again.wav",
				Limit:    "ivr/ivr-all_circuits_busy.wav",
				Invalid:  "ivr/ivr-that_was_an_invalid_entry.wav",
				Failed:   "ivr/ivr-call_cannot_be_completed_as_dialed.wav",
				Offer:    "ivr/ivr-please_choose_from_the_following.wav",
				OptedOut: "ivr/ivr-you_are_now_logged_out.wav",
				OptedIn:  "ivr/ivr-you_are_now_logged_in.wav",
				Refused:  "ivr/ivr-not_available.wav",
			},
		},
		API: API{
			Listen:  "127.0.0.1:8080",
			MaxBody: 64 << 10,
		},
		Metrics:  Metrics{Enabled: true},
		Log:      Log{Format: "text", Level: "info"},
		LeaseTTL: 10 * time.Second,
		Drain:    60 * time.Second,
	}
}

// settings lists every key, in the order the reference shows them.
var settings = []setting{
	nodesSetting("freeswitch.nodes", "FreeSWITCH event sockets, comma-separated `[name=][password@]host:port`; names label metrics and sessions", func(c *Config) *[]Node { return &c.FreeSWITCH.Nodes }),
	secretSetting(str("freeswitch.password", "event socket password for nodes whose entry names none", func(c *Config) *string { return &c.FreeSWITCH.Password })),
	dur("freeswitch.dial_timeout", "TCP connect and auth bound per event socket connection", func(c *Config) *time.Duration { return &c.FreeSWITCH.DialTimeout }),
	dur("freeswitch.command_timeout", "bound on one api/bgapi command reply", func(c *Config) *time.Duration { return &c.FreeSWITCH.CommandTimeout }),
	integer("freeswitch.command_connections", "event socket connections per node for api/bgapi commands, besides the one for events; each carries one command at a time and costs FreeSWITCH a thread", func(c *Config) *int { return &c.FreeSWITCH.CommandConnections }),
	dur("freeswitch.silence_timeout", "a node that sends nothing (not even its HEARTBEAT, every 20s by default) for this long is reconnected", func(c *Config) *time.Duration { return &c.FreeSWITCH.SilenceTimeout }),

	str("dial.callee_template", "dial string for B; `{number}` and `{domain}` are replaced (e.g. `user/{number}@{domain}`, `sofia/gateway/gw1/{number}`)", func(c *Config) *string { return &c.Dial.CalleeTemplate }),
	str("dial.caller_template", "dial string for A (the call back)", func(c *Config) *string { return &c.Dial.CallerTemplate }),
	str("dial.domain", "value of `{domain}` in the dial templates and chat addresses", func(c *Config) *string { return &c.Dial.Domain }),

	list("redis.addrs", "Redis `host:port` list; empty = embedded in-process store (sessions lost on exit; one replica only)", func(c *Config) *[]string { return &c.Redis.Addrs }),
	str("redis.master", "Sentinel master name; `redis.addrs` are then the sentinels", func(c *Config) *string { return &c.Redis.Master }),
	boolean("redis.cluster", "talk Redis Cluster to `redis.addrs`", func(c *Config) *bool { return &c.Redis.Cluster }),
	str("redis.username", "Redis ACL user", func(c *Config) *string { return &c.Redis.Username }),
	secretSetting(str("redis.password", "Redis password", func(c *Config) *string { return &c.Redis.Password })),
	secretSetting(str("redis.sentinel_password", "password of the sentinels themselves (not of the data nodes); empty when they have none", func(c *Config) *string { return &c.Redis.SentinelPassword })),
	integer("redis.db", "Redis database number (not with cluster)", func(c *Config) *int { return &c.Redis.DB }),
	boolean("redis.tls", "connect to Redis over TLS", func(c *Config) *bool { return &c.Redis.TLS }),
	str("redis.tls_ca", "PEM file of CA certificates for Redis TLS (default: system roots)", func(c *Config) *string { return &c.Redis.TLSCA }),
	boolean("redis.tls_insecure", "skip Redis TLS certificate verification (testing only)", func(c *Config) *bool { return &c.Redis.TLSInsecure }),
	str("namespace", "Redis key prefix; replicas sharing sessions use the same one", func(c *Config) *string { return &c.Namespace }),
	dur("retention", "how long finished sessions stay readable", func(c *Config) *time.Duration { return &c.Retention }),

	dur("retry.ring_time", "how long each callee attempt rings", func(c *Config) *time.Duration { return &c.Retry.RingTime }),
	dur("retry.caller_ring_time", "how long the call back to A rings", func(c *Config) *time.Duration { return &c.Retry.CallerRing }),
	dur("retry.first_interval", "wait after the first unanswered attempt", func(c *Config) *time.Duration { return &c.Retry.FirstInterval }),
	float("retry.backoff", "each further wait is the previous one times this (>= 1)", func(c *Config) *float64 { return &c.Retry.Backoff }),
	float("retry.jitter", "random spread of each wait, as a fraction (0..1)", func(c *Config) *float64 { return &c.Retry.Jitter }),
	dur("retry.max_interval", "longest wait between attempts", func(c *Config) *time.Duration { return &c.Retry.MaxInterval }),
	integer("retry.max_attempts", "callee attempts before the session expires; 0 = until B answers", func(c *Config) *int { return &c.Retry.MaxAttempts }),
	dur("retry.max_total", "time after which the session expires (always applies), counted from the request or, for a request made in quiet hours, from their end", func(c *Config) *time.Duration { return &c.Retry.MaxTotal }),
	clock("retry.quiet_start", "start of quiet hours (`HH:MM`), when no attempt is made; empty = none", func(c *Config) *Clock { return &c.Retry.QuietStart }),
	clock("retry.quiet_end", "end of quiet hours (`HH:MM`)", func(c *Config) *Clock { return &c.Retry.QuietEnd }),
	str("retry.timezone", "IANA time zone of the quiet hours", func(c *Config) *string { return &c.Retry.Timezone }),
	dur("retry.voicemail_after", "how long the network lets B ring before its voicemail answers (mobile networks: 15-30s); a `retry.ring_time` this long or longer without `confirm.enabled` is warned about at start and in the API; 0 = unknown, no warning", func(c *Config) *time.Duration { return &c.Retry.VoicemailAfter }),
	causes("retry.causes", "per hangup cause of a callee attempt, comma-separated: `CAUSE=fail` ends the session as failed; `CAUSE=retry[:DELAY][:max=N]` retries after DELAY instead of the backoff and expires the session after N attempts with that cause. Replaces the whole list; unlisted causes retry with backoff", func(c *Config) *[]CauseRule { return &c.Retry.Causes }),

	boolean("confirm.enabled", "ask B, once answered, to press 1 before A is called (2 declines); no key within `confirm.timeout` counts as no answer, so a voicemail that answers for B is not connected to A. A request may say otherwise (`policy.confirm`)", func(c *Config) *bool { return &c.Confirm.Enabled }),
	dur("confirm.timeout", "how long B has, from answering, to press a key", func(c *Config) *time.Duration { return &c.Confirm.Timeout }),
	boolean("confirm.decline_opts_out", "B's 2 at the confirmation prompt also means \"never from this caller\": B opts out of background calls from A, as `*87<A>` would (docs/optout.md); say so in `prompts.confirm`", func(c *Config) *bool { return &c.Confirm.DeclineOptsOut }),
	boolean("confirm.machine_detection", "while B is asked to confirm, listen for a voicemail's beep with FreeSWITCH's mod_avmd and count it as no answer; nodes without mod_avmd loaded are named in a warning at start and go without", func(c *Config) *bool { return &c.Confirm.MachineDetection }),

	str("prompts.hold", "played to B while A is called (FreeSWITCH's stock music on hold by default)", func(c *Config) *string { return &c.Prompts.Hold }),
	str("prompts.caller_unavailable", "played to B when A does not answer, before B is hung up", func(c *Config) *string { return &c.Prompts.CallerUnavailable }),
	str("prompts.cancelled", "played to B when the session is cancelled while B is on hold", func(c *Config) *string { return &c.Prompts.Cancelled }),
	str("prompts.confirm", "played to B, again and again, while B is asked to confirm: press 1 to be connected, 2 to decline; `{caller}` is replaced by A's number (for a phrase macro, e.g. `phrase::bgcall-confirm:{caller}`)", func(c *Config) *string { return &c.Prompts.Confirm }),

	str("caller_busy.check", "how bgcall asks whether A is in a call before ringing A back: `channels` (A's channels on the node, `show channels like`), `command` (`caller_busy.command`), `off`", func(c *Config) *string { return &c.CallerBusy.Check }),
	str("caller_busy.command", "with `caller_busy.check=command`: a FreeSWITCH API command whose reply says whether `{number}` is busy, e.g. `hash select/busy/{number}`", func(c *Config) *string { return &c.CallerBusy.Command }),
	str("caller_busy.busy_reply", "with `caller_busy.check=command`: regular expression the command's reply (blanks trimmed) matches when A is busy", func(c *Config) *string { return &c.CallerBusy.BusyReply }),
	dur("caller_busy.wait", "how long B holds, after answering, for a busy A to be free; then B hears `prompts.caller_unavailable`, A gets the message, the outcome is `caller_busy`; 0 = at once", func(c *Config) *time.Duration { return &c.CallerBusy.Wait }),
	dur("caller_busy.interval", "how often a busy A is asked again while B holds", func(c *Config) *time.Duration { return &c.CallerBusy.Interval }),
	boolean("caller_busy.before_callee", "also ask before dialling B: a busy A puts the attempt off by `caller_busy.defer` without counting it (Asterisk's CC_CALLER_BUSY)", func(c *Config) *bool { return &c.CallerBusy.BeforeCallee }),
	dur("caller_busy.defer", "with `caller_busy.before_callee`: how long an attempt is put off while A is busy", func(c *Config) *time.Duration { return &c.CallerBusy.Defer }),

	str("notify.mode", "how A is told B was missed: `none`, `chat` (FreeSWITCH chat API), `webhook`, `both`", func(c *Config) *string { return &c.Notify.Mode }),
	str("notify.chat_proto", "chat protocol (`sip`)", func(c *Config) *string { return &c.Notify.ChatProto }),
	str("notify.chat_from", "chat sender; `{domain}` and `{callee}` replaced", func(c *Config) *string { return &c.Notify.ChatFrom }),
	str("notify.chat_to", "chat recipient (A); `{caller}` and `{domain}` replaced", func(c *Config) *string { return &c.Notify.ChatTo }),
	str("notify.webhook_url", "SMS gateway URL; receives a JSON POST `{to,from,text,session_id,at}`", func(c *Config) *string { return &c.Notify.WebhookURL }),
	dur("notify.timeout", "bound on one notification attempt", func(c *Config) *time.Duration { return &c.Notify.Timeout }),
	integer("notify.retries", "further tries after a failed notification (backoff doubles from 1s)", func(c *Config) *int { return &c.Notify.Retries }),
	str("notify.sms_template", "text sent to A; `{caller}`, `{callee}` and `{time}` (when B called, in the session's time zone: `retry.timezone` or the request's) replaced", func(c *Config) *string { return &c.Notify.SMSTemplate }),
	str("notify.busy_template", "text sent to A when A was on another call all the while B held (outcome `caller_busy`); the same placeholders as `notify.sms_template`", func(c *Config) *string { return &c.Notify.BusyTemplate }),
	str("notify.declined_template", "text sent to A when B declined (pressed 2 at the confirmation prompt); `{caller}`, `{callee}` and `{time}` replaced", func(c *Config) *string { return &c.Notify.DeclinedTemplate }),
	str("notify.offer_template", "the automatic offer by message (`phone.offer_by_message`); `{caller}`, `{callee}`, `{missed}`, `{time}` and `{on_prefix}` replaced", func(c *Config) *string { return &c.Notify.OfferTemplate }),

	str("webhooks.url", "receives every session's lifecycle events (created, attempts, answers, bridged, finished) as signed JSON POSTs, see docs/webhooks.md; empty = none", func(c *Config) *string { return &c.Webhooks.URL }),
	secretSetting(str("webhooks.secret", "key of the HMAC-SHA256 `Bgcall-Signature` of every webhook request; required when `webhooks.url` is set or `webhooks.allow_request_url` is on", func(c *Config) *string { return &c.Webhooks.Secret })),
	boolean("webhooks.allow_request_url", "a request may name a `callback_url` of its own, which gets its session's events too; off: such a request is refused", func(c *Config) *bool { return &c.Webhooks.AllowRequestURL }),
	list("webhooks.allowed_prefixes", "with `webhooks.allow_request_url`: a request's `callback_url` must start with one of these, comma-separated (e.g. `https://crm.example.com/hooks/`); empty = any http(s) URL", func(c *Config) *[]string { return &c.Webhooks.AllowedPrefixes }),
	dur("webhooks.timeout", "bound on one webhook try; under a quarter of `webhooks.claim_idle`", func(c *Config) *time.Duration { return &c.Webhooks.Timeout }),
	integer("webhooks.max_attempts", "tries of one event (by one replica) before it is given up; any answer but 2xx, or none, is tried again", func(c *Config) *int { return &c.Webhooks.MaxAttempts }),
	dur("webhooks.first_retry", "wait before the first retry of an event; each further wait doubles (±20%)", func(c *Config) *time.Duration { return &c.Webhooks.FirstRetry }),
	dur("webhooks.max_retry_interval", "longest wait between two tries of an event", func(c *Config) *time.Duration { return &c.Webhooks.MaxRetry }),
	dur("webhooks.claim_idle", "events a replica read and has not touched for this long (it died or hangs) are taken over by another", func(c *Config) *time.Duration { return &c.Webhooks.ClaimIdle }),
	integer("webhooks.max_backlog", "events the outbox in Redis keeps at most; past it the oldest are dropped, so that an endpoint down for long cannot fill Redis", func(c *Config) *int { return &c.Webhooks.MaxBacklog }),

	integer("limits.per_caller", "live sessions one caller may have", func(c *Config) *int { return &c.Limits.PerCaller }),
	integer("limits.per_callee", "live sessions one callee may be the target of", func(c *Config) *int { return &c.Limits.PerCallee }),

	boolean("phone.enabled", "listen for FreeSWITCH's socket application: feature codes from A's phone and the automatic offer (install deploy/freeswitch first)", func(c *Config) *bool { return &c.Phone.Enabled }),
	str("phone.listen", "address the dialplan's `socket` application connects to", func(c *Config) *string { return &c.Phone.Listen }),
	str("phone.on_prefix", "feature code that switches background calling on: prefix + B's number", func(c *Config) *string { return &c.Phone.OnPrefix }),
	str("phone.off_prefix", "feature code that switches it off: prefix + B's number, or the prefix alone for all of A's sessions", func(c *Config) *string { return &c.Phone.OffPrefix }),
	str("phone.optout_prefix", "feature code B dials to refuse background calls: the prefix alone from every caller, prefix + A's number from A alone", func(c *Config) *string { return &c.Phone.OptOutPrefix }),
	str("phone.optin_prefix", "feature code B dials to take background calls again: the prefix alone from everyone (every opt-out of B goes), prefix + A's number from A", func(c *Config) *string { return &c.Phone.OptInPrefix }),
	integer("phone.offer_threshold", "unanswered calls from A to B in a row that bring the offer; 0 = never offer", func(c *Config) *int { return &c.Phone.OfferThreshold }),
	dur("phone.offer_window", "the unanswered calls counted for the offer must fall within this", func(c *Config) *time.Duration { return &c.Phone.OfferWindow }),
	dur("phone.digit_timeout", "how long the offer waits for A to press 1", func(c *Config) *time.Duration { return &c.Phone.DigitTimeout }),
	boolean("phone.offer_by_message", "also send the offer by `notify.mode` when an unanswered call never reached the listener (no dialplan hook)", func(c *Config) *bool { return &c.Phone.OfferByMessage }),
	str("phone.prompts.on", "A hears this when background calling to B is on", func(c *Config) *string { return &c.Phone.Prompts.On }),
	str("phone.prompts.off", "A hears this when it is switched off", func(c *Config) *string { return &c.Phone.Prompts.Off }),
	str("phone.prompts.not_found", "A hears this when there is nothing to switch off", func(c *Config) *string { return &c.Phone.Prompts.NotFound }),
	str("phone.prompts.limit", "A hears this when A or B has too many background calls", func(c *Config) *string { return &c.Phone.Prompts.Limit }),
	str("phone.prompts.invalid", "A hears this when the digits after the prefix are not a number", func(c *Config) *string { return &c.Phone.Prompts.Invalid }),
	str("phone.prompts.failed", "A hears this when anything else went wrong", func(c *Config) *string { return &c.Phone.Prompts.Failed }),
	str("phone.prompts.offer", "the offer: press 1 for a background call to B", func(c *Config) *string { return &c.Phone.Prompts.Offer }),
	str("phone.prompts.opted_out", "B hears this after the opt-out code: no more background calls (from everyone, or from A)", func(c *Config) *string { return &c.Phone.Prompts.OptedOut }),
	str("phone.prompts.opted_in", "B hears this after the opt-in code: background calls are welcome again", func(c *Config) *string { return &c.Phone.Prompts.OptedIn }),
	str("phone.prompts.refused", "A hears this when B opted out of background calls", func(c *Config) *string { return &c.Phone.Prompts.Refused }),

	str("api.listen", "HTTP API address", func(c *Config) *string { return &c.API.Listen }),
	secretSetting(str("api.token", "bearer token the API requires; required unless `api.listen` is a loopback address", func(c *Config) *string { return &c.API.Token })),
	int64Setting("api.max_body", "largest accepted request body, bytes", func(c *Config) *int64 { return &c.API.MaxBody }),
	boolean("metrics.enabled", "serve Prometheus metrics at `/metrics` on the API listener", func(c *Config) *bool { return &c.Metrics.Enabled }),
	str("pprof.listen", "address for net/http/pprof (e.g. `127.0.0.1:6060`); empty = off", func(c *Config) *string { return &c.Metrics.PprofListen }),

	str("log.format", "`text` or `json`", func(c *Config) *string { return &c.Log.Format }),
	str("log.level", "`debug`, `info`, `warn` or `error`", func(c *Config) *string { return &c.Log.Level }),
	str("replica.id", "this replica's name, unique among replicas; default: the host name", func(c *Config) *string { return &c.ReplicaID }),
	dur("replica.lease_ttl", "a replica that has not renewed its lease for this long is presumed dead; another takes over its sessions", func(c *Config) *time.Duration { return &c.LeaseTTL }),
	dur("drain.timeout", "on SIGTERM, how long live calls may go on before the daemon exits", func(c *Config) *time.Duration { return &c.Drain }),
}

func secretSetting(s setting) setting {
	s.secret = true
	return s
}

func lookup(key string) (setting, bool) {
	for _, s := range settings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

func str(key, help string, field func(*Config) *string) setting {
	return setting{key: key, help: help, kind: "text",
		get: func(c *Config) string { return *field(c) },
		set: func(c *Config, v string) error { *field(c) = v; return nil },
	}
}

func dur(key, help string, field func(*Config) *time.Duration) setting {
	return setting{key: key, help: help, kind: "duration",
		get: func(c *Config) string { return formatDuration(*field(c)) },
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want a duration such as 30s, 5m or 1h30m, got %q", v)
			}
			*field(c) = d
			return nil
		},
	}
}

// formatDuration drops the zero units time.Duration.String keeps ("2h0m0s" → "2h").
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func integer(key, help string, field func(*Config) *int) setting {
	return setting{key: key, help: help, kind: "number",
		get: func(c *Config) string { return strconv.Itoa(*field(c)) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want a whole number, got %q", v)
			}
			*field(c) = n
			return nil
		},
	}
}

func int64Setting(key, help string, field func(*Config) *int64) setting {
	return setting{key: key, help: help, kind: "number",
		get: func(c *Config) string { return strconv.FormatInt(*field(c), 10) },
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return fmt.Errorf("want a whole number, got %q", v)
			}
			*field(c) = n
			return nil
		},
	}
}

func float(key, help string, field func(*Config) *float64) setting {
	return setting{key: key, help: help, kind: "number",
		get: func(c *Config) string { return strconv.FormatFloat(*field(c), 'g', -1, 64) },
		set: func(c *Config, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return fmt.Errorf("want a number such as 2 or 0.1, got %q", v)
			}
			*field(c) = f
			return nil
		},
	}
}

func boolean(key, help string, field func(*Config) *bool) setting {
	return setting{key: key, help: help, kind: "", bool: true,
		get: func(c *Config) string { return strconv.FormatBool(*field(c)) },
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*field(c) = b
			return nil
		},
	}
}

func list(key, help string, field func(*Config) *[]string) setting {
	return setting{key: key, help: help, kind: "list",
		get: func(c *Config) string { return strings.Join(*field(c), ",") },
		set: func(c *Config, v string) error { *field(c) = splitList(v); return nil },
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func clock(key, help string, field func(*Config) *Clock) setting {
	return setting{key: key, help: help, kind: "HH:MM",
		get: func(c *Config) string { return field(c).String() },
		set: func(c *Config, v string) error {
			ck, err := ParseClock(v)
			if err != nil {
				return err
			}
			*field(c) = ck
			return nil
		},
	}
}

// ParseClock reads "HH:MM" (24-hour); "" is unset.
func ParseClock(v string) (Clock, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1, nil
	}
	t, err := time.Parse("15:04", v)
	if err != nil {
		return -1, fmt.Errorf("want a time of day as HH:MM (24-hour), got %q", v)
	}
	return Clock(t.Hour()*60 + t.Minute()), nil
}

func (c Clock) String() string {
	if !c.Set() {
		return ""
	}
	return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60)
}

func nodesSetting(key, help string, field func(*Config) *[]Node) setting {
	return setting{key: key, help: help, kind: "nodes",
		get: func(c *Config) string {
			var parts []string
			for _, n := range *field(c) {
				p := n.Name + "="
				if n.Password != "" {
					p += Redacted + "@"
				}
				parts = append(parts, p+n.Addr)
			}
			return strings.Join(parts, ",")
		},
		set: func(c *Config, v string) error {
			nodes, err := ParseNodes(v)
			if err != nil {
				return err
			}
			*field(c) = nodes
			return nil
		},
	}
}

// ParseNodes reads a comma-separated list of `[name=][password@]host:port`.
// Unnamed nodes are called fs1, fs2, ... by position.
func ParseNodes(v string) ([]Node, error) {
	var nodes []Node
	for i, p := range splitList(v) {
		n := Node{Name: fmt.Sprintf("fs%d", i+1)}
		if name, rest, ok := strings.Cut(p, "="); ok {
			n.Name, p = strings.TrimSpace(name), strings.TrimSpace(rest)
		}
		if at := strings.LastIndex(p, "@"); at >= 0 {
			n.Password, p = p[:at], p[at+1:]
		}
		n.Addr = p
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// defaultCauseRules are the causes' default verdicts
// (freeswitch.Cause.Verdict), in FreeSWITCH's code order.
func defaultCauseRules() []CauseRule {
	var rules []CauseRule
	for _, c := range freeswitch.Causes() {
		switch v := c.Verdict(); {
		case v.Fail:
			rules = append(rules, CauseRule{Cause: string(c), Action: ActionFail})
		case v != freeswitch.Verdict{}:
			rules = append(rules, CauseRule{Cause: string(c), Action: ActionRetry, Delay: v.Interval, GiveUpAfter: v.GiveUpAfter})
		}
	}
	return rules
}

func causes(key, help string, field func(*Config) *[]CauseRule) setting {
	return setting{key: key, help: help, kind: "rules",
		get: func(c *Config) string {
			var parts []string
			for _, r := range *field(c) {
				p := r.Cause + "=" + string(r.Action)
				if r.Delay > 0 {
					p += ":" + formatDuration(r.Delay)
				}
				if r.GiveUpAfter > 0 {
					p += ":max=" + strconv.Itoa(r.GiveUpAfter)
				}
				parts = append(parts, p)
			}
			return strings.Join(parts, ",")
		},
		set: func(c *Config, v string) error {
			rules, err := ParseCauseRules(v)
			if err != nil {
				return err
			}
			*field(c) = rules
			return nil
		},
	}
}

// ParseCauseRules reads `CAUSE=fail` and `CAUSE=retry[:DELAY][:max=N]`,
// comma-separated.
func ParseCauseRules(v string) ([]CauseRule, error) {
	var rules []CauseRule
	for _, p := range splitList(v) {
		cause, spec, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("rule %q: want CAUSE=fail or CAUSE=retry[:DELAY][:max=N]", p)
		}
		r := CauseRule{Cause: strings.ToUpper(strings.TrimSpace(cause))}
		parts := strings.Split(strings.TrimSpace(spec), ":")
		switch Action(parts[0]) {
		case ActionFail:
			if len(parts) > 1 {
				return nil, fmt.Errorf("rule %q: fail takes no delay or max", p)
			}
			r.Action = ActionFail
		case ActionRetry:
			r.Action = ActionRetry
			for _, opt := range parts[1:] {
				if n, ok := strings.CutPrefix(opt, "max="); ok {
					k, err := strconv.Atoi(n)
					if err != nil || k < 1 {
						return nil, fmt.Errorf("rule %q: max= wants a whole number of attempts, at least 1", p)
					}
					r.GiveUpAfter = k
					continue
				}
				d, err := time.ParseDuration(opt)
				if err != nil || d <= 0 {
					return nil, fmt.Errorf("rule %q: %q is neither a positive delay such as 2m nor max=N", p, opt)
				}
				r.Delay = d
			}
		default:
			return nil, fmt.Errorf("rule %q: action must be fail or retry", p)
		}
		rules = append(rules, r)
	}
	return rules, nil
}
