package bench

import (
	"fmt"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/session"
)

// The realistic mix: how B (the callee) behaves over its attempts, by
// share of sessions, and how A (the caller) behaves once B answered.
// Attempts are counted per simulator node, and the engine spreads a
// session's attempts over the nodes, so "answers on the second attempt"
// may become a later one; the measured attempts are reported.
type calleeClass struct {
	name   string
	share  int // of 100
	script []fssim.Behavior
}

const (
	answerRing = 20 * time.Millisecond
	busyRing   = 10 * time.Millisecond
	talkTime   = 150 * time.Millisecond
)

var (
	answer   = fssim.Behavior{Action: fssim.Answer, Ring: answerRing}
	noAnswer = fssim.Behavior{Action: fssim.NoAnswer}
	busy     = fssim.Behavior{Action: fssim.Busy, Ring: busyRing}
)

var calleeMix = []calleeClass{
	{"answers_first", 35, []fssim.Behavior{answer}},
	{"answers_second", 20, []fssim.Behavior{noAnswer, answer}},
	{"answers_later", 10, []fssim.Behavior{noAnswer, noAnswer, answer}},
	{"busy_then_answers", 10, []fssim.Behavior{busy, answer}},
	{"never_answers", 15, []fssim.Behavior{noAnswer}},
	{"always_busy", 10, []fssim.Behavior{busy}},
}

// callerMissShare of the sessions whose B answers see A not answering.
const callerMissShare = 20

var (
	callerAnswers = fssim.Behavior{Action: fssim.Answer, Ring: answerRing, Talk: talkTime}
	callerMisses  = fssim.Behavior{Action: fssim.NoAnswer}
)

// bucket spreads indexes over 0..99 without a visible period.
func bucket(i int) int { return int(uint32(i)*2654435761>>8) % 100 }

func classOf(i int) calleeClass {
	b := bucket(i)
	for _, c := range calleeMix {
		if b < c.share {
			return c
		}
		b -= c.share
	}
	return calleeMix[len(calleeMix)-1]
}

func callerBehavior(i int) fssim.Behavior {
	if bucket(i*31+7) < callerMissShare {
		return callerMisses
	}
	return callerAnswers
}

// Numbers: the first digit says the phase, the second the run within it.
func calleeNumber(run, i int) string { return fmt.Sprintf("2%d%07d", run, i) }
func callerNumber(run, i int) string { return fmt.Sprintf("3%d%07d", run, i) }

// simNumbers are session i's numbers in throughput run run.
func simNumbers(run, i int) (caller, callee string) {
	return callerNumber(run, i), calleeNumber(run, i)
}

// In the lateness phase B is busy and the next attempt is half an hour
// away, so each due session is exactly one retry; waiting sessions are
// never dialled.
func lateCallee(i int) string { return fmt.Sprintf("4%08d", i) }
func lateCaller(i int) string { return fmt.Sprintf("5%08d", i) }
func waitCallee(i int) string { return fmt.Sprintf("6%08d", i) }
func waitCaller(i int) string { return fmt.Sprintf("7%08d", i) }

var alwaysBusy = fssim.Behavior{Action: fssim.Busy}

// script gives every simulator node the far ends of run's sessions.
func script(nodes []*fssim.Node, run, from, count int) {
	for _, n := range nodes {
		for i := from; i < from+count; i++ {
			n.SetSubscriber(calleeNumber(run, i), classOf(i).script...)
			n.SetSubscriber(callerNumber(run, i), callerBehavior(i))
		}
	}
}

// benchPolicy is a realistic retry policy squeezed into bench time, with
// the simulator's second at simSecond: rings of 3 FreeSWITCH seconds,
// retries after 100ms growing by half up to 400ms, at most 5 attempts;
// after USER_BUSY, the next attempt after busyRetry if set, else 100ms.
func benchPolicy(busyRetry time.Duration) session.Policy {
	p := session.DefaultPolicy()
	p.RingTime = 3 * time.Second
	p.CallerRingTime = 3 * time.Second
	p.FirstInterval = 100 * time.Millisecond
	p.Backoff = 1.5
	p.Jitter = 0.1
	p.MaxInterval = 400 * time.Millisecond
	p.MaxAttempts = 5
	p.MaxTotal = time.Hour
	p.Quiet = session.QuietHours{}
	if busyRetry <= 0 {
		busyRetry = 100 * time.Millisecond
	}
	p.Causes[freeswitch.UserBusy] = session.CauseRule{Verdict: session.Retry, Interval: busyRetry}
	return p
}
