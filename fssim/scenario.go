package fssim

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Action is what a far end does with one call attempt.
type Action string

// Far-end actions. The zero Action is Answer.
const (
	Answer         Action = "answer"           // ring for Ring, then answer
	NoAnswer       Action = "no_answer"        // ring until the originate times out (NO_ANSWER)
	Busy           Action = "busy"             // USER_BUSY after Ring
	Reject         Action = "reject"           // CALL_REJECTED after Ring
	NoUserResponse Action = "no_user_response" // NO_USER_RESPONSE after Ring
	NotRegistered  Action = "not_registered"   // -ERR USER_NOT_REGISTERED, no channel at all
	Absent         Action = "absent"           // -ERR SUBSCRIBER_ABSENT, no channel (unknown directory user)
	Unallocated    Action = "unallocated"      // UNALLOCATED_NUMBER after Ring
	EarlyMedia     Action = "early_media"      // 183 with media after Ring, never answers
	Fail           Action = "fail"             // hang up with Cause after Ring
)

// Behavior scripts one call attempt to a far end.
type Behavior struct {
	Action Action `json:"action,omitempty"`
	// Ring is how long the far end rings before acting; zero answers (or
	// fails) at once.
	Ring time.Duration `json:"-"`
	// Talk, when positive, makes the far end hang up this long after answer
	// (or after early media), with HangupCause (default NORMAL_CLEARING).
	Talk        time.Duration `json:"-"`
	HangupCause string        `json:"hangup_cause,omitempty"`
	// Cause is the hangup cause of Action Fail.
	Cause string `json:"cause,omitempty"`
	// HangupOnPrompt makes the far end hang up PromptHangupAfter into the
	// first prompt played to it.
	HangupOnPrompt    bool          `json:"hangup_on_prompt,omitempty"`
	PromptHangupAfter time.Duration `json:"-"`
	// DTMF digits are sent DTMFDelay after answer, one DTMF event each.
	DTMF      string        `json:"dtmf,omitempty"`
	DTMFDelay time.Duration `json:"-"`
	// ChatResult is what chat to this number returns; default "Sent".
	ChatResult string `json:"chat_result,omitempty"`
	// Beep, when positive, makes the far end a voicemail that beeps this
	// long after mod_avmd started listening on the leg (Options.AVMD): the
	// node fires CUSTOM avmd::beep for the leg.
	Beep time.Duration `json:"-"`
}

// behaviorJSON carries durations as Go duration strings ("1.5s", "200ms").
type behaviorJSON struct {
	Action            Action `json:"action,omitempty"`
	Ring              string `json:"ring,omitempty"`
	Talk              string `json:"talk,omitempty"`
	HangupCause       string `json:"hangup_cause,omitempty"`
	Cause             string `json:"cause,omitempty"`
	HangupOnPrompt    bool   `json:"hangup_on_prompt,omitempty"`
	PromptHangupAfter string `json:"prompt_hangup_after,omitempty"`
	DTMF              string `json:"dtmf,omitempty"`
	DTMFDelay         string `json:"dtmf_delay,omitempty"`
	ChatResult        string `json:"chat_result,omitempty"`
	Beep              string `json:"beep,omitempty"`
}

// UnmarshalJSON reads a Behavior with durations written as "2s", "150ms".
func (b *Behavior) UnmarshalJSON(data []byte) error {
	var j behaviorJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*b = Behavior{Action: j.Action, HangupCause: j.HangupCause, Cause: j.Cause,
		HangupOnPrompt: j.HangupOnPrompt, DTMF: j.DTMF, ChatResult: j.ChatResult}
	for _, f := range []struct {
		s string
		d *time.Duration
	}{{j.Ring, &b.Ring}, {j.Talk, &b.Talk}, {j.PromptHangupAfter, &b.PromptHangupAfter}, {j.DTMFDelay, &b.DTMFDelay}, {j.Beep, &b.Beep}} {
		if f.s == "" {
			continue
		}
		d, err := time.ParseDuration(f.s)
		if err != nil {
			return fmt.Errorf("behavior duration %q: %w (write e.g. \"1.5s\" or \"200ms\")", f.s, err)
		}
		*f.d = d
	}
	return b.validate()
}

// MarshalJSON writes durations as Go duration strings.
func (b Behavior) MarshalJSON() ([]byte, error) {
	j := behaviorJSON{Action: b.Action, HangupCause: b.HangupCause, Cause: b.Cause,
		HangupOnPrompt: b.HangupOnPrompt, DTMF: b.DTMF, ChatResult: b.ChatResult}
	str := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	j.Ring, j.Talk, j.PromptHangupAfter, j.DTMFDelay, j.Beep = str(b.Ring), str(b.Talk), str(b.PromptHangupAfter), str(b.DTMFDelay), str(b.Beep)
	return json.Marshal(j)
}

func (b Behavior) validate() error {
	switch b.Action {
	case "", Answer, NoAnswer, Busy, Reject, NoUserResponse, NotRegistered, Absent, Unallocated, EarlyMedia:
	case Fail:
		if b.Cause == "" {
			return fmt.Errorf("behavior %q needs a cause (e.g. \"NORMAL_TEMPORARY_FAILURE\")", b.Action)
		}
	default:
		return fmt.Errorf("unknown far-end action %q (want answer, no_answer, busy, reject, no_user_response, not_registered, absent, unallocated, early_media or fail)", b.Action)
	}
	return nil
}

// Scenario is the JSON form of a node's far ends, for `bgcall sim`:
//
//	{"default": {"action": "answer", "ring": "1s"},
//	 "subscribers": {"1002": [{"action": "no_answer"}, {"action": "busy"}, {"action": "answer", "ring": "2s"}]},
//	 "prompts": {"ivr/hold.wav": "3s"}}
type Scenario struct {
	Default     *Behavior             `json:"default,omitempty"`
	Subscribers map[string][]Behavior `json:"subscribers,omitempty"`
	Prompts     map[string]string     `json:"prompts,omitempty"`
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Scenario, error) {
	var s Scenario
	data, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read scenario: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("parse scenario %s: %w", path, err)
	}
	return s, nil
}

// Apply copies the scenario into opts.
func (s Scenario) Apply(opts *Options) error {
	if s.Default != nil {
		opts.Default = *s.Default
	}
	if len(s.Subscribers) > 0 && opts.Subscribers == nil {
		opts.Subscribers = make(map[string][]Behavior)
	}
	for k, v := range s.Subscribers {
		opts.Subscribers[k] = v
	}
	for k, v := range s.Prompts {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("prompt %s duration %q: %w", k, v, err)
		}
		if opts.Prompts == nil {
			opts.Prompts = make(map[string]time.Duration)
		}
		opts.Prompts[k] = d
	}
	return nil
}

// SetSubscriber replaces the behaviour sequence of a number and restarts its
// attempt count.
func (n *Node) SetSubscriber(number string, seq ...Behavior) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subs[number] = append([]Behavior(nil), seq...)
	delete(n.attempts, number)
}

// SetDefault replaces the behaviour of numbers without their own sequence.
func (n *Node) SetDefault(b Behavior) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.def = b
}

// SetPrompt sets how long playing path lasts.
func (n *Node) SetPrompt(path string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.prompts[path] = d
}

// nextBehavior takes the behaviour of the next attempt to number.
func (n *Node) nextBehavior(number string) Behavior {
	seq, ok := n.subs[number]
	var b Behavior
	if ok && len(seq) > 0 {
		i := n.attempts[number]
		if i >= len(seq) {
			i = len(seq) - 1
		}
		b = seq[i]
	} else {
		b = n.def
		if b == (Behavior{}) {
			b = Behavior{Action: Answer, Ring: n.opts.Second}
		}
	}
	n.attempts[number]++
	if b.Action == "" {
		b.Action = Answer
	}
	return b
}
