package fsdiff

import (
	"context"
	"fmt"
	"strings"
	"time"

	"bgcall/freeswitch"
	"bgcall/internal/fsreal"
)

// Far is what a far end does when its number is dialled.
type Far struct {
	Kind string        // "answer", "noanswer", "early", "busy", "reject" or "hangup" (answers, then hangs up)
	Ring time.Duration // before answering
	Talk time.Duration // "hangup": from the answer to the hangup
}

// Number is f's number in the test dialplan of internal/fsreal; id tells
// apart the far ends of one flow.
func (f Far) Number(id string) string {
	switch f.Kind {
	case "answer":
		return fsreal.AnswerAfter(f.Ring, id)
	case "noanswer":
		return fsreal.NoAnswer(id)
	case "early":
		return fsreal.EarlyMedia(id)
	case "busy":
		return fsreal.Busy(id)
	case "reject":
		return fsreal.Reject(id)
	case "hangup":
		return fsreal.AnswerThenHangup(f.Ring, f.Talk, id)
	}
	panic("fsdiff: unknown far end " + f.Kind)
}

// Sounds are the prompts the flows play, by path, for FreeSWITCH's sounds
// directory (internal/fsreal) and the simulator's prompt lengths alike.
var Sounds = map[string]time.Duration{
	HoldPrompt:        5 * time.Second,
	UnavailablePrompt: 400 * time.Millisecond,
}

// The prompts of the flows: bgcall's default unavailable prompt, and a hold
// prompt standing for its local_stream://moh, which this FreeSWITCH lacks.
const (
	HoldPrompt        = "fsdiff/hold.wav"
	UnavailablePrompt = "ivr/ivr-not_available.wav"
)

// A Flow is a call flow as bgcall drives it. Each role (A, B, ...) is a
// leg bgcall originates, towards the far end Legs names; {A} in a command
// stands for A's Unique-ID.
type Flow struct {
	Name  string
	Doc   string
	Legs  map[string]Far
	Vars  map[string]map[string]string // per role, originate variables set instead of bgcall's defaults
	Steps []Step
	// Runs is how many times the recorder runs the flow (default 3).
	// Seek keeps it running, up to MaxRuns, until one run shows an event
	// label starting with Seek: a race FreeSWITCH rarely loses.
	Runs int
	Seek string
	// End are labels (prefixes) that must have come before the run ends,
	// besides every channel's CHANNEL_DESTROY and every job's result.
	End []string
}

// A Step waits for every label in On (prefixes of event labels; "" for
// none), then sends Cmd: "originate <role>" (a bgapi originate as bgcall's
// session engine builds it), "api <command>", "bgapi <command>", or
// "pause <duration>" (kept on a real FreeSWITCH only, for its show
// commands, which lag).
type Step struct {
	On  []string
	Cmd string
}

// MaxRuns bounds the runs of a flow that seeks an outcome.
const MaxRuns = 100

// The events the flows subscribe to: those bgcall reads and those that
// tell the order of a call's steps.
var flowEvents = []string{
	"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_PARK",
	"CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
	"CHANNEL_DESTROY", "PLAYBACK_START", "PLAYBACK_STOP", "BACKGROUND_JOB", "MESSAGE",
}

func parked(role string) []string {
	return []string{"BACKGROUND_JOB[" + role + "]", "CHANNEL_PARK[" + role + "]"}
}

// Flows are the call flows recorded.
var Flows = []Flow{
	{
		Name: "answer", Doc: "a leg that answers and parks, then is killed",
		Legs: map[string]Far{"A": {Kind: "answer", Ring: 300 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate A"},
			{On: parked("A"), Cmd: "api uuid_kill {A}"},
		},
		Runs: 5,
	},
	{
		Name: "bridge after the job", Doc: "bgcall's bridge, sent once A's originate has returned",
		Legs: map[string]Far{"B": {Kind: "answer", Ring: 100 * time.Millisecond}, "A": {Kind: "answer", Ring: 300 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate B"},
			{On: parked("B"), Cmd: "originate A"},
			{On: parked("A"), Cmd: "api uuid_bridge {B} {A}"},
			{On: []string{"CHANNEL_BRIDGE"}, Cmd: "api uuid_kill {A}"},
		},
		Runs: 5,
	},
	{
		Name: "bridge on answer", Doc: "the bridge sent on A's CHANNEL_ANSWER, before its originate returned",
		Legs: map[string]Far{"B": {Kind: "answer", Ring: 100 * time.Millisecond}, "A": {Kind: "answer", Ring: 300 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate B"},
			{On: parked("B"), Cmd: "originate A"},
			{On: []string{"CHANNEL_ANSWER[A]"}, Cmd: "api uuid_bridge {B} {A}"},
			{On: []string{"CHANNEL_BRIDGE", "BACKGROUND_JOB[A]"}, Cmd: "api uuid_kill {A}"},
		},
		Runs: 10, Seek: "BACKGROUND_JOB[A](-ERR ORIGINATOR_CANCEL)",
	},
	{
		Name: "bridge while ringing", Doc: "the bridge sent while A still rings",
		Legs: map[string]Far{"B": {Kind: "answer", Ring: 100 * time.Millisecond}, "A": {Kind: "answer", Ring: 2 * time.Second}},
		Steps: []Step{
			{Cmd: "originate B"},
			{On: parked("B"), Cmd: "originate A"},
			{On: []string{"CHANNEL_PROGRESS[A]"}, Cmd: "api uuid_bridge {B} {A}"},
		},
		Runs: 3,
	},
	{
		Name: "prompt to its end", Doc: "a prompt played to a parked leg, to its end; the leg parks again",
		Legs: map[string]Far{"B": {Kind: "answer", Ring: 100 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate B"},
			{On: parked("B"), Cmd: "api uuid_broadcast {B} " + UnavailablePrompt + " aleg"},
			{On: []string{"PLAYBACK_STOP[B]"}, Cmd: "api uuid_kill {B}"},
		},
		Runs: 3,
	},
	{
		Name: "hold prompt broken for the unavailable prompt", Doc: "bgcall's closing prompt: break the hold prompt, play another to its end, kill",
		Legs: map[string]Far{"B": {Kind: "answer", Ring: 100 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate B"},
			{On: parked("B"), Cmd: "api uuid_broadcast {B} " + HoldPrompt + " aleg"},
			{On: []string{"PLAYBACK_START[B]"}, Cmd: "api uuid_break {B} all"},
			{Cmd: "api uuid_broadcast {B} " + UnavailablePrompt + " aleg"},
			{On: []string{"PLAYBACK_STOP[B](" + UnavailablePrompt}, Cmd: "api uuid_exists {B}"},
			{Cmd: "api uuid_kill {B}"},
		},
		Runs: 3,
	},
	{
		Name: "commands on a live leg and a gone one", Doc: "the replies bgcall reads: uuid_exists, uuid_setvar, uuid_dump, uuid_kill, uuid_break, uuid_bridge",
		Legs: map[string]Far{"A": {Kind: "answer", Ring: 100 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate A"},
			{On: parked("A"), Cmd: "api uuid_exists {A}"},
			{Cmd: "api uuid_setvar {A} bgcall_state testing"},
			{Cmd: "api uuid_dump {A}"},
			{Cmd: "api uuid_break {A}"},
			{Cmd: "api uuid_kill {A}"},
			{On: []string{"CHANNEL_DESTROY[A]"}, Cmd: "api uuid_kill {A}"},
			{Cmd: "api uuid_exists {A}"},
			{Cmd: "api uuid_dump {A}"},
			{Cmd: "api uuid_setvar {A} bgcall_state testing"},
			{Cmd: "api uuid_break {A}"},
			{Cmd: "api uuid_broadcast {A} " + UnavailablePrompt + " aleg"},
			{Cmd: "api uuid_bridge {A} 0c0ffee0-0000-4000-8000-00000000dead"},
		},
		Runs: 3,
	},
	{
		Name: "show channels", Doc: "what the resync reads: show channels as json with two parked legs, a bridged pair's dump",
		Legs: map[string]Far{"B": {Kind: "answer", Ring: 100 * time.Millisecond}, "A": {Kind: "answer", Ring: 100 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate B"},
			{On: parked("B"), Cmd: "originate A"},
			{On: parked("A"), Cmd: "pause 1.5s"},
			{Cmd: "api show channels as json"},
			{Cmd: "api uuid_bridge {B} {A}"},
			{On: []string{"CHANNEL_BRIDGE"}, Cmd: "api uuid_dump {A}"},
			{Cmd: "api uuid_kill {B}"},
		},
		Runs: 3,
	},
	{
		Name: "busy check", Doc: "what bgcall asks before ringing A back: show channels like a number (matched in the name, not only whole), like a uuid, like nothing up; uuid_getvar of its tags",
		Legs: map[string]Far{"A": {Kind: "answer", Ring: 100 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate A"},
			{On: parked("A"), Cmd: "pause 1.5s"},
			{Cmd: "api show channels like {A.number} as json"},
			{Cmd: "api show channels like {A} as json"},
			{Cmd: "api show channels like 5550000000000000 as json"},
			{Cmd: "api uuid_getvar {A} bgcall_leg"},
			{Cmd: "api uuid_getvar {A} bgcall_nosuch"},
			{Cmd: "api uuid_kill {A}"},
			{On: []string{"CHANNEL_DESTROY[A]"}, Cmd: "api uuid_getvar {A} bgcall_leg"},
		},
		Runs: 3,
	},
	{
		Name: "kill on answer", Doc: "bgcall ending a leg on its CHANNEL_ANSWER, before its originate returned",
		Legs: map[string]Far{"A": {Kind: "answer", Ring: 300 * time.Millisecond}},
		Steps: []Step{
			{Cmd: "originate A"},
			{On: []string{"CHANNEL_ANSWER[A]"}, Cmd: "api uuid_kill {A}"},
		},
		Runs: 10,
	},
	{
		Name: "kill while ringing", Doc: "bgcall cancelling a leg that still rings",
		Legs: map[string]Far{"A": {Kind: "noanswer"}},
		Steps: []Step{
			{Cmd: "originate A"},
			{On: []string{"CHANNEL_PROGRESS[A]"}, Cmd: "api uuid_kill {A}"},
		},
		Runs: 3,
	},
	{
		Name: "busy", Legs: map[string]Far{"A": {Kind: "busy"}},
		Steps: []Step{{Cmd: "originate A"}}, Runs: 3,
	},
	{
		Name: "reject", Legs: map[string]Far{"A": {Kind: "reject"}},
		Steps: []Step{{Cmd: "originate A"}}, Runs: 3,
	},
	{
		Name: "no answer", Legs: map[string]Far{"A": {Kind: "noanswer"}},
		Vars:  map[string]map[string]string{"A": {"originate_timeout": "1"}},
		Steps: []Step{{Cmd: "originate A"}}, Runs: 3,
	},
	{
		Name: "early media, never answered", Legs: map[string]Far{"A": {Kind: "early"}},
		Vars:  map[string]map[string]string{"A": {"originate_timeout": "1"}},
		Steps: []Step{{Cmd: "originate A"}}, Runs: 3,
	},
	{
		Name: "far end hangs up", Legs: map[string]Far{"A": {Kind: "hangup", Ring: 100 * time.Millisecond, Talk: 500 * time.Millisecond}},
		Steps: []Step{{Cmd: "originate A"}}, Runs: 3,
	},
	{
		Name: "park timeout", Doc: "a parked leg nobody steers is hung up by park_timeout",
		Legs:  map[string]Far{"A": {Kind: "answer", Ring: 100 * time.Millisecond}},
		Vars:  map[string]map[string]string{"A": {"park_timeout": "1"}},
		Steps: []Step{{Cmd: "originate A"}}, Runs: 3,
	},
	{
		Name: "chat", Doc: "bgcall's SMS: chat over bgapi, on the event protocol and on one with no endpoint (this FreeSWITCH has no SIP)",
		Steps: []Step{
			{Cmd: "bgapi chat event|1000@example.com|2000@example.com|You missed a call"},
			{On: []string{"BACKGROUND_JOB[chat]"}, Cmd: "bgapi chat nosuch|1000@example.com|2000@example.com|Second message"},
		},
		End:  []string{"MESSAGE"},
		Runs: 3,
	},
}

// originateLine builds role's originate as bgcall's session engine does
// (session/dial.go): its own Unique-ID, the other party's number as caller
// ID, early media not counted as an answer, a park timeout, the session's
// tags; vars override bgcall's values.
func originateLine(role, uuid, number string, vars map[string]string) (string, error) {
	timeout := 10 * time.Second
	if v, ok := vars["originate_timeout"]; ok {
		d, err := time.ParseDuration(v + "s")
		if err != nil {
			return "", err
		}
		timeout = d
	}
	defaults := []freeswitch.Var{
		{Name: "ignore_early_media", Value: "true"},
		{Name: "park_timeout", Value: "30"},
		{Name: "hangup_after_bridge", Value: "true"},
		{Name: "bgcall_session", Value: "fsdiff"},
		{Name: "bgcall_leg", Value: strings.ToLower(role)},
	}
	for i, v := range defaults {
		if value, ok := vars[v.Name]; ok {
			defaults[i].Value = value
		}
	}
	o := freeswitch.Originate{
		Endpoint:       strings.ReplaceAll(fsreal.DialTemplate, "{number}", number),
		UUID:           uuid,
		CallerIDNumber: "1000",
		CallerIDName:   "1000",
		Timeout:        timeout,
		Vars:           defaults,
	}
	return o.Command()
}

// Number is the number a flow dials for role.
func (f Flow) Number(role string) string {
	id := fmt.Sprint(1 + strings.Index("ABCDEFGH", role))
	return f.Legs[role].Number(id)
}

// RunsWanted is how many times the recorder runs f at least.
func (f Flow) RunsWanted() int {
	if f.Runs > 0 {
		return f.Runs
	}
	return 3
}

// pause reads a "pause <duration>" step.
func pause(cmd string) (time.Duration, bool) {
	d, ok := strings.CutPrefix(cmd, "pause ")
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(d)
	return v, err == nil
}

// numbered replaces {A.number}, {B.number} ... by the numbers the roles
// are dialled at.
func (f Flow) numbered(cmd string) string {
	for role := range f.Legs {
		cmd = strings.ReplaceAll(cmd, "{"+role+".number}", f.Number(role))
	}
	return cmd
}

// bind replaces {A}, {B} ... by the roles' Unique-IDs.
func bind(cmd string, uuids map[string]string) string {
	for role, u := range uuids {
		cmd = strings.ReplaceAll(cmd, "{"+role+"}", u)
	}
	return cmd
}

// ctxDeadline is ctx's deadline, or d from now.
func ctxDeadline(ctx context.Context, d time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(d)
}
