package e2e

import (
	_ "embed"
	"fmt"
	"time"

	"bgcall/fssim"
)

// Dialplan scripts the far ends on a real FreeSWITCH: a file for the
// context "default" (fsreal.Options.Dialplan), documented in farends.xml.
//
//go:embed farends.xml
var Dialplan string

// DialTemplate is how bgcall reaches a subscriber on the FreeSWITCH that
// runs Dialplan, for both legs: the leading 9 rings the phone directly, as
// FreeSWITCH's user endpoint would (see farends.xml).
const DialTemplate = "loopback/9{number}/default"

// Kind is what a far end does when called.
type Kind int

// The far ends of Dialplan. The values are the numbers' first two digits.
const (
	// Answer rings for Ring and answers; with Talk set it hangs up
	// NORMAL_CLEARING Talk after answering, else it stays until the other
	// side hangs up.
	Answer Kind = 61
	// AnswerOnAttempt rings until the caller gives up on the first Before
	// calls, then rings for Ring and answers (and stays).
	AnswerOnAttempt Kind = 62
	// BusyThenAnswer is busy (USER_BUSY) at once on the first Before calls,
	// then rings for Ring and answers (and stays).
	BusyThenAnswer Kind = 63
	// NoAnswer rings until the caller gives up: NO_ANSWER.
	NoAnswer Kind = 64
	// EarlyMedia rings for Ring, then sends early media and never answers.
	EarlyMedia Kind = 65
	// Busy hangs up USER_BUSY after ringing for Ring.
	Busy Kind = 66
	// Reject hangs up CALL_REJECTED after ringing for Ring.
	Reject Kind = 67
	// Unallocated hangs up UNALLOCATED_NUMBER after ringing for Ring.
	Unallocated Kind = 68
	// Voicemail rings for Ring and answers, as a network's voicemail does
	// for B, and stays, never pressing a key. Where machine detection can
	// hear it (the simulator's mod_avmd), it beeps Talk after detection
	// started, when Talk is set.
	Voicemail Kind = 69
	// PressesOne rings for Ring, answers and presses 1 Talk after
	// answering (and stays): B confirming.
	PressesOne Kind = 70
	// PressesTwo rings for Ring, answers and presses 2 Talk after
	// answering (and stays): B declining.
	PressesTwo Kind = 71
)

// FarEnd is one subscriber's phone.
type FarEnd struct {
	Kind   Kind
	Ring   time.Duration // how long it rings before it acts
	Talk   time.Duration // Answer: how long it talks before hanging up; 0 stays
	Before int           // AnswerOnAttempt, BusyThenAnswer: calls before the one it answers
}

// Number is the far end's number, with tag (0-9999) making it a number of
// its own: calls are counted per number.
func (f FarEnd) Number(tag int) string {
	b := 0
	switch f.Kind {
	case Answer, Voicemail, PressesOne, PressesTwo:
		b = millis(f.Talk)
	case AnswerOnAttempt, BusyThenAnswer:
		if f.Before < 1 || f.Before > 99999 {
			panic(fmt.Sprintf("e2e: %v answers after 1 to 99999 calls, not %d", f.Kind, f.Before))
		}
		b = f.Before
	}
	if tag < 0 || tag > 9999 {
		panic(fmt.Sprintf("e2e: number tag %d is not 0-9999", tag))
	}
	return fmt.Sprintf("%02d%05d%05d%04d", int(f.Kind), millis(f.Ring), b, tag)
}

// millis is d in the numbers' five-digit millisecond fields.
func millis(d time.Duration) int {
	n := d.Milliseconds()
	if n < 0 || n > 99999 {
		panic(fmt.Sprintf("e2e: %v does not fit the 0-99999 ms of a number's field", d))
	}
	return int(n)
}

// Behaviors scripts the same far end on the simulator
// (fssim.Node.SetSubscriber): one Behavior per call, the last repeating.
func (f FarEnd) Behaviors() []fssim.Behavior {
	answer := fssim.Behavior{Action: fssim.Answer, Ring: f.Ring}
	var before fssim.Behavior
	switch f.Kind {
	case Answer:
		answer.Talk = f.Talk
		return []fssim.Behavior{answer}
	case AnswerOnAttempt:
		before = fssim.Behavior{Action: fssim.NoAnswer}
	case BusyThenAnswer:
		before = fssim.Behavior{Action: fssim.Busy}
	case NoAnswer:
		return []fssim.Behavior{{Action: fssim.NoAnswer}}
	case EarlyMedia:
		return []fssim.Behavior{{Action: fssim.EarlyMedia, Ring: f.Ring}}
	case Busy:
		return []fssim.Behavior{{Action: fssim.Busy, Ring: f.Ring}}
	case Reject:
		return []fssim.Behavior{{Action: fssim.Reject, Ring: f.Ring}}
	case Unallocated:
		return []fssim.Behavior{{Action: fssim.Unallocated, Ring: f.Ring}}
	case Voicemail:
		return []fssim.Behavior{{Action: fssim.Answer, Ring: f.Ring, Beep: f.Talk}}
	case PressesOne:
		return []fssim.Behavior{{Action: fssim.Answer, Ring: f.Ring, DTMF: "1", DTMFDelay: f.Talk}}
	case PressesTwo:
		return []fssim.Behavior{{Action: fssim.Answer, Ring: f.Ring, DTMF: "2", DTMFDelay: f.Talk}}
	default:
		panic(fmt.Sprintf("e2e: unknown far end kind %d", int(f.Kind)))
	}
	seq := make([]fssim.Behavior, 0, f.Before+1)
	for range f.Before {
		seq = append(seq, before)
	}
	return append(seq, answer)
}

func (k Kind) String() string {
	switch k {
	case Answer:
		return "answer"
	case AnswerOnAttempt:
		return "answer_on_attempt"
	case BusyThenAnswer:
		return "busy_then_answer"
	case NoAnswer:
		return "no_answer"
	case EarlyMedia:
		return "early_media"
	case Busy:
		return "busy"
	case Reject:
		return "reject"
	case Unallocated:
		return "unallocated"
	case Voicemail:
		return "voicemail"
	case PressesOne:
		return "presses_one"
	case PressesTwo:
		return "presses_two"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}
