package phone

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/metrics"
	"bgcall/session"
	"bgcall/store"
)

// Prompts are the sound files a caller hears, as FreeSWITCH plays them.
type Prompts struct {
	On       string // *88<B>: background calling to B is on
	Off      string // *89: switched off
	NotFound string // *89: no such session
	Limit    string // the caller or B has too many background calls
	Invalid  string // the number after the prefix is not a number
	Failed   string // anything else went wrong
	Offer    string // the offer: press 1 for a background call to B
	OptedOut string // B, after the opt-out code: no more background calls
	OptedIn  string // B, after the opt-in code: background calls again
	Refused  string // A, when B opted out of background calls
}

// DefaultPrompts are FreeSWITCH's stock sounds, present on every install.
func DefaultPrompts() Prompts {
	return Prompts{
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
	}
}

// Offer is an automatic offer made by message: A missed B Missed times.
type Offer struct {
	Caller, Callee string
	Missed         int
	At             time.Time
}

// OfferNotifier sends the offer when the dialplan has no hook to make it
// in the call. Send must not block for long; it owns its retries.
type OfferNotifier interface {
	SendOffer(ctx context.Context, o Offer)
}

// DefaultListen is where the shipped dialplan's socket application
// connects (deploy/freeswitch).
const DefaultListen = "127.0.0.1:8084"

// Options configure a Server. Engine and Store are required.
type Options struct {
	Engine *session.Engine
	Store  *store.Store // the unanswered-call counter lives here
	// Pool, when set, vouches for every connection: its Core-UUID must be
	// a connected node's and uuid_exists must find the channel there.
	Pool *esl.Pool

	// Listen is where FreeSWITCH's socket application connects; default
	// DefaultListen, the address the shipped dialplan uses.
	Listen string
	// OnPrefix and OffPrefix are the feature codes; defaults "*88", "*89".
	OnPrefix, OffPrefix string
	// OptOutPrefix and OptInPrefix are the codes B dials to refuse
	// background calls and to take them again, alone (every caller) or
	// followed by A's number; defaults "*87", "*86".
	OptOutPrefix, OptInPrefix string
	Prompts                   Prompts

	// OfferThreshold is how many unanswered calls in a row within
	// OfferWindow bring the offer; default 3. Negative disables the offer
	// (calls are still counted).
	OfferThreshold int
	OfferWindow    time.Duration // default 1h
	// DigitTimeout is how long the offer waits for a key; default 5s.
	DigitTimeout time.Duration
	// OfferNotifier, when set, sends the offer by message on the
	// threshold-th unanswered call that did not reach the listener.
	OfferNotifier OfferNotifier

	// CallTimeout bounds everything done for one connection; default 2m.
	CallTimeout time.Duration
	// CommandTimeout bounds one command's reply; default 5s.
	CommandTimeout time.Duration
	// EventQueue is how many watched hangups may wait; more are dropped
	// (and logged) rather than hold up the engine's dispatcher. Default 4096.
	EventQueue int
	Logger     *slog.Logger
	Clock      func() time.Time
	// Metrics counts connections and offers; nil counts nothing.
	Metrics *metrics.Metrics
}

func (o *Options) fill() error {
	if o.Engine == nil || o.Store == nil {
		return fmt.Errorf("phone: Engine and Store are required")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.OnPrefix == "" {
		o.OnPrefix = "*88"
	}
	if o.OffPrefix == "" {
		o.OffPrefix = "*89"
	}
	if o.OptOutPrefix == "" {
		o.OptOutPrefix = "*87"
	}
	if o.OptInPrefix == "" {
		o.OptInPrefix = "*86"
	}
	codes := []string{o.OnPrefix, o.OffPrefix, o.OptOutPrefix, o.OptInPrefix}
	for i, p := range codes {
		if err := freeswitch.ValidFeatureCode(p); err != nil {
			return fmt.Errorf("phone: prefix: %w", err)
		}
		if slices.Contains(codes[:i], p) {
			return fmt.Errorf("phone: the prefix %q is given to two feature codes; give each its own", p)
		}
	}
	def := DefaultPrompts()
	for _, f := range []struct {
		p *string
		d string
	}{{&o.Prompts.On, def.On}, {&o.Prompts.Off, def.Off},
		{&o.Prompts.NotFound, def.NotFound}, {&o.Prompts.Limit, def.Limit}, {&o.Prompts.Invalid, def.Invalid},
		{&o.Prompts.Failed, def.Failed}, {&o.Prompts.Offer, def.Offer},
		{&o.Prompts.OptedOut, def.OptedOut}, {&o.Prompts.OptedIn, def.OptedIn}, {&o.Prompts.Refused, def.Refused}} {
		if *f.p == "" {
			*f.p = f.d
		}
	}
	if o.OfferThreshold == 0 {
		o.OfferThreshold = 3
	}
	if o.OfferWindow <= 0 {
		o.OfferWindow = time.Hour
	}
	if o.DigitTimeout <= 0 {
		o.DigitTimeout = 5 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 2 * time.Minute
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Second
	}
	if o.EventQueue <= 0 {
		o.EventQueue = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}
