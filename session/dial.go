package session

import (
	"context"
	"fmt"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

// Channel variables bgcall puts on every leg. The session tag lets the
// sweeper find legs whose session is gone; channels without it are never
// touched.
const (
	VarSession = "bgcall_session"
	VarLeg     = "bgcall_leg"
)

// originateCallee builds the callee leg: B sees A's number, early media
// does not count as an answer, and a parked B is hung up by FreeSWITCH
// itself if bgcall stops steering it.
func (e *Engine) originateCallee(s store.Session, p Policy, leg string) (string, error) {
	ep, err := e.opt.CalleeDial.Endpoint(s.Callee, e.opt.DialVars)
	if err != nil {
		return "", fmt.Errorf("callee dial string: %w", err)
	}
	return e.originate(ep, leg, s.Caller, p.RingTime, s.ID, "callee")
}

// originateCaller builds the caller leg: A sees B's number, since it is B
// that A is about to talk to.
func (e *Engine) originateCaller(s store.Session, p Policy, leg string) (string, error) {
	ep, err := e.opt.CallerDial.Endpoint(s.Caller, e.opt.DialVars)
	if err != nil {
		return "", fmt.Errorf("caller dial string: %w", err)
	}
	return e.originate(ep, leg, s.Callee, p.CallerRingTime, s.ID, "caller")
}

func (e *Engine) originate(endpoint, leg, cid string, ring time.Duration, id, role string) (string, error) {
	o := freeswitch.Originate{
		Endpoint:       endpoint,
		UUID:           leg,
		CallerIDNumber: cid,
		CallerIDName:   cid,
		Timeout:        ring,
		Vars: []freeswitch.Var{
			{Name: "ignore_early_media", Value: "true"},
			{Name: "park_timeout", Value: fmt.Sprint(int((e.opt.ParkTimeout + time.Second - 1) / time.Second))},
			{Name: "hangup_after_bridge", Value: "true"},
			{Name: VarSession, Value: id},
			{Name: VarLeg, Value: role},
		},
	}
	return o.Command()
}

// reacting returns ctx for the command a leg's answer, read at heard, calls
// for: when the command is written to FreeSWITCH, the time since heard is
// recorded as the reaction time of step. That is the silence A or B hears
// on our account. A zero heard (the answer was learnt by asking, after a
// takeover) records nothing.
func (e *Engine) reacting(ctx context.Context, step string, heard time.Time) context.Context {
	if heard.IsZero() {
		return ctx
	}
	m := e.opt.Metrics
	return esl.WithCommandTrace(ctx, &esl.CommandTrace{Written: func(at time.Time) { m.Reaction(step, at.Sub(heard)) }})
}
