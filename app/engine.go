package app

import (
	"fmt"
	"regexp"
	"time"

	"bgcall/config"
	"bgcall/freeswitch"
	"bgcall/session"
	"bgcall/store"
)

// engineOptions maps the configuration onto the engine's options; Store,
// Pool, Metrics, Logger and Notifier are the caller's.
func engineOptions(cfg config.Config) (session.Options, error) {
	p, err := policy(cfg.Retry, cfg.Confirm)
	if err != nil {
		return session.Options{}, err
	}
	busy, err := callerBusy(cfg.CallerBusy)
	if err != nil {
		return session.Options{}, err
	}
	return session.Options{
		CallerBusy: busy,
		Replica:    cfg.ReplicaID,
		LeaseTTL:   cfg.LeaseTTL,
		Policy:     p,
		Limits:     store.Limits{PerCaller: cfg.Limits.PerCaller, PerCallee: cfg.Limits.PerCallee},
		CalleeDial: freeswitch.DialTemplate(cfg.Dial.CalleeTemplate),
		CallerDial: freeswitch.DialTemplate(cfg.Dial.CallerTemplate),
		DialVars:   map[string]string{"domain": cfg.Dial.Domain},
		Prompts: session.Prompts{
			Hold:              cfg.Prompts.Hold,
			CallerUnavailable: cfg.Prompts.CallerUnavailable,
			Cancelled:         cfg.Prompts.Cancelled,
			Confirm:           cfg.Prompts.Confirm,
		},
		DeclineOptsOut: cfg.Confirm.DeclineOptsOut,
	}, nil
}

// callerBusy is the engine's busy check of A for the configured one.
func callerBusy(c config.CallerBusy) (session.CallerBusy, error) {
	b := session.CallerBusy{
		Check: session.BusyCheck(c.Check), Command: freeswitch.CommandTemplate(c.Command),
		Wait: c.Wait, Interval: c.Interval, BeforeCallee: c.BeforeCallee, Defer: c.Defer,
	}
	if c.Check == string(session.BusyCommand) {
		re, err := regexp.Compile(c.BusyReply)
		if err != nil {
			return b, fmt.Errorf("caller_busy.busy_reply: %w", err)
		}
		b.BusyReply = re
	}
	if err := b.Validate(); err != nil {
		return b, err
	}
	return b, nil
}

// policy is the engine's retry policy for the configured one.
func policy(r config.Retry, c config.Confirm) (session.Policy, error) {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		return session.Policy{}, fmt.Errorf("retry.timezone: %w", err)
	}
	p := session.Policy{
		RingTime:       r.RingTime,
		FirstInterval:  r.FirstInterval,
		Backoff:        r.Backoff,
		Jitter:         r.Jitter,
		MaxInterval:    r.MaxInterval,
		MaxAttempts:    r.MaxAttempts,
		MaxTotal:       r.MaxTotal,
		CallerRingTime: r.CallerRing,
		Quiet:          session.QuietHours{Location: loc},
		Causes:         map[freeswitch.Cause]session.CauseRule{},
		Confirm:        c.Enabled,
		ConfirmTimeout: c.Timeout,
		VoicemailAfter: r.VoicemailAfter,
	}
	if r.QuietStart.Set() && r.QuietEnd.Set() {
		p.Quiet.Start = time.Duration(r.QuietStart) * time.Minute
		p.Quiet.End = time.Duration(r.QuietEnd) * time.Minute
	}
	for _, c := range r.Causes {
		rule := session.CauseRule{Verdict: session.Retry, Interval: c.Delay, GiveUpAfter: c.GiveUpAfter}
		if c.Action == config.ActionFail {
			rule = session.CauseRule{Verdict: session.Fail}
		}
		p.Causes[freeswitch.ParseCause(c.Cause)] = rule
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("retry policy: %w", err)
	}
	return p, nil
}
