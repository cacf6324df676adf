package fssim

import (
	"strconv"
	"strings"
	"time"

	"bgcall/internal/uuid"
)

// maxReply is the room parse_command has for a reply: longer ones are cut.
const maxReply = 511

// reply sends a command/reply. A text starting with "~" is a header block
// of its own (bgapi's), anything else goes in Reply-Text.
func (c *conn) reply(text string) {
	if len(text) > maxReply {
		text = text[:maxReply]
	}
	if rest, ok := strings.CutPrefix(text, "~"); ok {
		c.send([]byte("Content-Type: command/reply\n" + rest))
		return
	}
	c.send(replyFrame(text))
}

// hasPrefixFold is strncasecmp(s, prefix, len(prefix)) == 0, the only way
// parse_command recognises a command: "exitfoo" exits, "events" subscribes.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// containsFold is switch_stristr.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// argAfter is how parse_command takes the argument of sendmsg and
// divert_events: the text after the command word and its spaces, up to the
// first line end; nothing if a line end comes first.
func argAfter(cmd string, n int) string {
	rest := strings.TrimLeft(cmd[n:], " ")
	if rest == "" || rest[0] == '\r' || rest[0] == '\n' {
		return ""
	}
	return stripCR(rest)
}

// handle answers one command as mod_event_socket's parse_command does: the
// same tests in the same order, each a case-insensitive prefix of the
// command's whole text, and the same replies, "-ERR command not found" for
// anything no test took. False ends the connection.
func (c *conn) handle(req *request) bool {
	cmd, ok := req.lookup("Command")
	if !ok {
		c.n.recordCommand("")
		c.reply("-ERR command parse error.")
		return c.end()
	}
	c.n.recordCommand(stripCR(cmd))
	if containsFold(cmd, "unload") && containsFold(cmd, "mod_event_socket") {
		cmd = "api bgapi unload mod_event_socket"
	} else if containsFold(cmd, "reload") && containsFold(cmd, "mod_event_socket") {
		cmd = "api bgapi reload mod_event_socket"
	}
	if hasPrefixFold(cmd, "exit") || hasPrefixFold(cmd, "...") {
		c.reply("+OK bye")
		return c.end()
	}
	if !c.authed.Load() {
		return c.handleAuth(cmd)
	}
	if hasPrefixFold(cmd, "filter ") {
		c.reply(c.filter(cmd[len("filter "):]))
		return true
	}
	if c.outbound && hasPrefixFold(cmd, "resume") {
		c.n.mu.Lock()
		c.resume = true
		c.session.setVar("socket_resume", "true")
		c.n.mu.Unlock()
		c.reply("+OK")
		return true
	}
	if c.outbound || hasPrefixFold(cmd, "myevents ") {
		if handled := c.handleSession(cmd); handled {
			return true
		}
	}
	if hasPrefixFold(cmd, "divert_events") {
		c.reply(c.divertEvents(cmd))
		return true
	}
	if hasPrefixFold(cmd, "sendmsg") {
		c.sendmsg(cmd, req)
		return true
	}
	if c.outbound && !c.full {
		// Single-channel control: nothing below is allowed.
		c.reply("-ERR command not found")
		return true
	}
	switch {
	case hasPrefixFold(cmd, "sendevent"):
		c.reply(c.n.sendEvent(stripCR(cmd)[len("sendevent"):], req))
	case hasPrefixFold(cmd, "api "):
		c.api(stripCR(cmd[len("api "):]), isTrue(req.header("console_execute")))
	case hasPrefixFold(cmd, "bgapi "):
		job, ok := req.lookup("Job-UUID")
		c.bgapi(stripCR(cmd[len("bgapi "):]), job, ok)
	case hasPrefixFold(cmd, "log"):
		c.reply(c.log(cmd))
	case hasPrefixFold(cmd, "linger"):
		c.reply(c.setLinger(cmd))
	case hasPrefixFold(cmd, "nolinger"):
		c.reply(c.noLinger())
	case hasPrefixFold(cmd, "nolog"):
		c.reply(c.nolog())
	case hasPrefixFold(cmd, "event"):
		c.reply(c.subscribe(stripCR(cmd)[len("event"):]))
	case hasPrefixFold(cmd, "nixevent"):
		c.reply(c.nix(stripCR(cmd)[len("nixevent"):]))
	case hasPrefixFold(cmd, "noevents"):
		c.reply(c.noevents())
	default:
		c.reply("-ERR command not found")
	}
	return true
}

// end closes the connection after what was sent: FreeSWITCH sends the
// disconnect notice when its connection thread ends.
func (c *conn) end() bool {
	if !c.outbound {
		c.shutdown(true)
	}
	return false
}

// handleAuth answers a command before authentication: only auth (and
// userauth, which needs directory users the simulator has none of) is
// known; a wrong password ends the connection.
func (c *conn) handleAuth(cmd string) bool {
	switch {
	case hasPrefixFold(cmd, "auth "):
		if stripCR(cmd)[len("auth "):] != c.n.opts.Password {
			c.reply("-ERR invalid")
			return c.end()
		}
		c.authed.Store(true)
		c.reply("+OK accepted")
	case hasPrefixFold(cmd, "userauth "):
		c.reply("-ERR invalid")
		return c.end()
	default:
		c.reply("-ERR command not found")
	}
	return true
}

// handleSession answers connect, getvar and myevents, which parse_command
// only looks for on a connection controlling a channel (outbound) or, for
// myevents, when a channel is named ("myevents <uuid>"). It reports false
// for any other command, which goes on to the later tests.
func (c *conn) handleSession(cmd string) bool {
	n := c.n
	switch {
	case hasPrefixFold(cmd, "connect"):
		n.mu.Lock()
		f := n.connectReply(c)
		n.mu.Unlock()
		c.send(f)
	case hasPrefixFold(cmd, "getvar"):
		_, name, _ := strings.Cut(stripCR(cmd), " ")
		n.mu.Lock()
		v, _ := c.session.getVar(name)
		n.mu.Unlock()
		if v == "" {
			v = "-ERR command not found" // an empty reply is no reply
		}
		c.reply(v)
	case hasPrefixFold(cmd, "myevents"):
		c.reply(c.myevents(cmd))
	default:
		return false
	}
	return true
}

// myEventNames are the events myevents subscribes to, as mod_event_socket
// lists them.
var myEventNames = strings.Fields(`CHANNEL_ANSWER CHANNEL_APPLICATION CHANNEL_BRIDGE CHANNEL_CREATE
	CHANNEL_DATA CHANNEL_DESTROY CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP
	CHANNEL_HANGUP_COMPLETE CHANNEL_ORIGINATE CHANNEL_UUID CHANNEL_OUTGOING CHANNEL_PARK
	CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_STATE CHANNEL_UNBRIDGE CHANNEL_UNPARK
	DETECTED_SPEECH DTMF NOTALK TALK`)

// myevents subscribes to the events of one channel: the controlled one, or
// on an inbound connection the one named. The format is taken from "xml" or
// "json" anywhere in what parse_command still holds of the command: all of
// it on an outbound connection, only "myevents <uuid>" on an inbound one,
// where a format word after the uuid is therefore never seen.
func (c *conn) myevents(cmd string) string {
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.myEvents {
		return "-ERR aready enabled."
	}
	if !c.outbound {
		uuid, _, hasFormat := strings.Cut(stripCR(cmd[len("myevents "):]), " ")
		ch := n.channels[uuid]
		if ch == nil && hasFormat {
			return "-ERR invalid uuid"
		}
		if ch != nil {
			c.mine = uuid
		}
		cmd = "myevents " + uuid
	} else {
		c.mine = c.session.uuid
	}
	for _, name := range myEventNames {
		c.names[name] = true
	}
	c.myEvents, c.listening = true, true
	if strings.Contains(cmd, "xml") || strings.Contains(cmd, "XML") {
		c.format = "xml"
	}
	if strings.Contains(cmd, "json") || strings.Contains(cmd, "JSON") {
		c.format = "json"
	}
	n.events.stale = true
	return "+OK Events Enabled"
}

func (c *conn) divertEvents(cmd string) string {
	if !c.outbound {
		return "-ERR not controlling a session."
	}
	onoff := argAfter(cmd, len("divert_events"))
	switch {
	case onoff == "":
		return "-ERR missing value."
	case strings.EqualFold(onoff, "on"):
		return "+OK events diverted"
	default:
		return "+OK events not diverted"
	}
}

// sendmsg hands a message to a channel: the one named after the command or
// in Session-ID, else the controlled one. The reply goes out before
// anything the message causes, as FreeSWITCH queues it for the channel's
// thread.
func (c *conn) sendmsg(cmd string, req *request) {
	n := c.n
	uuid := argAfter(cmd, len("sendmsg"))
	if uuid == "" {
		uuid = req.header("session-id")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var ch *channel
	switch {
	case c.outbound && (uuid == "" || uuid == c.session.uuid):
		ch = c.session
	case uuid != "":
		ch = n.channels[uuid]
	}
	if ch == nil {
		c.reply("-ERR invalid session id [" + uuid + "]")
		return
	}
	c.reply("+OK")
	if !ch.gone {
		n.queueMessage(ch, req)
	}
}

// log answers "log [level]": the level as sent, then its number.
func (c *conn) log(cmd string) string {
	levelText := strings.TrimLeft(stripCR(cmd)[len("log"):], " ")
	levelText, _, _ = strings.Cut(levelText, " ")
	level := 7
	if levelText != "" {
		level = logLevel(levelText)
	}
	if level == logInvalid {
		return "-ERR invalid log level"
	}
	c.n.mu.Lock()
	c.logging = true
	c.n.mu.Unlock()
	return "+OK log level " + levelText + " [" + strconv.Itoa(level) + "]"
}

// logInvalid is SWITCH_LOG_INVALID.
const logInvalid = 64

// logLevel is switch_log_str2level: a number (above 64 taken as 63, below
// 0 as 0, 64 itself invalid) or a level's name.
func logLevel(s string) int {
	if isNumber(s) {
		switch v := atoi(s); {
		case v > logInvalid:
			return logInvalid - 1
		case v < 0:
			return 0
		default:
			return v
		}
	}
	for i, name := range []string{"DISABLE", "CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"} {
		if strings.EqualFold(s, name) {
			return i - 1
		}
	}
	return logInvalid
}

// isNumber is switch_is_number: an optional sign, then digits and dots.
func isNumber(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func (c *conn) nolog() string {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if !c.logging {
		return "-ERR not loging"
	}
	c.logging = false
	return "+OK no longer logging"
}

// setLinger answers "linger [seconds]": without a number the connection
// lingers until the controller leaves. The seconds are read with atoi from
// the whole rest of the command, as parse_command does.
func (c *conn) setLinger(cmd string) string {
	if !c.outbound {
		return "-ERR not controlling a session"
	}
	secs := -1
	if rest := cmd[len("linger"):]; len(rest) > 1 && rest[0] == ' ' {
		secs = atoi(rest[1:])
	}
	c.n.mu.Lock()
	c.linger, c.lingerSecs = true, secs
	c.n.mu.Unlock()
	if secs < 0 {
		return "+OK will linger"
	}
	return "+OK will linger " + strconv.Itoa(secs) + " seconds"
}

func (c *conn) noLinger() string {
	if !c.outbound {
		return "-ERR not controlling a session"
	}
	c.n.mu.Lock()
	c.linger = false
	c.n.mu.Unlock()
	return "+OK will not linger"
}

// api runs a command synchronously: events created meanwhile are written
// after the reply, as FreeSWITCH's connection thread does. With
// console_execute (fs_cli's header) the line may hold several commands
// separated by ";;".
func (c *conn) api(line string, console bool) {
	c.hold(true)
	out := c.n.apiExec(line, console)
	if d := c.n.apiDelay(); d > 0 {
		time.Sleep(d)
	}
	if out == "" {
		out = "-ERR no reply\n"
	}
	c.send(apiFrame(out))
	c.hold(false)
}

// bgapi replies with the job's id at once (the Job-UUID header's, cut to
// FreeSWITCH's 256 bytes, or a new one) and fires BACKGROUND_JOB with the
// command's output when it is done.
func (c *conn) bgapi(line, jobUUID string, given bool) {
	if !given {
		jobUUID = uuid.New()
	}
	if len(jobUUID) > 256 {
		jobUUID = jobUUID[:256]
	}
	c.reply("~Reply-Text: +OK Job-UUID: " + jobUUID + "\nJob-UUID: " + jobUUID + "\n\n")
	cmd, arg, _ := strings.Cut(line, " ")
	owner := ""
	if c.outbound {
		owner = c.session.uuid
	}
	c.n.executeBackground(line, func(out string) {
		e := c.n.newEvent("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", "1572")
		e.add("Job-UUID", jobUUID)
		if owner != "" {
			e.add("Job-Owner-UUID", owner)
		}
		e.add("Job-Command", cmd)
		if arg != "" {
			e.add("Job-Command-Arg", arg)
		}
		e.body, e.hasBody = out, true
		c.n.fire(e)
	})
}
