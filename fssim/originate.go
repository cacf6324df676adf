package fssim

import (
	"strconv"
	"strings"
	"time"

	"bgcall/internal/uuid"
)

// originateJob is an originate waiting for its outcome.
type originateJob struct {
	done     func(string) // called once, with Node.mu held
	finished bool
	early    bool // ignore_early_media is not set: 183 completes the originate
}

func (j *originateJob) finish(res string) {
	if j.finished {
		return
	}
	j.finished = true
	j.done(res)
}

// Event-Calling-* sites, as the captures show them.
type site struct {
	file, fn, line string
}

var sites = map[string]site{
	"CHANNEL_UUID":             {"switch_core_session.c", "switch_core_session_set_uuid", "2051"},
	"CHANNEL_OUTGOING":         {"switch_core_session.c", "switch_core_session_outgoing_channel", "768"},
	"CHANNEL_STATE":            {"switch_channel.c", "switch_channel_perform_set_running_state", "2408"},
	"CHANNEL_CREATE":           {"switch_core_state_machine.c", "switch_core_session_run", "626"},
	"CHANNEL_ORIGINATE":        {"switch_core_state_machine.c", "switch_core_session_run", "632"},
	"CHANNEL_PROGRESS":         {"switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3505"},
	"CHANNEL_PROGRESS_MEDIA":   {"switch_channel.c", "switch_channel_perform_mark_pre_answered", "3586"},
	"CHANNEL_CALLSTATE":        {"switch_channel.c", "switch_channel_perform_set_callstate", "301"},
	"CHANNEL_ANSWER":           {"switch_channel.c", "switch_channel_perform_mark_answered", "3846"},
	"CALL_UPDATE":              {"switch_channel.c", "switch_channel_flip_cid", "3277"},
	"CHANNEL_EXECUTE":          {"switch_core_session.c", "switch_core_session_exec", "2944"},
	"CHANNEL_EXECUTE_COMPLETE": {"switch_core_session.c", "switch_core_session_exec", "2967"},
	"CHANNEL_PARK":             {"switch_ivr.c", "switch_ivr_park", "1002"},
	"CHANNEL_UNPARK":           {"switch_ivr.c", "switch_ivr_park", "1213"},
	"CHANNEL_BRIDGE":           {"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"},
	"CHANNEL_UNBRIDGE":         {"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"},
	"CHANNEL_HANGUP":           {"switch_channel.c", "switch_channel_perform_hangup", "3445"},
	"CHANNEL_HANGUP_COMPLETE":  {"switch_core_state_machine.c", "switch_core_session_reporting_state", "943"},
	"CHANNEL_DESTROY":          {"switch_core_session.c", "switch_core_session_perform_destroy", "1584"},
	"PLAYBACK_START":           {"switch_ivr_play_say.c", "switch_ivr_play_file", "1646"},
	"PLAYBACK_STOP":            {"switch_ivr_play_say.c", "switch_ivr_play_file", "2020"},
	"DTMF":                     {"switch_channel.c", "switch_channel_dequeue_dtmf", "578"},
	"CUSTOM":                   {"mod_avmd.c", "avmd_fire_event", "1102"},
}

// chEvent creates a channel event: the common headers, pre (headers that
// precede the channel data), the channel data and, with vars, the channel
// variables.
func (n *Node) chEvent(ch *channel, name string, vars bool, pre ...header) *event {
	s := sites[name]
	extra := len(pre) + 80 // channel data, both profiles, event headers
	if vars {
		extra += len(ch.vars)
	}
	e := n.newEventIfWanted(name, s.file, s.fn, s.line, extra)
	if e == nil {
		return nil
	}
	e.uuid = ch.uuid
	e.headers = append(e.headers, pre...)
	ch.basicData(e)
	if vars {
		e.headers = append(e.headers, ch.vars...)
	}
	return e
}

func (n *Node) fireCh(ch *channel, name string, vars bool, post ...header) {
	e := n.chEvent(ch, name, vars)
	if e == nil {
		return
	}
	e.headers = append(e.headers, post...)
	n.fire(e)
}

func (n *Node) stateEvent(ch *channel, state string) {
	ch.setState(state)
	n.fire(n.chEvent(ch, "CHANNEL_STATE", false))
}

func (n *Node) callState(ch *channel, state string) {
	old := ch.callState
	ch.callState = state
	n.fire(n.chEvent(ch, "CHANNEL_CALLSTATE", false,
		header{"Original-Channel-Call-State", old},
		header{"Channel-Call-State-Number", strconv.Itoa(callStateNumber[state])}))
}

// originate starts an originate; done receives its reply. Called with n.mu
// held.
func (n *Node) originate(arg string, done func(string)) {
	o, ok := parseOriginate(arg)
	if !ok {
		done(originateUsage)
		return
	}
	now := time.Now()
	rec := &OriginateRecord{Node: n.Addr(), Command: arg, DialString: o.endpoint, Vars: make(map[string]string, len(o.vars)),
		VarOrder: make([]string, 0, len(o.vars)), Start: now}
	for _, v := range o.vars {
		if _, dup := rec.Vars[v.name]; !dup {
			rec.VarOrder = append(rec.VarOrder, v.name)
		}
		rec.Vars[v.name] = v.value
	}
	rec.App = o.app
	if o.app == "" {
		rec.App = o.exten
	}
	n.rec.originates = keep(n.rec.originates, n.rec.limit, rec)
	finish := func(res string) {
		rec.Result = strings.TrimSuffix(res, "\n")
		rec.Returned = time.Now()
		if strings.HasPrefix(res, "-ERR ") {
			rec.Cause = strings.TrimSpace(strings.TrimPrefix(res, "-ERR "))
		}
		done(res)
	}
	t, ok := resolveEndpoint(o.endpoint, n.opts.IPv4)
	if !ok {
		finish("-ERR CHAN_NOT_IMPLEMENTED\n")
		return
	}
	rec.Number = t.number
	if t.kind == "error" {
		finish("-ERR " + t.cause + "\n")
		return
	}
	legUUID := rec.Vars["origination_uuid"]
	if legUUID != "" {
		if _, exists := n.channels[legUUID]; exists {
			finish("-ERR DESTINATION_OUT_OF_ORDER\n")
			return
		}
	}
	b := n.nextBehavior(t.number)
	rec.Behavior = b
	switch b.Action {
	case NotRegistered:
		finish("-ERR USER_NOT_REGISTERED\n")
		return
	case Absent:
		finish("-ERR SUBSCRIBER_ABSENT\n")
		return
	}
	if !n.admit(now) {
		finish("-ERR DESTINATION_OUT_OF_ORDER\n")
		return
	}
	if legUUID == "" {
		legUUID = uuid.New()
	}
	timeout := 60
	if o.timeout != "" {
		if v, err := strconv.Atoi(o.timeout); err == nil && v > 0 {
			timeout = v
		}
	}
	for _, name := range []string{"originate_timeout", "leg_timeout"} {
		if v, err := strconv.Atoi(rec.Vars[name]); err == nil && v > 0 {
			timeout = v
		}
	}
	n.sessID++
	ch := &channel{
		uuid: legUUID, name: t.name, number: t.number, endpoint: o.endpoint, source: t.source,
		context: t.context, dialplan: "XML", cidNum: "0000000000", callee: t.number,
		callUUID: legUUID, sessionID: n.sessID, callState: "DOWN", answerState: "ringing",
		created: now, behavior: b, record: rec,
	}
	if t.kind == "loopback" {
		ch.dialplan = "xml"
	}
	if v := rec.Vars["origination_caller_id_number"]; v != "" {
		ch.cidNum = v
	} else if o.cidNum != "" {
		ch.cidNum = o.cidNum
	}
	if v := rec.Vars["origination_caller_id_name"]; v != "" {
		ch.cidName = v
	} else if o.cidName != "" {
		ch.cidName = o.cidName
	}
	rec.UUID = legUUID
	ch.running, ch.stateNum = csNone, 1
	for _, v := range [][2]string{{"direction", "outbound"}, {"is_outbound", "true"},
		{"session_id", strconv.Itoa(ch.sessionID)}, {"read_codec", "PCMU"}, {"read_rate", "8000"},
		{"write_codec", "PCMU"}, {"write_rate", "8000"}, {"channel_name", ch.name},
		{"uuid", legUUID}, {"call_uuid", legUUID}} {
		ch.setVar(v[0], v[1])
	}
	n.addChannel(ch)
	n.rec.channelUp(ch)
	job := &originateJob{done: finish, early: !isTrue(rec.Vars["ignore_early_media"])}
	ch.orig = job

	if rec.Vars["origination_uuid"] != "" {
		n.fire(n.chEvent(ch, "CHANNEL_UUID", true, header{"Old-Unique-ID", uuid.New()}))
	}
	n.fire(n.chEvent(ch, "CHANNEL_OUTGOING", false))
	for _, v := range o.vars {
		ch.setVar(v.name, v.value)
	}
	if job.early {
		ch.setVar("originate_early_media", "true")
	} else {
		ch.setVar("originate_early_media", "false")
	}
	ch.setVar("originate_endpoint", t.kind)
	if t.kind == "user" {
		ch.setVar("originate_endpoint", "sofia")
		ch.setVar("dialed_user", t.number)
	}
	n.stateEvent(ch, csInit)
	ch.stateNum = stateNumber[csRouting]
	n.fire(n.chEvent(ch, "CHANNEL_CREATE", true))
	n.fire(n.chEvent(ch, "CHANNEL_ORIGINATE", true))
	n.stateEvent(ch, csRouting)
	ch.stateNum = stateNumber[csRouting]
	n.stateEvent(ch, csConsumeMedia)

	ch.app, ch.appData = o.app, o.appArgs
	if o.app == "" {
		ch.app, ch.appData = "park", ""
	}

	n.chanAfter(ch, time.Duration(timeout)*n.opts.Second, func() {
		if ch.orig != nil && !ch.orig.finished && ch.answerState != "answered" {
			// The originate itself gives up: it returns as soon as it has
			// hung the leg up.
			n.hangupThen(ch, "NO_ANSWER", func() { n.endOriginate(ch, "-ERR NO_ANSWER\n") })
		}
	})
	switch b.Action {
	case Answer, NoAnswer:
		n.ring(ch)
	default:
		// Early media comes straight away (183 without 180) unless the far
		// end rings first.
		if b.Ring > 0 {
			n.ring(ch)
		}
	}
	act := func() { n.farEnd(ch) }
	if b.Ring > 0 {
		n.chanAfter(ch, b.Ring, act)
	} else if b.Action != NoAnswer {
		act()
	}
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

func (n *Node) ring(ch *channel) {
	ch.progressAt = time.Now()
	n.fire(n.chEvent(ch, "CHANNEL_PROGRESS", true))
	n.callState(ch, "RINGING")
	if a := ch.caller; a != nil && !a.gone && a.progressAt.IsZero() {
		// The bridge passes B's ringing back to the caller (ring_ready).
		a.progressAt = ch.progressAt
		n.fire(n.chEvent(a, "CHANNEL_PROGRESS", true))
		n.callState(a, "RINGING")
	}
}

// farEnd carries out the scripted action once the ring time is over.
func (n *Node) farEnd(ch *channel) {
	if ch.answerState == "answered" {
		return // answered by hand (Node.Answer) meanwhile
	}
	b := ch.behavior
	switch b.Action {
	case Answer:
		n.answer(ch)
	case NoAnswer:
		// Rings until originate_timeout.
	case Busy:
		n.hangup(ch, "USER_BUSY")
	case Reject:
		n.hangup(ch, "CALL_REJECTED")
	case NoUserResponse:
		n.hangup(ch, "NO_USER_RESPONSE")
	case Unallocated:
		n.hangup(ch, "UNALLOCATED_NUMBER")
	case Fail:
		n.hangup(ch, b.Cause)
	case EarlyMedia:
		ch.mediaAt = time.Now()
		ch.answerState = "early"
		n.fire(n.chEvent(ch, "CHANNEL_PROGRESS_MEDIA", true))
		n.callState(ch, "EARLY")
		if ch.orig.early {
			ch.setVar("endpoint_disposition", "EARLY MEDIA")
			n.returnOriginate(ch)
		}
	}
}

func (n *Node) answer(ch *channel) {
	ch.answeredAt = time.Now()
	ch.answerState = "answered"
	ch.record.Answered = ch.answeredAt
	n.fire(n.chEvent(ch, "CHANNEL_ANSWER", true))
	n.callState(ch, "ACTIVE")
	ch.setVar("endpoint_disposition", "ANSWER")
	n.returnOriginate(ch)
	b := ch.behavior
	if b.Talk > 0 {
		cause := b.HangupCause
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		n.chanAfter(ch, b.Talk, func() { n.hangup(ch, cause) })
	}
	if b.DTMF != "" {
		n.chanAfter(ch, b.DTMFDelay, func() { n.sendDTMF(ch, b.DTMF) })
	}
}

// returnOriginate returns the leg's originate, if it has one, once
// OriginateReturn has passed: until then a uuid_bridge on the leg races
// with it (see EarlyBridge).
func (n *Node) returnOriginate(ch *channel) {
	if ch.orig == nil || ch.orig.finished {
		return
	}
	if n.opts.OriginateReturn < 0 {
		n.originated(ch)
		return
	}
	n.chanAfter(ch, n.opts.OriginateReturn, func() {
		if ch.orig != nil && !ch.orig.finished {
			n.originated(ch)
		}
	})
}

// endOriginate answers the leg's originate, if it has not returned yet.
func (n *Node) endOriginate(ch *channel, res string) {
	if ch.orig != nil {
		ch.orig.finish(res)
		ch.orig = nil
	}
}

// originated completes the originate with +OK and starts the application.
func (n *Node) originated(ch *channel) {
	ch.hitDialplan = true
	ch.flipped = true
	ch.setVar("pre_transfer_caller_id_number", ch.cidNum)
	ch.setVar("channel_cid_flipped", "yes")
	n.fire(n.chEvent(ch, "CALL_UPDATE", true, header{"Direction", "RECV"}))
	ch.orig.finish("+OK " + ch.uuid + "\n")
	ch.orig = nil
	if ch.behavior.Action == EarlyMedia && ch.behavior.Talk > 0 {
		cause := ch.behavior.HangupCause
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		n.chanAfter(ch, ch.behavior.Talk, func() { n.hangup(ch, cause) })
	}
	n.stateEvent(ch, csExecute)
	n.startApp(ch)
}
