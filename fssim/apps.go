package fssim

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// appCall is one application a controller asked for with sendmsg
// (call-command: execute).
type appCall struct {
	app, arg, id string
}

// queueMessage carries out a sendmsg on ch: execute queues the application
// behind the running one (the channel runs them one at a time, as its
// private event queue does), hangup ends the leg. Called with Node.mu held.
func (n *Node) queueMessage(ch *channel, req *request) {
	switch strings.ToLower(req.header("call-command")) {
	case "execute":
		arg := req.header("execute-app-arg")
		if arg == "" && len(req.body) > 0 {
			arg = string(req.body)
		}
		loops, _ := strconv.Atoi(req.header("loops"))
		if loops < 1 {
			loops = 1
		}
		for i := 0; i < loops; i++ {
			ch.apps = append(ch.apps, appCall{app: req.header("execute-app-name"), arg: arg, id: req.header("Event-UUID")})
		}
		if !ch.appBusy {
			n.nextApp(ch)
		}
	case "hangup":
		cause := strings.ToUpper(strings.TrimSpace(req.header("hangup-cause")))
		if !knownCause(cause) {
			cause = "NORMAL_CLEARING"
		}
		n.hangup(ch, cause)
	}
}

// nextApp starts the next queued application, if any.
func (n *Node) nextApp(ch *channel) {
	if ch.gone || len(ch.apps) == 0 {
		ch.appBusy = false
		return
	}
	a := ch.apps[0]
	ch.apps = ch.apps[1:]
	ch.appBusy = true
	switch a.app {
	case "answer":
		id := n.executeID(ch, a.app, a.arg, a.id)
		if ch.answerState != "answered" {
			n.answerInbound(ch)
		}
		n.executeComplete(ch, a.app, a.arg, "_none_", id)
		n.nextApp(ch)
	case "playback":
		id := n.executeID(ch, a.app, a.arg, a.id)
		p := &playback{path: a.arg, app: a.app, appUUID: id, done: func() { n.nextApp(ch) }}
		ch.play = p
		n.playStart(ch, p)
	case "play_and_get_digits":
		n.playAndGetDigits(ch, a)
	case "hangup":
		cause := strings.ToUpper(strings.TrimSpace(a.arg))
		if !knownCause(cause) {
			cause = "NORMAL_CLEARING"
		}
		n.executeID(ch, a.app, a.arg, a.id)
		n.hangup(ch, cause)
	case "set":
		id := n.executeID(ch, a.app, a.arg, a.id)
		if name, value, ok := strings.Cut(a.arg, "="); ok {
			ch.setVar(name, value)
		}
		n.executeComplete(ch, a.app, a.arg, "_none_", id)
		n.nextApp(ch)
	case "sleep":
		id := n.executeID(ch, a.app, a.arg, a.id)
		ms, _ := strconv.Atoi(strings.TrimSpace(a.arg))
		n.chanAfter(ch, n.millis(ms), func() {
			n.executeComplete(ch, a.app, a.arg, "_none_", id)
			n.nextApp(ch)
		})
	default:
		// FreeSWITCH logs an invalid application and goes on.
		n.nextApp(ch)
	}
}

// millis converts FreeSWITCH milliseconds to simulator time.
func (n *Node) millis(ms int) time.Duration {
	return time.Duration(ms) * n.opts.Second / 1000
}

// digitRead is a play_and_get_digits in progress.
type digitRead struct {
	min, max, tries int
	timeout         time.Duration
	terminators     string
	file, invalid   string
	varName         string
	re              *regexp.Regexp
	call            appCall
	digits          string
	try             int
	gen             int // bumped per try, so stale timers do nothing
}

// playAndGetDigits runs play_and_get_digits <min> <max> <tries> <timeout
// ms> <terminators> <file> <invalid file> <var> <regexp> [digit timeout]:
// play the file, collect digits until max, a terminator or the timeout;
// a valid entry is stored in var, an invalid one plays the invalid file
// and tries again; after the last try var stays unset.
func (n *Node) playAndGetDigits(ch *channel, a appCall) {
	f := strings.Fields(a.arg)
	id := n.executeID(ch, a.app, a.arg, a.id)
	a.id = id
	if len(f) < 9 {
		n.executeComplete(ch, a.app, a.arg, "_none_", id)
		n.nextApp(ch)
		return
	}
	num := func(s string, def int) int {
		if v, err := strconv.Atoi(s); err == nil && v > 0 {
			return v
		}
		return def
	}
	r := &digitRead{min: num(f[0], 1), max: num(f[1], 1), tries: num(f[2], 1), timeout: n.millis(num(f[3], 5000)),
		terminators: f[4], file: f[5], invalid: f[6], varName: f[7], call: a}
	if f[4] == "none" {
		r.terminators = ""
	}
	re, err := regexp.Compile(f[8])
	if err == nil {
		r.re = re
	}
	ch.setVar(r.varName, "")
	ch.read = r
	n.readTry(ch, r)
}

func (n *Node) readTry(ch *channel, r *digitRead) {
	r.try++
	r.gen++
	r.digits = ""
	gen := r.gen
	listen := func() {
		if ch.read != r || r.gen != gen {
			return
		}
		if keys := ch.keys; keys != "" {
			ch.keys = ""
			n.chanAfter(ch, ch.keyWait, func() { n.sendDTMF(ch, keys) })
		}
		n.chanAfter(ch, r.timeout, func() {
			if ch.read == r && r.gen == gen {
				n.readEnd(ch, r)
			}
		})
	}
	if r.file == "" || r.file == "silence_stream://0" {
		listen()
		return
	}
	p := &playback{path: r.file, app: "playback", inner: true, done: listen}
	ch.play = p
	n.playStart(ch, p)
}

// readDigit takes one key pressed during a read.
func (n *Node) readDigit(ch *channel, d byte) {
	r := ch.read
	if strings.IndexByte(r.terminators, d) >= 0 {
		n.readEnd(ch, r)
		return
	}
	if ch.play != nil && ch.play.inner {
		// A key stops the prompt, as FreeSWITCH's input callback does.
		n.stopPlay(ch, false)
		gen := r.gen
		n.chanAfter(ch, r.timeout, func() {
			if ch.read == r && r.gen == gen {
				n.readEnd(ch, r)
			}
		})
	}
	r.digits += string(d)
	if len(r.digits) >= r.max {
		n.readEnd(ch, r)
	}
}

// readEnd checks what was keyed: valid input completes the application,
// anything else tries again or gives up.
func (n *Node) readEnd(ch *channel, r *digitRead) {
	r.gen++
	ok := len(r.digits) >= r.min && len(r.digits) <= r.max && (r.re == nil || r.re.MatchString(r.digits))
	if ok {
		ch.setVar(r.varName, r.digits)
	} else if r.try < r.tries {
		if r.digits != "" && r.invalid != "" && !strings.HasPrefix(r.invalid, "silence_stream") {
			p := &playback{path: r.invalid, app: "playback", inner: true, done: func() { n.readTry(ch, r) }}
			ch.play = p
			n.playStart(ch, p)
			return
		}
		n.readTry(ch, r)
		return
	}
	ch.read = nil
	n.executeComplete(ch, r.call.app, r.call.arg, "_none_", r.call.id)
	n.nextApp(ch)
}
