package fssim

import (
	"strconv"
	"strings"
	"time"

	"bgcall/internal/uuid"
)

// playback is a file being played to a leg.
type playback struct {
	path    string
	app     string // playback or endless_playback
	appUUID string
	// done, when set, runs when the file ends instead of afterPlay; inner
	// prompts of play_and_get_digits have no execute events of their own.
	done  func()
	inner bool
}

// startApp runs the originate's application once the leg is up.
func (n *Node) startApp(ch *channel) {
	switch ch.app {
	case "park":
		n.park(ch)
	case "playback", "endless_playback":
		n.startPlay(ch, ch.app, ch.appData)
	case "hangup":
		cause := strings.ToUpper(strings.TrimSpace(ch.appData))
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		n.execute1(ch, "hangup", ch.appData)
		n.hangup(ch, cause)
	default:
		n.execute1(ch, ch.app, ch.appData)
	}
}

func (n *Node) execute1(ch *channel, app, data string) string {
	return n.executeID(ch, app, data, uuid.New())
}

// executeID fires CHANNEL_EXECUTE with a given Application-UUID: sendmsg's
// Event-UUID becomes the application's, so a controller can match the
// completion to its request.
func (n *Node) executeID(ch *channel, app, data, id string) string {
	if id == "" {
		id = uuid.New()
	}
	ch.setVar("current_application", app)
	post := []header{{"Application", app}}
	if data != "" {
		ch.setVar("current_application_data", data)
		post = append(post, header{"Application-Data", data})
	}
	post = append(post, header{"Application-UUID", id})
	n.fireCh(ch, "CHANNEL_EXECUTE", true, post...)
	return id
}

func (n *Node) executeComplete(ch *channel, app, data, response, id string) {
	post := []header{{"Application", app}}
	if data != "" {
		post = append(post, header{"Application-Data", data})
	}
	post = append(post, header{"Application-Response", response}, header{"Application-UUID", id})
	n.fireCh(ch, "CHANNEL_EXECUTE_COMPLETE", true, post...)
}

// park parks the leg, arming park_timeout ("<seconds>[:CAUSE]") if set.
func (n *Node) park(ch *channel) {
	ch.app, ch.appData = "park", ""
	ch.appUUID = n.execute1(ch, "park", "")
	ch.parked = true
	n.fireCh(ch, "CHANNEL_PARK", true)
	if v, ok := ch.getVar("park_timeout"); ok {
		secs, cause, _ := strings.Cut(v, ":")
		if cause == "" || !knownCause(strings.ToUpper(cause)) {
			cause = "NORMAL_CLEARING"
		}
		if s, err := strconv.Atoi(strings.TrimSpace(secs)); err == nil && s > 0 {
			appUUID := ch.appUUID
			n.chanAfter(ch, time.Duration(s)*n.opts.Second, func() {
				if ch.parked && ch.appUUID == appUUID {
					n.hangup(ch, strings.ToUpper(cause))
				}
			})
		}
	}
}

func (n *Node) unpark(ch *channel) {
	if !ch.parked {
		return
	}
	ch.parked = false
	n.fireCh(ch, "CHANNEL_UNPARK", true)
	n.executeComplete(ch, "park", "", "_none_", ch.appUUID)
	ch.app = ""
}

// broadcast plays path ("file" or "app::args") on the leg; a second
// broadcast waits for the first, as FreeSWITCH queues them.
func (n *Node) broadcast(ch *channel, path string) {
	app, args := "playback", path
	if a, rest, ok := strings.Cut(path, "::"); ok {
		app, args = a, rest
	}
	if ch.play != nil {
		ch.queue = append(ch.queue, app+"::"+args)
		return
	}
	switch app {
	case "playback", "endless_playback":
		n.startPlay(ch, app, args)
	case "hangup":
		cause := strings.ToUpper(args)
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		n.hangup(ch, cause)
	default:
		id := n.execute1(ch, app, args)
		n.executeComplete(ch, app, args, "_none_", id)
	}
}

func (n *Node) promptDuration(path string) time.Duration {
	if d, ok := n.prompts[path]; ok {
		return d
	}
	return n.opts.PromptDuration
}

func (n *Node) startPlay(ch *channel, app, path string) {
	p := &playback{path: path, app: app}
	ch.play = p
	p.appUUID = n.execute1(ch, app, path)
	n.playStart(ch, p)
	if b := ch.behavior; b.HangupOnPrompt {
		ch.behavior.HangupOnPrompt = false
		n.chanAfter(ch, b.PromptHangupAfter, func() { n.hangup(ch, "NORMAL_CLEARING") })
	}
}

// playbackHeaders name the file a PLAYBACK event is about as FreeSWITCH
// does: a relative path by where it found it, in its sounds directory.
func (n *Node) playbackHeaders(path string) []header {
	var h []header
	if scheme, _, ok := strings.Cut(path, "://"); ok {
		h = append(h, header{"Playback-File-Type", scheme})
	} else if !strings.HasPrefix(path, "/") {
		path = n.opts.SoundsDir + "/" + path
	}
	return append(h, header{"Playback-File-Path", path})
}

func (n *Node) playStart(ch *channel, p *playback) {
	n.rec.prompts = keep(n.rec.prompts, n.rec.limit, Prompt{UUID: ch.uuid, Path: p.path, At: time.Now()})
	n.fireCh(ch, "PLAYBACK_START", true, n.playbackHeaders(p.path)...)
	n.chanAfter(ch, n.promptDuration(p.path), func() {
		if ch.play != p {
			return
		}
		n.fireCh(ch, "PLAYBACK_STOP", true, append(n.playbackHeaders(p.path), header{"Playback-Status", "done"})...)
		if p.app == "endless_playback" {
			n.playStart(ch, p)
			return
		}
		ch.play = nil
		if !p.inner {
			n.executeComplete(ch, p.app, p.path, "FILE PLAYED", p.appUUID)
		}
		if p.done != nil {
			p.done()
			return
		}
		n.afterPlay(ch)
	})
}

// afterPlay continues a leg whose prompt ended: the next queued broadcast,
// or hangup when playback was the originate's application.
func (n *Node) afterPlay(ch *channel) {
	if len(ch.queue) > 0 {
		next := ch.queue[0]
		ch.queue = ch.queue[1:]
		n.broadcast(ch, next)
		return
	}
	if ch.app == "playback" || ch.app == "endless_playback" {
		n.hangup(ch, "NORMAL_CLEARING")
	}
}

// stopPlay interrupts the current prompt (uuid_break, bridge, hangup).
func (n *Node) stopPlay(ch *channel, clearQueue bool) {
	p := ch.play
	if clearQueue {
		ch.queue = nil
	}
	if p == nil {
		return
	}
	ch.play = nil
	n.fireCh(ch, "PLAYBACK_STOP", true, append(n.playbackHeaders(p.path), header{"Playback-Status", "break"})...)
	if !p.inner {
		n.executeComplete(ch, p.app, p.path, "FILE PLAYED", p.appUUID)
	}
}

// bridge joins two legs as uuid_bridge does; a is Bridge-A.
func (n *Node) bridge(a, b *channel) {
	now := time.Now()
	a.partner, b.partner = b, a
	a.other, b.other = b, a
	a.unbridged, b.unbridged = false, false
	a.bridgeA, b.bridgeA = true, false
	for _, pair := range [][2]*channel{{a, b}, {b, a}} {
		src := strconv.FormatInt(now.Unix(), 10) + ":" + uuid.New() + ":uuid_br:" + pair[1].uuid
		pair[0].transfer = src
		pair[0].setVar("transfer_history", src)
		pair[0].setVar("transfer_source", src)
	}
	for _, ch := range []*channel{a, b} {
		n.stopPlay(ch, true)
		n.unpark(ch)
		n.stateEvent(ch, csHibernate)
		n.stateEvent(ch, csReset)
		n.stateEvent(ch, csSoftExecute)
	}
	a.bridgedAt, b.bridgedAt = now, now
	b.callUUID = a.uuid
	for _, pair := range [][2]*channel{{a, b}, {b, a}} {
		ch, other := pair[0], pair[1]
		ch.setVar("bridge_channel", other.name)
		ch.setVar("bridge_uuid", other.uuid)
		ch.setVar("signal_bond", other.uuid)
		ch.setVar("call_uuid", a.uuid)
		line := "1236"
		if ch == b {
			line = "1243"
		}
		e := n.newEvent("CHANNEL_EXECUTE", "switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", line)
		e.uuid = ch.uuid
		ch.basicData(e)
		e.headers = append(e.headers, ch.vars...)
		e.add("Application", "uuid_bridge")
		e.add("Application-Data", other.uuid)
		n.fire(e)
	}
	ch := a
	n.fire(n.chEvent(ch, "CHANNEL_BRIDGE", true, header{"Bridge-A-Unique-ID", a.uuid}, header{"Bridge-B-Unique-ID", b.uuid}))
	n.stateEvent(b, csConsumeMedia)
	n.stateEvent(b, csExchangeMed)
	a.app, b.app = "uuid_bridge", "uuid_bridge"
	n.rec.bridges = keep(n.rec.bridges, n.rec.limit, Bridge{A: a.uuid, B: b.uuid, At: now})
}

// unbridge fires CHANNEL_UNBRIDGE on the A leg.
func (n *Node) unbridgeEvent(a, b *channel) {
	n.fire(n.chEvent(a, "CHANNEL_UNBRIDGE", true, header{"Bridge-A-Unique-ID", a.uuid}, header{"Bridge-B-Unique-ID", b.uuid}))
}

// survive handles the leg left when its bridge partner hung up with cause:
// it parks again when park_after_bridge is set, ends NORMAL_CLEARING when
// hangup_after_bridge=false (nothing left to run), and otherwise hangs up
// with the partner's cause.
func (n *Node) survive(ch *channel, cause string) {
	if ch.gone {
		return
	}
	ch.setVar("last_bridge_hangup_cause", cause)
	if v, _ := ch.getVar("park_after_bridge"); isTrue(v) {
		ch.partner = nil
		ch.callUUID = ch.uuid
		ch.app = ""
		n.stateEvent(ch, csExecute)
		n.park(ch)
		return
	}
	if v, ok := ch.getVar("hangup_after_bridge"); ok && !isTrue(v) {
		// The leg goes on with its application; a &park() originate has
		// nothing left to run and ends normally.
		n.hangup(ch, "NORMAL_CLEARING")
		return
	}
	n.hangup(ch, cause)
}

// hangup runs a leg's hangup to its end: CHANNEL_HANGUP, the bridge
// partner, HANGUP_COMPLETE, the originate's failure when it was still
// dialling, and CHANNEL_DESTROY. A leg taken down by another's hangup
// (its bridge partner) is destroyed after the other's HANGUP_COMPLETE, as
// in FreeSWITCH, where each leg's thread finishes on its own.
func (n *Node) hangup(ch *channel, cause string) { n.hangupThen(ch, cause, nil) }

// hangupThen is hangup with then run right after the leg's CHANNEL_HANGUP:
// what goes down with the leg or answers for it at once.
func (n *Node) hangupThen(ch *channel, cause string, then func()) {
	if ch.gone {
		return
	}
	n.hangups++
	defer func() { n.hangups-- }()
	now := time.Now()
	if ch.caller != nil && ch.answeredAt.IsZero() {
		// A bridge's B leg is a SIP call: the final response is kept.
		if code, ok := sipTermStatus[cause]; ok {
			ch.setVar("sip_term_status", code)
			ch.setVar("sip_term_cause", strconv.Itoa(q850[cause]))
		}
	}
	n.markGone(ch)
	ch.cause = cause
	ch.hungupAt = now
	ch.answerState = "hangup"
	n.cancelChanTimers(ch)
	ch.stateNum = stateNumber[csHangup]
	n.fire(n.chEvent(ch, "CHANNEL_HANGUP", true))
	if then != nil {
		then()
	}
	if d := ch.dialing; d != nil {
		// The caller gave up while the bridge was ringing B: the B leg is
		// cancelled, and the bridge reports it on the caller's leg.
		ch.dialing = nil
		n.hangup(d, "ORIGINATOR_CANCEL")
	}
	ch.read = nil
	ch.apps = nil
	n.stopPlay(ch, true)
	if p := ch.partner; p != nil && !ch.unbridged {
		// The bridge ends: the partner keeps its Other-Leg headers until the
		// bridge is fully torn down, as in FreeSWITCH's own events.
		ch.unbridged, p.unbridged = true, true
		ch.setVar("last_bridge_to", p.uuid)
		if ch.bridgeA {
			n.survive(p, cause)
			n.unbridgeEvent(ch, p)
		} else {
			n.unbridgeEvent(p, ch)
			n.survive(p, cause)
		}
		if ch.partner == p {
			ch.partner = nil
		}
		if p.partner == ch {
			p.partner = nil
		}
	}
	n.unpark(ch)
	n.stateEvent(ch, csHangup)
	ch.stateNum = stateNumber[csHangup]
	n.callState(ch, "HANGUP")
	n.stateEvent(ch, csReporting)
	n.hangupVars(ch)
	n.fire(n.chEvent(ch, "CHANNEL_HANGUP_COMPLETE", true, header{"Hangup-Cause", cause}))
	// An originate the far end or a kill ended returns once the leg's
	// thread has reported the hangup (FreeSWITCH fires the job after
	// HANGUP_COMPLETE, or later).
	n.endOriginate(ch, "-ERR "+cause+"\n")
	if n.hangups > 1 {
		n.destroyLater = append(n.destroyLater, ch)
		return
	}
	later := n.destroyLater
	n.destroyLater = nil
	for _, d := range later {
		n.destroy(d)
	}
	n.destroy(ch)
}

// destroy ends a leg that has hung up: CHANNEL_DESTROY, and it no longer
// exists.
func (n *Node) destroy(ch *channel) {
	cause := ch.cause
	ch.stateNum = stateNumber[csDestroy]
	n.fire(n.chEvent(ch, "CHANNEL_DESTROY", true))
	n.stateEvent(ch, csDestroy)
	delete(n.channels, ch.uuid)
	n.rec.channelGone(ch, ch.hungupAt)
	if ch.record != nil {
		ch.record.Cause = cause
	}
	if ch.sock != nil {
		ch.sock.sessionGone(ch)
	}
}

func (n *Node) hangupVars(ch *channel) {
	end := ch.hungupAt
	stamp := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
	sec := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	ch.setVar("hangup_cause", ch.cause)
	ch.setVar("hangup_cause_q850", strconv.Itoa(q850[ch.cause]))
	ch.setVar("digits_dialed", "none")
	ch.setVar("start_stamp", stamp(ch.created))
	if !ch.answeredAt.IsZero() {
		ch.setVar("answer_stamp", stamp(ch.answeredAt))
	}
	ch.setVar("end_stamp", stamp(end))
	ch.setVar("start_epoch", sec(ch.created))
	ch.setVar("start_uepoch", usec(ch.created))
	ch.setVar("answer_epoch", sec(ch.answeredAt))
	ch.setVar("answer_uepoch", usec(ch.answeredAt))
	ch.setVar("end_epoch", sec(end))
	ch.setVar("end_uepoch", usec(end))
	dur := end.Sub(ch.created)
	bill := time.Duration(0)
	if !ch.answeredAt.IsZero() {
		bill = end.Sub(ch.answeredAt)
	}
	ch.setVar("caller_id", ch.cidNum)
	ch.setVar("duration", strconv.FormatInt(int64(dur/time.Second), 10))
	ch.setVar("billsec", strconv.FormatInt(int64(bill/time.Second), 10))
	ch.setVar("mduration", strconv.FormatInt(dur.Milliseconds(), 10))
	ch.setVar("billmsec", strconv.FormatInt(bill.Milliseconds(), 10))
	ch.setVar("uduration", strconv.FormatInt(dur.Microseconds(), 10))
	ch.setVar("billusec", strconv.FormatInt(bill.Microseconds(), 10))
}

// sipTermStatus is the SIP final response behind a failed B leg's cause
// (a timed-out or cancelled INVITE ends 487 Request Terminated).
var sipTermStatus = map[string]string{
	"USER_BUSY": "486", "CALL_REJECTED": "603", "NO_USER_RESPONSE": "408",
	"UNALLOCATED_NUMBER": "404", "NO_ANSWER": "487", "ORIGINATOR_CANCEL": "487",
}
