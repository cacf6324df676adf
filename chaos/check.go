package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// The invariants the checker holds the run to.
const (
	invOutcome   = "every session has exactly one outcome"
	invOverlap   = "never two callee legs of a session up at once"
	invCancel    = "no leg dialled after an acknowledged cancel"
	invBridgeCut = "a bridged call is never cut by bgcall"
	invLegLeft   = "no leg left up at the end"
	invSMS       = "an SMS only for a missed call, and only once"
	invRecord    = "the outcome agrees with the calls"
	invHupall    = "hupall never sent"
	invProcess   = "replicas run clean (no data race, no panic, stop on SIGTERM)"
	invAPI       = "the API refuses no valid request"
)

var invariants = []string{invOutcome, invOverlap, invCancel, invBridgeCut, invLegLeft, invSMS, invRecord, invHupall, invProcess, invAPI}

// killCause is the cause bgcall hangs legs up with (uuid_kill).
const killCause = "NORMAL_CLEARING"

// Violation is one breach of an invariant.
type Violation struct {
	Invariant string
	Session   string // "" when it concerns no one session
	Detail    string
}

// evidence is everything the checker reads: the final store and the
// simulators' record of every command and channel, and what the run's
// clients were told.
type evidence struct {
	planned  []*sessionPlan
	sessions map[string]*sessionRecord // by id: every session in the store
	created  map[int]string            // plan index → session id the API answered with
	cancels  map[string]cancelAck      // session id → when its cancel was acknowledged
	nodes    []nodeRecord
	domain   string // of the SMS recipients' addresses
}

type sessionRecord struct {
	s        store.Session
	timeline []store.Entry
}

type nodeRecord struct {
	name       string
	originates []fssim.OriginateRecord
	commands   []string
	bridges    []fssim.Bridge
	chats      []fssim.ChatMessage
	live       []fssim.ChannelInfo // channels up once the run settled
}

// cancelAck is a cancel the API acknowledged: from at on, no leg of the
// session may be dialled. An uncertain one was answered "already finished"
// after an earlier try whose answer was lost: it holds only if the session
// was indeed cancelled by the run.
type cancelAck struct {
	at         time.Time
	endBridged bool
	uncertain  bool
}

// leg is one originate that made a channel, with its session and role.
type leg struct {
	node string
	rec  fssim.OriginateRecord
}

func (l leg) session() string { return l.rec.Vars[session.VarSession] }
func (l leg) role() string    { return l.rec.Vars[session.VarLeg] }

func (l leg) String() string {
	end := "still up"
	if !l.rec.Ended.IsZero() {
		end = "ended " + clock(l.rec.Ended) + " " + orNone(l.rec.Cause)
	}
	answered := ""
	if !l.rec.Answered.IsZero() {
		answered = " answered " + clock(l.rec.Answered)
	}
	return fmt.Sprintf("%s leg %s on %s: dialled %s%s, %s", l.role(), l.rec.UUID, l.node, clock(l.rec.Start), answered, end)
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }

func orNone(s string) string {
	if s == "" {
		return "(no cause: vanished with its node)"
	}
	return s
}

// checker runs every check over the evidence and counts what it checked.
type checker struct {
	ev         *evidence
	legs       map[string][]leg // by session
	byUUID     map[string]leg   // node+uuid → leg
	checked    map[string]int
	violations []Violation
	notes      map[string]int // what is worth knowing but breaks no invariant
}

func check(ev *evidence) *checker {
	c := &checker{ev: ev, legs: map[string][]leg{}, byUUID: map[string]leg{}, checked: map[string]int{}, notes: map[string]int{}}
	for _, n := range ev.nodes {
		for _, o := range n.originates {
			if o.UUID == "" {
				continue // refused before a channel existed
			}
			l := leg{node: n.name, rec: o}
			c.legs[l.session()] = append(c.legs[l.session()], l)
			c.byUUID[n.name+" "+o.UUID] = l
		}
	}
	c.outcomes()
	c.overlap()
	c.cancelled()
	c.bridges()
	c.leftUp()
	c.sms()
	c.hupall()
	return c
}

func (c *checker) fail(inv, id, format string, args ...any) {
	c.violations = append(c.violations, Violation{Invariant: inv, Session: id, Detail: fmt.Sprintf(format, args...)})
}

// outcomes: every session A asked for is in the store once, finished, with
// one finished entry on its timeline; and its outcome agrees with the
// calls (completed if and only if its legs were bridged, unless a cancel
// ended the bridged call).
func (c *checker) outcomes() {
	byCaller := map[string][]*sessionRecord{}
	for _, r := range c.ev.sessions {
		byCaller[r.s.Caller] = append(byCaller[r.s.Caller], r)
	}
	bridged := c.bridgedSessions()
	for _, p := range c.ev.planned {
		c.checked[invOutcome]++
		got := byCaller[p.caller]
		id, acked := c.ev.created[p.index]
		switch {
		case len(got) == 0 && acked:
			c.fail(invOutcome, id, "created (the API answered with it) but not in the store")
			continue
		case len(got) == 0:
			c.notes["create never answered, nothing stored"]++
			continue
		case len(got) > 1:
			var ids []string
			for _, r := range got {
				ids = append(ids, r.s.ID)
			}
			c.fail(invOutcome, got[0].s.ID, "A=%s asked once, the store has %d sessions: %s", p.caller, len(got), strings.Join(ids, ", "))
		}
		for _, r := range got {
			if c.outcome(r, acked && r.s.ID != id, id) {
				c.checked[invRecord]++
				c.record(r, bridged[r.s.ID])
			}
		}
	}
}

// outcome checks r's outcome and reports whether it has one to compare
// with the calls.
func (c *checker) outcome(r *sessionRecord, otherID bool, acked string) bool {
	s := r.s
	if otherID {
		c.fail(invOutcome, s.ID, "the API answered the create with session %s", acked)
	}
	finished := 0
	for _, e := range r.timeline {
		if e.Kind == store.KindFinished {
			finished++
		}
	}
	switch {
	case s.Quarantine != "":
		c.fail(invOutcome, s.ID, "quarantined: %s", s.Quarantine)
	case s.State != store.Finished:
		c.fail(invOutcome, s.ID, "never ended: still %s (owner %q)", s.State, s.Owner)
	case s.Outcome == "":
		c.fail(invOutcome, s.ID, "finished without an outcome")
	case finished != 1:
		c.fail(invOutcome, s.ID, "%d finished entries on its timeline", finished)
	default:
		return true
	}
	return false
}

func (c *checker) record(r *sessionRecord, bridged bool) {
	s := r.s
	b, a := c.lastLeg(s.ID, s.CalleeLeg), c.lastLeg(s.ID, s.CallerLeg)
	switch {
	case s.Outcome == store.Failed:
		// No far end of the run fails for good (an unallocated number, a
		// barred call): failed is for those.
		c.fail(invRecord, s.ID, "ended failed (%s), though no far end failed for good", lastNote(r.timeline))
	case s.Outcome == store.CalleeLeft && b != nil && b.rec.Cause == killCause:
		c.fail(invRecord, s.ID, "recorded as B leaving the hold, but B was hung up by %s: %s", c.killer(*b), b)
	case s.Outcome == store.CallerMissed && a != nil && !a.rec.Answered.IsZero() && a.rec.Cause == killCause:
		c.fail(invRecord, s.ID, "recorded as A missing the call, but A answered and was hung up by %s: %s", c.killer(*a), a)
	case s.Outcome == store.Completed && !bridged:
		c.fail(invRecord, s.ID, "completed, but its legs were never bridged")
	case bridged && s.Outcome != store.Completed && s.Outcome != store.Cancelled && !hasKind(r.timeline, store.KindBridged):
		// The replica that bridged died before it stored the bridge, and
		// the call was over when the next one asked FreeSWITCH: the legs
		// were gone, and how they had ended could not be told. The
		// parties talked; only the record is wrong.
		c.notes["bridged, recorded as "+string(s.Outcome)+": the bridge was never stored"]++
	case bridged && s.Outcome != store.Completed && s.Outcome != store.Cancelled:
		c.fail(invRecord, s.ID, "its legs were bridged, but it ended %s", s.Outcome)
	case bridged && s.Outcome == store.Cancelled && !cancelledWhileBridged(r.timeline) && !cancelledWhileHolding(r.timeline):
		c.fail(invRecord, s.ID, "its legs were bridged, but it was cancelled as if they were not")
	}
}

func hasKind(tl []store.Entry, k store.Kind) bool {
	for _, e := range tl {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// lastNote is the note of the timeline's last entry: why it ended.
func lastNote(tl []store.Entry) string {
	if len(tl) == 0 {
		return ""
	}
	return tl[len(tl)-1].Note
}

// lastLeg is the leg uuid of session id, nil if it made no channel.
func (c *checker) lastLeg(id, uuid string) *leg {
	for _, l := range c.legs[id] {
		if l.rec.UUID == uuid {
			return &l
		}
	}
	return nil
}

// bridgedSessions are the sessions two of whose legs were bridged.
func (c *checker) bridgedSessions() map[string]bool {
	out := map[string]bool{}
	for _, n := range c.ev.nodes {
		for _, b := range n.bridges {
			if l, ok := c.byUUID[n.name+" "+b.A]; ok {
				out[l.session()] = true
			}
			if l, ok := c.byUUID[n.name+" "+b.B]; ok {
				out[l.session()] = true
			}
		}
	}
	return out
}

// cancelledWhileHolding: the cancel landed while B held and A's phone
// rang or had just answered; a bridge already on its way may then join
// A and B for a moment before the cancel's teardown ends both legs. The
// cancel asked for that end.
func cancelledWhileHolding(tl []store.Entry) bool {
	for _, e := range tl {
		if e.Kind == store.KindCancelled && strings.Contains(e.Note, "while "+string(store.CalleeHold)) {
			return true
		}
	}
	return false
}

func cancelledWhileBridged(tl []store.Entry) bool {
	for _, e := range tl {
		if e.Kind == store.KindCancelled && strings.Contains(e.Note, "while "+string(store.Bridged)) {
			return true
		}
	}
	return false
}

// overlap: two callee legs of a session never up at once, on any nodes.
func (c *checker) overlap() {
	for id, legs := range c.legs {
		var callee []leg
		for _, l := range legs {
			if l.role() == "callee" {
				callee = append(callee, l)
			}
		}
		sort.Slice(callee, func(i, j int) bool { return callee[i].rec.Start.Before(callee[j].rec.Start) })
		for i := range callee {
			c.checked[invOverlap]++
			for j := i + 1; j < len(callee); j++ {
				a, b := callee[i], callee[j]
				if a.rec.Ended.IsZero() || a.rec.Ended.After(b.rec.Start) {
					c.fail(invOverlap, id, "%s\n    overlaps %s", a, b)
				}
			}
		}
	}
}

// cancelled: after a cancel was acknowledged, no originate of its session
// reached FreeSWITCH.
func (c *checker) cancelled() {
	for id, ack := range c.ev.cancels {
		r := c.ev.sessions[id]
		if ack.uncertain && (r == nil || !cancelledByRun(r.timeline)) {
			continue // the earlier try did not land: the session ended otherwise
		}
		c.checked[invCancel]++
		for _, l := range c.legs[id] {
			if !l.rec.Start.After(ack.at) {
				continue
			}
			stored := "a leg the session never stored"
			if r != nil && storedBeforeCancel(r.timeline, l.rec.UUID) {
				stored = "a leg stored before the cancel, sent after it was acknowledged"
			}
			c.fail(invCancel, id, "cancel acknowledged at %s; then %s (%s)", clock(ack.at), l, stored)
		}
	}
}

func cancelledByRun(tl []store.Entry) bool {
	for _, e := range tl {
		if e.Kind == store.KindCancelled && strings.HasSuffix(e.Note, " by "+runName) {
			return true
		}
	}
	return false
}

func storedBeforeCancel(tl []store.Entry, uuid string) bool {
	for _, e := range tl {
		if e.Kind == store.KindCancelled {
			return false
		}
		if e.UUID == uuid {
			return true
		}
	}
	return false
}

// bridges: a bridged call ends because a far end hung up (its cause is
// farEndCause), its node went away (no cause), or a cancel asked to end
// it; any other ending is bgcall's doing, or the dead-man switch's.
func (c *checker) bridges() {
	for _, n := range c.ev.nodes {
		for _, b := range n.bridges {
			c.checked[invBridgeCut]++
			a, okA := c.byUUID[n.name+" "+b.A]
			z, okB := c.byUUID[n.name+" "+b.B]
			if !okA || !okB {
				c.fail(invBridgeCut, "", "bridge of %s and %s on %s: not legs bgcall dialled", b.A, b.B, n.name)
				continue
			}
			first := a
			if a.rec.Ended.IsZero() || (!z.rec.Ended.IsZero() && z.rec.Ended.Before(a.rec.Ended)) {
				first = z
			}
			cause := first.rec.Cause
			if first.rec.Ended.IsZero() || cause == farEndCause || cause == "" {
				continue // left up (see leftUp), hung up by a party, or gone with the node
			}
			id := first.session()
			if r := c.ev.sessions[id]; r != nil && cancelledWhileBridged(r.timeline) {
				continue // ended on request: a cancel with end_bridged
			} else if r != nil && cancelledWhileHolding(r.timeline) {
				c.notes["bridged as a cancel landed, then ended by it"]++
				continue
			}
			by := c.killer(first)
			c.fail(invBridgeCut, id, "bridged at %s; %s\n    hung up first, by %s; its partner: %s", clock(b.At), first, by, pick(first, a, z))
		}
	}
}

func pick(not, a, b leg) leg {
	if not.rec.UUID == a.rec.UUID {
		return b
	}
	return a
}

// killer names what hung l up with bgcall's cause: bgcall's uuid_kill, or
// else FreeSWITCH's park_timeout, the dead-man switch of a leg nobody
// steers.
func (c *checker) killer(l leg) string {
	for _, n := range c.ev.nodes {
		if n.name != l.node {
			continue
		}
		if kills := killsOf(n.commands, l.rec.UUID); len(kills) > 0 {
			return "bgcall (" + strings.Join(kills, "; ") + ")"
		}
	}
	return "FreeSWITCH's park_timeout (bgcall sent no uuid_kill for it)"
}

// killsOf returns the commands that hang up uuid.
func killsOf(commands []string, uuid string) []string {
	var out []string
	for _, cmd := range commands {
		if strings.Contains(cmd, "uuid_kill "+uuid) {
			out = append(out, strings.TrimSpace(cmd))
		}
	}
	return out
}

// leftUp: once the run settled, no channel is up on any node.
func (c *checker) leftUp() {
	for _, n := range c.ev.nodes {
		c.checked[invLegLeft] += len(n.originates)
		for _, ch := range n.live {
			desc := fmt.Sprintf("%s %s (%s) on %s, %s", ch.Vars[session.VarLeg], ch.UUID, ch.Number, n.name, ch.AnswerState)
			if ch.Bridged != "" {
				desc += ", bridged to " + ch.Bridged
			}
			if l, ok := c.byUUID[n.name+" "+ch.UUID]; ok {
				desc = l.String()
			}
			c.fail(invLegLeft, ch.Vars[session.VarSession], "%s", desc)
		}
	}
}

// sms: A gets one SMS for a missed call, and none for any other outcome.
func (c *checker) sms() {
	byCaller := map[string]*sessionRecord{}
	for _, r := range c.ev.sessions {
		byCaller[r.s.Caller] = r
	}
	sent := map[string]int{}
	for _, n := range c.ev.nodes {
		for _, m := range n.chats {
			c.checked[invSMS]++
			caller, _, _ := strings.Cut(strings.TrimPrefix(m.To, "sip:"), "@")
			r := byCaller[caller]
			switch {
			case r == nil:
				c.fail(invSMS, "", "SMS to %s, who asked for no session", m.To)
				continue
			case r.s.Outcome != store.CallerMissed && r.s.Outcome != store.CallerBusy:
				c.fail(invSMS, r.s.ID, "SMS to A for a session that ended %s", r.s.Outcome)
			}
			sent[r.s.ID]++
		}
	}
	for id, k := range sent {
		if k > 1 {
			c.fail(invSMS, id, "%d SMS sent to A", k)
		}
	}
	for _, r := range c.ev.sessions {
		if r.s.Outcome == store.CallerMissed && sent[r.s.ID] == 0 {
			c.notes["caller_missed without an SMS"]++
		}
	}
}

// hupall: bgcall hangs up its own legs one by one, never everything.
func (c *checker) hupall() {
	for _, n := range c.ev.nodes {
		for _, cmd := range n.commands {
			c.checked[invHupall]++
			if strings.Contains(cmd, "hupall") {
				c.fail(invHupall, "", "%s received %q", n.name, strings.TrimSpace(cmd))
			}
		}
	}
}
