// Package config holds every setting of the bgcall daemon, its default, and
// how it is read from flags, BGCALL_* environment variables and an optional
// file, in that order of precedence.
//
// Each setting has one key (retry.ring_time) from which its environment
// variable (BGCALL_RETRY_RING_TIME) and flag (--retry-ring-time) are derived,
// so the three sources can never disagree about names.
package config

import (
	"time"
)

// Config is the daemon's whole configuration.
type Config struct {
	FreeSWITCH FreeSWITCH
	Dial       Dial
	Redis      Redis
	Namespace  string
	Retention  time.Duration
	Retry      Retry
	Confirm    Confirm
	Prompts    Prompts
	CallerBusy CallerBusy
	Notify     Notify
	Webhooks   Webhooks
	Limits     Limits
	Phone      Phone
	API        API
	Metrics    Metrics
	Log        Log
	ReplicaID  string
	LeaseTTL   time.Duration
	Drain      time.Duration
}

// FreeSWITCH is the set of nodes bgcall controls over the event socket.
type FreeSWITCH struct {
	Nodes          []Node
	Password       string // for nodes whose entry names none
	DialTimeout    time.Duration
	CommandTimeout time.Duration
	SilenceTimeout time.Duration
	// CommandConnections per node, besides the event connection.
	CommandConnections int
}

// Node is one FreeSWITCH event socket.
type Node struct {
	Name, Addr, Password string
}

// Dial holds the dial-string templates for the two legs. {number} is the
// party's number; {domain} is Domain.
type Dial struct {
	CalleeTemplate string
	CallerTemplate string
	Domain         string
}

// Redis says where sessions live. No addresses means the embedded in-process
// store, which loses every session when the process stops.
type Redis struct {
	Addrs    []string
	Master   string // Sentinel master name; Addrs are then the sentinels
	Cluster  bool
	Username string
	Password string
	// SentinelPassword authenticates to the sentinels themselves, which
	// often have no password or another one than the data nodes.
	SentinelPassword string
	DB               int
	TLS              bool
	TLSCA            string // PEM file of CAs to trust instead of the system's
	TLSInsecure      bool
}

// Embedded reports whether no Redis is configured.
func (r Redis) Embedded() bool { return len(r.Addrs) == 0 }

// Retry is the default callee retry policy.
type Retry struct {
	RingTime      time.Duration // how long one callee attempt rings
	CallerRing    time.Duration // how long the caller leg rings
	FirstInterval time.Duration
	Backoff       float64
	Jitter        float64 // fraction of the interval, 0..1
	MaxInterval   time.Duration
	MaxAttempts   int           // 0 = until B answers (MaxTotal still applies)
	MaxTotal      time.Duration // always set: the spec requires a total cap
	QuietStart    Clock         // attempts are deferred between QuietStart and QuietEnd
	QuietEnd      Clock         // unset in both: no quiet hours
	Timezone      string        // IANA zone the quiet hours are read in
	Causes        []CauseRule
	// VoicemailAfter is how long the network lets B ring before its
	// voicemail answers; 0 = unknown. Warnings names a RingTime that
	// reaches it without confirmation.
	VoicemailAfter time.Duration
}

// Confirm is the confirmation mode: B, once answered, presses 1 before A
// is called (docs/confirmation.md).
type Confirm struct {
	Enabled bool          // the default for requests that do not say (policy.confirm)
	Timeout time.Duration // how long B has to press a key after answering
	// MachineDetection listens to B's leg for a voicemail's beep (mod_avmd,
	// where the node has it loaded) while B is asked to confirm.
	MachineDetection bool
	// DeclineOptsOut makes B's 2 also an opt-out of B from this caller
	// (docs/optout.md).
	DeclineOptsOut bool
}

// Clock is a time of day in minutes after midnight; -1 means unset.
type Clock int

// Set reports whether c holds a time of day.
func (c Clock) Set() bool { return c >= 0 }

// CauseRule says what a callee attempt ending with Cause leads to.
type CauseRule struct {
	Cause  string
	Action Action
	Delay  time.Duration // for ActionRetry: fixed delay instead of the backoff; 0 = backoff
	// GiveUpAfter, for ActionRetry, expires the session after this many
	// attempts ended with Cause; 0 = no such cap.
	GiveUpAfter int
}

// Action is a per-cause decision.
type Action string

const (
	ActionRetry Action = "retry" // try again
	ActionFail  Action = "fail"  // finish the session as failed
)

// Prompts are the sound paths played to B (FreeSWITCH playback paths,
// relative to its sound directory, or absolute).
type Prompts struct {
	Hold              string
	CallerUnavailable string
	Cancelled         string
	Confirm           string // {caller} is replaced by A's number
}

// CallerBusy is whether and how bgcall asks if A is in a call before
// ringing A back (docs/caller-busy.md).
type CallerBusy struct {
	Check        string        // channels | command | off
	Command      string        // check = command: API command with {number}
	BusyReply    string        // check = command: regular expression a busy reply matches
	Wait         time.Duration // how long B holds while A is busy; 0 = end at once
	Interval     time.Duration // how often a busy A is asked again
	BeforeCallee bool          // also ask before dialling B; a busy A defers the attempt
	Defer        time.Duration // how long such an attempt is put off
}

// Notify is how A learns that a call back failed (claim 4's SMS).
type Notify struct {
	Mode        string // none | chat | webhook | both
	ChatProto   string
	ChatFrom    string
	ChatTo      string // template for A's address: {caller} and {domain}
	WebhookURL  string
	Timeout     time.Duration
	Retries     int
	SMSTemplate string // {caller}, {callee} and {time}
	// BusyTemplate is the text when A was in another call all the while
	// B held (outcome caller_busy); the same placeholders.
	BusyTemplate string
	// DeclinedTemplate is the message to A when B declined (pressed 2 at
	// the confirmation prompt): {caller}, {callee} and {time}.
	DeclinedTemplate string
	// OfferTemplate is the automatic offer by message: {caller}, {callee},
	// {missed}, {time} and {on_prefix}.
	OfferTemplate string
}

// Phone is the terminal side: feature codes dialled from A's phone and the
// automatic offer, both reaching bgcall through FreeSWITCH's socket
// application (deploy/freeswitch, docs/phone.md).
type Phone struct {
	Enabled   bool
	Listen    string // where the dialplan's socket application connects
	OnPrefix  string
	OffPrefix string
	// OptOutPrefix and OptInPrefix are dialled by B: opt out of background
	// calls (alone: from every caller; + A's number: from A) and in again.
	OptOutPrefix   string
	OptInPrefix    string
	OfferThreshold int           // unanswered calls in a row that bring the offer; 0 = never offer
	OfferWindow    time.Duration // the run of unanswered calls must fall within this
	DigitTimeout   time.Duration
	// OfferByMessage also sends the offer through notify.mode when the
	// unanswered call never reached the listener (no dialplan hook).
	OfferByMessage bool
	Prompts        PhonePrompts
}

// PhonePrompts are what A hears after a feature code or during the offer.
type PhonePrompts struct {
	On, Off, NotFound, Limit, Invalid, Failed, Offer string
	// OptedOut and OptedIn confirm B's opt-out codes; Refused tells A
	// that B opted out of background calls.
	OptedOut, OptedIn, Refused string
}

// Limits cap live sessions.
type Limits struct {
	PerCaller int
	PerCallee int
}

// API is the HTTP API.
type API struct {
	Listen  string
	Token   string
	MaxBody int64
}

// Metrics says what is exposed beside the API.
type Metrics struct {
	Enabled     bool   // /metrics on the API listener
	PprofListen string // empty = off
}

// Log is the log output.
type Log struct {
	Format string // text | json
	Level  string // debug | info | warn | error
}
