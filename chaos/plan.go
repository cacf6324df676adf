package chaos

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"bgcall/fssim"
)

// farEnd names how the two parties of a session behave.
type farEnd string

// The mix of far ends. Every talking far end hangs up with farEndCause, a
// cause bgcall never sends, so the checker tells a party putting the phone
// down from bgcall hanging a leg up (uuid_kill with NORMAL_CLEARING).
const (
	answersFirst    farEnd = "answers_first"     // B answers the first attempt; A answers, talks, hangs up
	answersLater    farEnd = "answers_later"     // B does not answer, then answers
	busyThenAnswers farEnd = "busy_then_answers" // B is busy, then answers
	neverAnswers    farEnd = "never_answers"     // B never answers: the session expires
	callerMisses    farEnd = "caller_misses"     // B answers, A does not: A gets an SMS
	calleeHangsUp   farEnd = "callee_hangs_up"   // B answers and, after talking (or on hold), hangs up
)

var farEnds = []farEnd{answersFirst, answersLater, busyThenAnswers, neverAnswers, callerMisses, calleeHangsUp}

// farEndCause is the cause of every hangup a far end makes.
const farEndCause = "NORMAL_UNSPECIFIED"

// sessionPlan is one session of the run, decided before it starts.
type sessionPlan struct {
	index          int
	caller, callee string
	kind           farEnd
	calleeSeq      []fssim.Behavior
	callerSeq      []fssim.Behavior
	createAt       time.Duration // after the load starts
	cancelAfter    time.Duration // after the create was answered; 0: never cancelled
	endBridged     bool          // the cancel asks to end a bridged call too
}

// faultKind names one kind of fault.
type faultKind string

const (
	faultKill        faultKind = "kill -9 (restarted, same id)"
	faultKillNewID   faultKind = "kill -9 (restarted, new id)"
	faultPause       faultKind = "SIGSTOP past the lease, SIGCONT"
	faultRedisDrop   faultKind = "Redis reply lost (timeout, retry)"
	faultRedisCut    faultKind = "Redis reply lost (connection cut)"
	faultRedisCutAll faultKind = "Redis connections all cut"
	faultESLCut      faultKind = "ESL connections cut"
	faultNodeRestart faultKind = "FreeSWITCH node restarted"
)

var faultKinds = []faultKind{faultKill, faultKillNewID, faultPause, faultRedisDrop, faultRedisCut, faultRedisCutAll, faultESLCut, faultNodeRestart}

// faultWeights is how often each kind is drawn, relative to the others. A
// node restart ends every call on the node, so it is rarer than the rest.
var faultWeights = map[faultKind]int{
	faultKill: 2, faultKillNewID: 2, faultPause: 3, faultRedisDrop: 4, faultRedisCut: 2,
	faultRedisCutAll: 1, faultESLCut: 2, faultNodeRestart: 1,
}

// faultPlan is one fault of the run, decided before it starts; its target
// is chosen when it is injected, among those it can hit then.
type faultPlan struct {
	at   time.Duration // after the load starts
	kind faultKind
	pick uint32        // chooses the target
	hold time.Duration // how long a killed replica stays down, or a paused one paused
	nth  int           // the run of the chosen script whose reply is lost
}

// plan is everything a seed decides.
type plan struct {
	sessions []*sessionPlan
	faults   []faultPlan
}

// newPlan draws the run's sessions and faults from seed: the same seed
// gives the same far ends, cancels and faults at the same moments (the
// interleaving with the replicas' own goroutines is the machine's).
func newPlan(seed uint64, o *Options) *plan {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &plan{}
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	for i := range o.Sessions {
		sp := &sessionPlan{
			index:    i,
			caller:   fmt.Sprintf("1%05d", i),
			callee:   fmt.Sprintf("2%05d", i),
			kind:     farEnds[rng.IntN(len(farEnds))],
			createAt: between(0, o.Load-o.Load/10),
		}
		ring := func() time.Duration { return between(200*time.Millisecond, 1500*time.Millisecond) }
		answer := func() fssim.Behavior { return fssim.Behavior{Action: fssim.Answer, Ring: ring()} }
		talks := func() fssim.Behavior {
			b := answer()
			b.Talk, b.HangupCause = between(500*time.Millisecond, 4*time.Second), farEndCause
			return b
		}
		noAnswer := fssim.Behavior{Action: fssim.NoAnswer}
		switch sp.kind {
		case answersFirst:
			sp.calleeSeq, sp.callerSeq = []fssim.Behavior{answer()}, []fssim.Behavior{talks()}
		case answersLater:
			sp.calleeSeq, sp.callerSeq = []fssim.Behavior{noAnswer, answer()}, []fssim.Behavior{talks()}
		case busyThenAnswers:
			busy := fssim.Behavior{Action: fssim.Busy, Ring: between(100*time.Millisecond, 500*time.Millisecond)}
			sp.calleeSeq, sp.callerSeq = []fssim.Behavior{busy, answer()}, []fssim.Behavior{talks()}
		case neverAnswers:
			sp.calleeSeq, sp.callerSeq = []fssim.Behavior{noAnswer}, []fssim.Behavior{talks()}
		case callerMisses:
			sp.calleeSeq, sp.callerSeq = []fssim.Behavior{answer()}, []fssim.Behavior{noAnswer}
		case calleeHangsUp:
			// B's talk counts from B's answer: it may end while A rings
			// (B left the hold) or after the bridge (B ended the call).
			b := talks()
			b.Talk = between(time.Second, 6*time.Second)
			sp.calleeSeq, sp.callerSeq = []fssim.Behavior{b}, []fssim.Behavior{answer()}
		}
		if rng.Float64() < o.CancelShare {
			sp.cancelAfter = between(50*time.Millisecond, 10*time.Second)
			sp.endBridged = rng.IntN(2) == 0
		}
		p.sessions = append(p.sessions, sp)
	}
	sort.SliceStable(p.sessions, func(i, j int) bool { return p.sessions[i].createAt < p.sessions[j].createAt })

	total := 0
	for _, k := range faultKinds {
		total += faultWeights[k]
	}
	for at := between(time.Second, 3*time.Second); at < o.Load; at += between(o.FaultGap/2, o.FaultGap*3/2) {
		f := faultPlan{at: at, pick: rng.Uint32(), nth: 1 + rng.IntN(3)}
		w := rng.IntN(total)
		for _, k := range faultKinds {
			if w -= faultWeights[k]; w < 0 {
				f.kind = k
				break
			}
		}
		switch f.kind {
		case faultKill, faultKillNewID:
			f.hold = between(300*time.Millisecond, 3*time.Second)
		case faultPause:
			// Past the lease, by up to twice more: the others take over
			// while it sleeps, and its timers are long due when it wakes.
			f.hold = between(leaseTTL*5/4, leaseTTL*3)
		}
		p.faults = append(p.faults, f)
	}
	return p
}
