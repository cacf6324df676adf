package fssim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// apiExec runs the command line of an api command and returns its output,
// as api_exec does: the command is what precedes the first space, the
// argument what follows it, and a command the node does not know answers
// "-ERR <command> Command not found!". With console_execute (fs_cli's
// header) the line may hold several commands separated by ";;": the output
// is theirs one after another, an unknown one's being "INVALID COMMAND!",
// and only the last one decides whether the line failed.
func (n *Node) apiExec(line string, console bool) string {
	if !console {
		cmd, arg, _ := strings.Cut(line, " ")
		out, known := n.run(cmd, arg)
		if !known {
			return "-ERR " + cmd + " Command not found!\n"
		}
		return out
	}
	var b strings.Builder
	known := false
	for _, part := range strings.Split(strings.TrimLeft(line, " "), ";;") {
		cmd, arg, _ := strings.Cut(stripCR(part), " ")
		var out string
		if out, known = n.run(cmd, arg); !known {
			out = "INVALID COMMAND!\n"
		}
		b.WriteString(out)
	}
	if !known {
		return "-ERR " + line + " Command not found!\n"
	}
	return b.String()
}

// run runs one api command and waits for its output.
func (n *Node) run(cmd, arg string) (string, bool) {
	type result struct {
		out   string
		known bool
	}
	res := make(chan result, 1)
	n.mu.Lock()
	n.executeLocked(cmd, arg, func(out string, known bool) { res <- result{out, known} })
	n.mu.Unlock()
	r := <-res
	return r.out, r.known
}

// executeBackground runs a bgapi command line; done (called with n.mu held)
// fires the BACKGROUND_JOB with the output, or with "-ERR <command> Command
// not found!" for a command the node does not know. A slow-reply fault
// delays the result.
func (n *Node) executeBackground(line string, done func(string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delay := n.faults.apiDelay
	cmd, arg, _ := strings.Cut(line, " ")
	n.executeLocked(cmd, arg, func(out string, known bool) {
		if !known {
			out = "-ERR " + cmd + " Command not found!\n"
		}
		if delay > 0 {
			n.after(delay, func() { done(out) })
			return
		}
		done(out)
	})
}

// executeLocked runs an api command as switch_api_execute does: command and
// argument are stripped of surrounding white space and the command's name
// is matched in any case. The API event is numbered when the command starts
// and fired when it ends. done reports whether the node knew the command.
func (n *Node) executeLocked(cmd, arg string, done func(out string, known bool)) {
	cmd, arg = strings.Trim(cmd, apiSpace), strings.Trim(arg, apiSpace)
	if n.closed {
		done("", false)
		return
	}
	apiEv := n.newEventIfWanted("API", "switch_loadable_module.c", "switch_api_execute", "2954", 2)
	if cmd != "" {
		apiEv.add("API-Command", cmd)
	}
	if arg != "" {
		apiEv.add("API-Command-Argument", arg)
	}
	known := n.dispatch(cmd, arg, func(out string) {
		n.fire(apiEv)
		done(out, true)
	})
	if !known {
		n.fire(apiEv)
		done("", false)
	}
}

// apiSpace is what switch_strip_whitespace strips.
const apiSpace = "\r\n\t\v "

// dispatch runs one api command with n.mu held; false means the node does
// not know the command, and done is not called.
func (n *Node) dispatch(cmd, arg string, done func(string)) bool {
	switch strings.ToLower(cmd) {
	case "originate":
		n.originate(arg, done)
	case "status":
		done(n.status())
	case "version":
		done("FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n")
	case "uuid_exists":
		done(strconv.FormatBool(n.live(arg) != nil))
	case "uuid_kill":
		done(n.uuidKill(arg))
	case "uuid_bridge":
		done(n.uuidBridge(arg))
	case "uuid_broadcast":
		done(n.uuidBroadcast(arg))
	case "uuid_break":
		done(n.uuidBreak(arg))
	case "uuid_getvar":
		done(n.uuidGetvar(arg))
	case "uuid_setvar":
		done(n.uuidSetvar(arg))
	case "uuid_dump":
		done(n.uuidDump(arg))
	case "show":
		done(n.show(arg))
	case "hupall":
		done(n.hupall(arg))
	case "chat":
		done(n.chat(arg))
	case "module_exists":
		done(strconv.FormatBool(n.moduleExists(strings.TrimSpace(arg))))
	case "avmd":
		if !n.opts.AVMD {
			return false
		}
		done(n.avmd(arg))
	default:
		return false
	}
	return true
}

// moduleExists answers module_exists: the modules every simulated node
// has, and mod_avmd where Options.AVMD loads it.
func (n *Node) moduleExists(name string) bool {
	switch name {
	case "mod_commands", "mod_dptools", "mod_event_socket", "mod_loopback", "mod_sndfile", "mod_tone_stream", "mod_sms":
		return true
	case "mod_avmd":
		return n.opts.AVMD
	}
	return false
}

// avmd answers "avmd <uuid> start|stop": a start on a leg whose far end
// is a beeping voicemail (Behavior.Beep) fires CUSTOM avmd::beep for the
// leg that long after; a stop before then silences it.
func (n *Node) avmd(arg string) string {
	uuid, verb, _ := strings.Cut(strings.TrimSpace(arg), " ")
	ch := n.live(uuid)
	if ch == nil {
		return "-ERR Error, no FreeSWITCH session for uuid [" + uuid + "]\n"
	}
	switch strings.TrimSpace(verb) {
	case "start":
		ch.avmdGen++
		gen := ch.avmdGen
		if b := ch.behavior.Beep; b > 0 {
			n.chanAfter(ch, b, func() {
				if ch.avmdGen != gen || ch.gone {
					return
				}
				if e := n.chEvent(ch, "CUSTOM", true, header{"Event-Subclass", "avmd::beep"}); e != nil {
					e.subclass = "avmd::beep"
					e.headers = append(e.headers, header{"Beep-Status", "DETECTED"}, header{"Frequency", "1000.0"})
					n.fire(e)
				}
			})
		}
		return "+OK\n"
	case "stop":
		ch.avmdGen++
		return "+OK\n"
	}
	return "-ERR, Usage: avmd <uuid> < start | stop | set [inbound|outbound|default] | load [inbound|outbound] | reload | show >\n"
}

// live returns a channel that exists and is not hanging up.
func (n *Node) live(uuid string) *channel {
	ch := n.channels[strings.TrimSpace(uuid)]
	if ch == nil || ch.gone {
		return nil
	}
	return ch
}

const noSuchChannel = "-ERR No such channel!\n"

func (n *Node) status() string {
	return fmt.Sprintf("UP %s\nFreeSWITCH (Version 1.10.12-release  64bit) is ready\n"+
		"%d session(s) since startup\n%d session(s) - peak %d, last 5min %d \n"+
		"0 session(s) per Sec out of max %d, peak 0, last 5min 0 \n%d session(s) max\n"+
		"min idle cpu 0.00/95.00\nCurrent Stack Size/Max 240K/8192K\n",
		n.uptime(), n.sessions, n.liveChannels, n.peak, n.peak, n.spsReported(), n.maxSessionsReported())
}

func (n *Node) uuidKill(arg string) string {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "-USAGE: <uuid> [cause]\n"
	}
	ch := n.live(f[0])
	if ch == nil {
		return noSuchChannel
	}
	cause := "NORMAL_CLEARING"
	if len(f) > 1 && knownCause(strings.ToUpper(f[1])) {
		cause = strings.ToUpper(f[1])
	}
	n.hangup(ch, cause)
	return "+OK\n"
}

// uuidBridge answers "uuid_bridge <a> <b> [<fallback>]": b, or fallback if
// a cannot be bridged to b. A leg whose originate has not returned yet is
// taken out of it: answered, it is bridged and its originate ends as
// Options.EarlyBridge says; still ringing, the bridge fails after the
// reply, the originate ends -ERR ORIGINATOR_CANCEL and both legs are hung
// up (recorded on FreeSWITCH 1.10.12: testdata/freeswitch/flows.json).
func (n *Node) uuidBridge(arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> <other_uuid>\n"
	}
	a := n.live(f[0])
	who := f[1]
	b := n.live(who)
	if (a == nil || b == nil || a == b) && len(f) > 2 {
		who = f[2]
		b = n.live(who)
	}
	if a == nil || b == nil || a == b {
		return "-ERR Invalid uuid\n"
	}
	if ringing := ringingOriginate(a, b); ringing != nil {
		other := a
		if other == ringing {
			other = b
		}
		// The reply comes first; the bridge then finds a leg with no media.
		n.after(0, func() { n.bridgeRinging(ringing, other) })
		return "+OK " + b.uuid + "\n"
	}
	for _, ch := range []*channel{a, b} {
		if ch.orig != nil && n.opts.EarlyBridge == ReturnThenBridge {
			n.originated(ch)
		}
	}
	if a.partner != nil {
		n.splitBridge(a)
	}
	if b.partner != nil {
		n.splitBridge(b)
	}
	switch n.opts.EarlyBridge {
	case BridgeThenCancel:
		n.bridge(a, b)
		n.endOriginate(a, "-ERR ORIGINATOR_CANCEL\n")
		n.endOriginate(b, "-ERR ORIGINATOR_CANCEL\n")
	default:
		n.endOriginate(a, "-ERR ORIGINATOR_CANCEL\n")
		n.endOriginate(b, "-ERR ORIGINATOR_CANCEL\n")
		n.bridge(a, b)
	}
	return "+OK " + b.uuid + "\n"
}

// ringingOriginate returns the one of a and b that is still being
// originated and has not answered, if any.
func ringingOriginate(a, b *channel) *channel {
	for _, ch := range []*channel{a, b} {
		if ch.orig != nil && ch.answerState != "answered" {
			return ch
		}
	}
	return nil
}

// bridgeRinging is a uuid_bridge that took a ringing leg out of its
// originate: the originate fails ORIGINATOR_CANCEL, the other leg leaves
// its park, and the ringing leg is hung up DESTINATION_OUT_OF_ORDER, taking
// the other down with ORIGINATOR_CANCEL.
func (n *Node) bridgeRinging(ringing, other *channel) {
	if ringing.gone || other.gone {
		return
	}
	n.endOriginate(ringing, "-ERR ORIGINATOR_CANCEL\n")
	n.unpark(other)
	n.hangupThen(ringing, "DESTINATION_OUT_OF_ORDER", func() { n.hangup(other, "ORIGINATOR_CANCEL") })
}

// splitBridge ends a bridge without a hangup (a leg is bridged elsewhere).
func (n *Node) splitBridge(ch *channel) {
	p := ch.partner
	a, b := ch, p
	if !ch.bridgeA {
		a, b = p, ch
	}
	n.unbridgeEvent(a, b)
	ch.partner, p.partner = nil, nil
	p.callUUID = p.uuid
	if !p.gone {
		n.park(p)
	}
}

func (n *Node) uuidBroadcast(arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
	}
	if n.channels[f[0]] == nil {
		return "-ERR invalid uuid\n"
	}
	if ch := n.live(f[0]); ch != nil {
		if ch.orig != nil && !ch.orig.finished {
			// FreeSWITCH queues it, then drops it when the originate
			// hands the leg to its application.
			return "+OK Message sent\n"
		}
		leg := "aleg"
		if len(f) > 2 {
			leg = strings.ToLower(f[2])
		}
		if strings.Contains(leg, "aleg") || strings.Contains(leg, "both") || ch.partner == nil {
			n.broadcast(ch, f[1])
		}
		if ch.partner != nil && (strings.Contains(leg, "bleg") || strings.Contains(leg, "both")) {
			n.broadcast(ch.partner, f[1])
		}
	}
	return "+OK Message sent\n"
}

func (n *Node) uuidBreak(arg string) string {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "-USAGE: <uuid> [all]\n"
	}
	ch := n.live(f[0])
	if ch == nil {
		return noSuchChannel
	}
	all := len(f) > 1 && strings.EqualFold(f[1], "all")
	if ch.play != nil {
		n.stopPlay(ch, all)
		n.afterPlay(ch)
	}
	return "+OK\n"
}

func (n *Node) uuidGetvar(arg string) string {
	f := strings.Fields(arg)
	if len(f) < 2 {
		return "-USAGE: <uuid> <var>\n"
	}
	ch := n.live(f[0])
	if ch == nil {
		return noSuchChannel
	}
	if v, ok := ch.getVar(f[1]); ok {
		return v
	}
	return "_undef_"
}

func (n *Node) uuidSetvar(arg string) string {
	f := strings.SplitN(arg, " ", 3)
	if len(f) < 2 || f[0] == "" || f[1] == "" {
		return "-USAGE: <uuid> <var> [value]\n"
	}
	ch := n.live(f[0])
	if ch == nil {
		return noSuchChannel
	}
	value := ""
	if len(f) == 3 {
		value = f[2]
	}
	ch.setVar(f[1], value)
	return "+OK\n"
}

func (n *Node) uuidDump(arg string) string {
	f := strings.Fields(arg)
	if len(f) == 0 {
		return "-USAGE: <uuid> [format]\n"
	}
	ch := n.live(f[0])
	if ch == nil {
		return noSuchChannel
	}
	e := n.newEvent("CHANNEL_DATA", "mod_commands.c", "uuid_dump_function", "5404")
	ch.basicData(e)
	e.headers = append(e.headers, ch.vars...)
	if len(f) > 1 && strings.EqualFold(f[1], "json") {
		return string(e.serializeJSON())
	}
	return string(e.serializePlain())
}

func (n *Node) hupall(arg string) string {
	f := strings.Fields(arg)
	cause := "NORMAL_CLEARING"
	if len(f) > 0 && knownCause(strings.ToUpper(f[0])) {
		cause = strings.ToUpper(f[0])
	}
	var name, value string
	if len(f) > 2 {
		name, value = f[1], f[2]
	}
	for _, ch := range n.sortedChannels() {
		if ch.gone {
			continue
		}
		if name != "" {
			if v, ok := ch.getVar(name); !ok || v != value {
				continue
			}
		}
		n.hangup(ch, cause)
	}
	if name != "" {
		return "+OK hangup all channels matching [" + name + "]=[" + value + "] with cause: " + cause + "\n"
	}
	return "+OK hangup all channels with cause " + cause + "\n"
}

func (n *Node) chat(arg string) string {
	f := strings.SplitN(arg, "|", 5)
	if len(f) < 4 {
		return "Invalid"
	}
	proto, from, to, body := f[0], f[1], f[2], f[3]
	result := "Error! Message Not Sent"
	switch strings.ToLower(proto) {
	case "sip", "event", "verto":
		result = "Sent"
		user, _, _ := strings.Cut(strings.TrimPrefix(to, "sip:"), "@")
		if seq := n.subs[user]; len(seq) > 0 {
			if r := seq[len(seq)-1].ChatResult; r != "" {
				result = r
			}
		}
	}
	e := n.newEvent("MESSAGE", "switch_loadable_module.c", "switch_core_chat_send_args", "1039")
	e.add("proto", "global")
	e.add("from", from)
	e.add("to", to)
	if len(f) == 5 && f[4] != "" {
		e.add("type", f[4])
	}
	e.add("skip_global_process", "true")
	e.add("blocking", "true")
	e.add("dest_proto", proto)
	e.body, e.hasBody = body, true
	if strings.EqualFold(proto, "event") {
		// The event endpoint fires a copy of the message as RECV_MESSAGE
		// (its Event-Name header still says MESSAGE, so only connections
		// subscribed to ALL or RECV_MESSAGE get it), then the core reports
		// delivery with the message itself.
		report := &event{name: e.name, headers: append([]header(nil), e.headers...), body: body, hasBody: true}
		e.name = "RECV_MESSAGE"
		n.fire(e)
		e = report
	}
	e.add("Delivery-Failure", strconv.FormatBool(result != "Sent"))
	n.fire(e)
	n.rec.chats = keep(n.rec.chats, n.rec.limit, ChatMessage{Proto: proto, From: from, To: to, Body: body, Result: result, At: time.Now()})
	return result
}
