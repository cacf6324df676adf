package fssim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"bgcall/internal/uuid"
)

// CallOptions describes an ordinary call a subscriber places through the
// node's dialplan, as a phone registered to FreeSWITCH would.
type CallOptions struct {
	// From is the calling subscriber: caller id and sip user of the
	// inbound leg.
	From string
	// To is what the subscriber dialled.
	To string
	// Socket is where the dialplan's socket application connects
	// ("host:port", run as "<Socket> async full"). Dialled numbers with a
	// feature prefix go there directly; an ordinary call whose bridge fails
	// goes there afterwards (continue_on_fail=true, hangup_after_bridge=true,
	// then socket), as the shipped dialplan does. Empty: no socket; a
	// failed bridge hangs the caller up with the bridge's cause.
	Socket string
	// Features are the dialled prefixes routed straight to the socket;
	// default "*88", "*89", "*87" and "*86", as the shipped dialplan.
	Features []string
	// Timeout is the bridge's call_timeout in FreeSWITCH seconds; default 30.
	Timeout int
	// DTMF is what the caller keys at the first digit read
	// (play_and_get_digits) bgcall starts on the leg, KeyDelay after its
	// prompt ends; empty keys nothing, so the read times out.
	DTMF     string
	KeyDelay time.Duration
	// HangupAfter, when positive, makes the caller put the phone down this
	// long after dialling: while B rings that cancels the bridge
	// (ORIGINATOR_CANCEL on the B leg).
	HangupAfter time.Duration
}

// Call places a call from o.From to o.To through the scripted dialplan and
// returns the caller's leg UUID. The far end B behaves per its Behavior
// sequence, as an originate to it would.
//
// The dialplan it runs is the one deploy/freeswitch ships: a feature code
// goes to the socket; any other number is bridged to user/<To> with
// continue_on_fail and hangup_after_bridge set, and when the bridge fails
// and a socket is given the caller's still-up leg is handed to it.
func (n *Node) Call(o CallOptions) (string, error) {
	if o.From == "" || o.To == "" {
		return "", fmt.Errorf("fssim: call needs From and To")
	}
	if o.Features == nil {
		o.Features = []string{"*88", "*89", "*87", "*86"}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return "", fmt.Errorf("fssim: node closed")
	}
	now := time.Now()
	uuid := uuid.New()
	n.sessID++
	a := &channel{
		uuid: uuid, name: "sofia/internal/" + o.From + "@" + n.opts.IPv4, number: o.To,
		source: "mod_sofia", context: "default", dialplan: "XML", cidNum: o.From, cidName: o.From,
		callUUID: uuid, sessionID: n.sessID, callState: "DOWN", answerState: "ringing",
		created: now, inbound: true, keys: o.DTMF, keyWait: o.KeyDelay,
	}
	for _, v := range [][2]string{{"direction", "inbound"}, {"uuid", uuid}, {"session_id", strconv.Itoa(a.sessionID)},
		{"sip_from_user", o.From}, {"sip_to_user", o.To}, {"sip_req_user", o.To},
		{"read_codec", "PCMU"}, {"read_rate", "8000"}, {"write_codec", "PCMU"}, {"write_rate", "8000"},
		{"channel_name", a.name}, {"call_uuid", uuid}} {
		a.setVar(v[0], v[1])
	}
	n.addChannel(a)
	a.running, a.stateNum = csNew, 0
	n.stateEvent(a, csInit)
	n.fire(n.chEvent(a, "CHANNEL_CREATE", true))
	n.stateEvent(a, csRouting)
	a.hitDialplan = true
	n.stateEvent(a, csExecute)
	if o.HangupAfter > 0 {
		n.chanAfter(a, o.HangupAfter, func() { n.hangup(a, "NORMAL_CLEARING") })
	}
	for _, f := range o.Features {
		if f != "" && strings.HasPrefix(o.To, f) {
			if o.Socket == "" {
				n.hangup(a, "UNALLOCATED_NUMBER")
				return uuid, nil
			}
			n.socketApp(a, o.Socket+" async full")
			return uuid, nil
		}
	}
	n.bridgeApp(a, o)
	return uuid, nil
}

// dialStatus maps a bridge failure to the DIALSTATUS FreeSWITCH sets.
func dialStatus(cause string) string {
	switch cause {
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER", "NO_USER_RESPONSE":
		return "NOANSWER"
	case "ORIGINATOR_CANCEL":
		return "CANCEL"
	case "UNALLOCATED_NUMBER", "INVALID_NUMBER_FORMAT":
		return "INVALIDARGS"
	}
	return "CHANUNAVAIL"
}

// bridgeApp runs set(continue_on_fail), set(hangup_after_bridge) and
// bridge(user/<To>) on the caller's leg.
func (n *Node) bridgeApp(a *channel, o CallOptions) {
	a.setVar("continue_on_fail", "true")
	a.setVar("hangup_after_bridge", "true")
	data := "user/" + o.To
	id := n.execute1(a, "bridge", data)
	a.app, a.appData = "bridge", data
	bUUID := uuid.New()
	cmd := fmt.Sprintf("{origination_uuid=%s,origination_caller_id_number=%s,origination_caller_id_name=%s,originate_timeout=%d,ignore_early_media=true}%s &park()",
		bUUID, o.From, o.From, o.Timeout, data)
	n.originate(cmd, func(res string) {
		a.dialing = nil
		if uuid, ok := strings.CutPrefix(strings.TrimSpace(res), "+OK "); ok {
			b := n.channels[uuid]
			if a.gone || b == nil {
				return
			}
			a.setVar("originate_disposition", "SUCCESS")
			a.setVar("DIALSTATUS", "SUCCESS")
			if a.answerState != "answered" {
				n.answerInbound(a)
			}
			n.bridge(a, b)
			return
		}
		cause := strings.TrimSpace(strings.TrimPrefix(res, "-ERR "))
		a.setVar("originate_disposition", cause)
		a.setVar("originate_failed_cause", cause)
		a.setVar("DIALSTATUS", dialStatus(cause))
		if a.gone {
			return
		}
		n.executeComplete(a, "bridge", data, "_none_", id)
		if o.Socket == "" {
			n.hangup(a, cause)
			return
		}
		n.socketApp(a, o.Socket+" async full")
	})
	if b := n.channels[bUUID]; b != nil && !b.gone && b.orig != nil {
		b.caller = a
		a.dialing = b
		if !b.progressAt.IsZero() && a.progressAt.IsZero() {
			// B rang at once, before it was known as the bridge's leg.
			a.progressAt = b.progressAt
			n.fire(n.chEvent(a, "CHANNEL_PROGRESS", true))
			n.callState(a, "RINGING")
		}
	}
}

// answerInbound answers the caller's own leg (the bridge, or the answer
// application).
func (n *Node) answerInbound(ch *channel) {
	ch.answeredAt = time.Now()
	ch.answerState = "answered"
	n.fire(n.chEvent(ch, "CHANNEL_ANSWER", true))
	n.callState(ch, "ACTIVE")
}
