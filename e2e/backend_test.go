package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/e2e"
	"bgcall/fssim"
	"bgcall/internal/callrec"
	"bgcall/internal/fsreal"
	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
)

var redisAddr string

func TestMain(m *testing.M) {
	rs, err := redistest.StartServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	redisAddr = rs.Addr
	code := m.Run()
	for _, s := range []*shared{&simShared, &realShared} {
		if s.b != nil {
			s.b.close()
		}
	}
	rs.Stop()
	os.Exit(code)
}

// The prompts bgcall plays, as paths FreeSWITCH resolves in its sounds
// directory (fsreal writes them there), with how long each lasts.
var (
	promptHold        = "e2e/hold.wav"
	promptUnavailable = "e2e/unavailable.wav"
	promptCancelled   = "e2e/cancelled.wav"
	promptConfirm     = "e2e/confirm.wav"
	phonePrompts      = config.PhonePrompts{
		On: "e2e/phone-on.wav", Off: "e2e/phone-off.wav", NotFound: "e2e/phone-not-found.wav",
		Limit: "e2e/phone-limit.wav", Invalid: "e2e/phone-invalid.wav", Failed: "e2e/phone-failed.wav",
		Offer: "e2e/phone-offer.wav", OptedOut: "e2e/phone-opted-out.wav", OptedIn: "e2e/phone-opted-in.wav",
		Refused: "e2e/phone-refused.wav",
	}
	prompts = map[string]time.Duration{
		promptHold: time.Second, promptUnavailable: 300 * time.Millisecond, promptCancelled: 300 * time.Millisecond,
		promptConfirm:   500 * time.Millisecond,
		phonePrompts.On: 300 * time.Millisecond, phonePrompts.Off: 300 * time.Millisecond,
		phonePrompts.NotFound: 300 * time.Millisecond, phonePrompts.Limit: 300 * time.Millisecond,
		phonePrompts.Invalid: 300 * time.Millisecond, phonePrompts.Failed: 300 * time.Millisecond,
		phonePrompts.Offer: 500 * time.Millisecond, phonePrompts.OptedOut: 300 * time.Millisecond,
		phonePrompts.OptedIn: 300 * time.Millisecond, phonePrompts.Refused: 300 * time.Millisecond,
	}
)

// Timings of the test policy. FreeSWITCH counts ring times in whole
// seconds; retries follow quickly so that a session of several attempts
// takes a few seconds.
const (
	ringTime      = 2 * time.Second
	retryInterval = 200 * time.Millisecond
	rejectGiveUp  = 2               // CALL_REJECTED this many times expires the session
	confirmTime   = 2 * time.Second // how long B has to press 1
	maxAttempts   = 3
	offerAfter    = 3 // unanswered calls that bring the automatic offer
	bridgeTimeout = 2 // the phone hook's call_timeout, in seconds
	chatDomain    = "e2e.test"
)

// backend is one FreeSWITCH, simulated or real, with a bgcall daemon in
// front of it, a recorder of its channels' events and a log of the
// commands bgcall sent it.
type backend struct {
	name string
	sim  *fssim.Node    // the simulator, or nil
	fs   *fsreal.Server // the real FreeSWITCH, or nil
	dir  string         // the real FreeSWITCH's files
	// machineDetection: this FreeSWITCH has mod_avmd loaded (the
	// simulator's stand-in); the real one here has not.
	machineDetection bool
	rec              *callrec.Recorder
	ctl              *callrec.Conn // the test's own commands, e.g. a phone's calls
	cmds             *commandLog
	daemon           *app.Daemon
	stop             context.CancelFunc
	api              *api.Client
	log              *testutil.SyncBuffer // the daemon's log

	password, template string // how the daemon reaches FreeSWITCH, for another one
	// first is a second daemon on the same FreeSWITCH that asks whether A
	// is busy before dialling B (caller_busy.before_callee), started on
	// first use.
	first struct {
		once   sync.Once
		daemon *app.Daemon
		stop   context.CancelFunc
		api    *api.Client
		err    error
	}
}

// shared starts a backend once for every test of the binary; TestMain
// stops it.
type shared struct {
	once sync.Once
	b    *backend
	err  error
}

var simShared, realShared shared

func (s *shared) get(t *testing.T, start func() (*backend, error)) *backend {
	t.Helper()
	s.once.Do(func() { s.b, s.err = start() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.b
}

// simulator is the simulated FreeSWITCH, in real time (one FreeSWITCH
// second is a second), so that the scenarios' timings mean the same on
// both backends.
func simulator(t *testing.T) *backend {
	return simShared.get(t, func() (*backend, error) {
		n, err := fssim.Start(fssim.Options{Hostname: "fssim", Heartbeat: -1, Prompts: prompts, AVMD: true,
			// A number no far end answers to, as FreeSWITCH's dialplan.
			Default: fssim.Behavior{Action: fssim.Fail, Cause: "NO_ROUTE_DESTINATION"}})
		if err != nil {
			return nil, err
		}
		b := &backend{name: "simulator", sim: n, machineDetection: true}
		// The simulator reaches a subscriber by number from any dial
		// string, and its phone hook rings user/<number> without a
		// dialplan to go round: the plain number is the phone.
		if err := b.start(n.Addr(), n.Password(), "loopback/{number}/default"); err != nil {
			b.close()
			return nil, err
		}
		return b, nil
	})
}

// realFreeSWITCH is a real FreeSWITCH with the far ends of e2e.Dialplan
// and the phone hooks of deploy/freeswitch; it skips t (or fails it, see
// fsreal.Require) when FreeSWITCH is not installed.
func realFreeSWITCH(t *testing.T) *backend {
	fsreal.Require(t)
	return realShared.get(t, func() (*backend, error) {
		hooks, err := phoneHooks()
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "e2e-freeswitch-")
		if err != nil {
			return nil, err
		}
		fs, err := fsreal.StartServer(dir, fsreal.Options{
			Dialplan: map[string]string{"e2e_far_ends": e2e.Dialplan, "e2e_phone_hooks": hooks},
			Sounds:   prompts,
		})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		b := &backend{name: "real FreeSWITCH", fs: fs, dir: dir}
		defer func() {
			if err != nil {
				b.close()
			}
		}()
		if err = b.start(fs.Addr, fs.Password, e2e.DialTemplate); err != nil {
			return nil, err
		}
		// The hooks connect to the phone listener named by this global
		// variable: its port is known only now.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var reply string
		reply, err = fs.API(ctx, "global_setvar e2e_phone_listen="+b.daemon.PhoneAddr())
		if err == nil && !strings.HasPrefix(reply, "+OK") {
			err = fmt.Errorf("global_setvar: %s", reply)
		}
		return b, err
	})
}

// start runs the recorder, the command log and the daemon against the
// event socket at addr.
func (b *backend) start(addr, password, template string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	if b.rec, err = callrec.New(ctx, addr, password); err != nil {
		return err
	}
	if b.ctl, err = callrec.Dial(ctx, addr, password); err != nil {
		return err
	}
	if b.cmds, err = newCommandLog(addr); err != nil {
		return err
	}
	b.password, b.template = password, template
	b.log = &testutil.SyncBuffer{}
	var out io.Writer = b.log
	if os.Getenv("BGCALL_TEST_LOG") != "" {
		out = io.MultiWriter(b.log, os.Stderr)
	}
	dctx, stop := context.WithCancel(context.Background())
	d, err := app.Start(dctx, app.Options{Config: daemonConfig(b.name, b.cmds.Addr(), password, template), LogOutput: out})
	if err != nil {
		stop()
		return fmt.Errorf("start bgcall: %w", err)
	}
	b.daemon, b.stop = d, stop
	b.api = &api.Client{Base: "http://" + d.APIAddr()}
	for {
		if err := b.api.Ready(ctx); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("bgcall not ready on %s: %w", b.name, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (b *backend) close() {
	if b.first.daemon != nil {
		b.first.stop()
		b.first.daemon.Wait()
	}
	if b.daemon != nil {
		b.stop()
		b.daemon.Wait()
	}
	if b.cmds != nil {
		b.cmds.Close()
	}
	if b.rec != nil {
		b.rec.Close()
	}
	if b.ctl != nil {
		b.ctl.Close()
	}
	if b.sim != nil {
		b.sim.Close()
	}
	if b.fs != nil {
		b.fs.Stop()
		os.RemoveAll(b.dir)
	}
}

// daemonConfig is bgcall's configuration for the tests: everything an
// operator would set, with the test policy's timings.
func daemonConfig(name, node, password, template string) config.Config {
	c := config.Defaults()
	c.ReplicaID = "e2e-" + strings.ReplaceAll(name, " ", "-")
	c.Namespace = c.ReplicaID
	c.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: node, Password: password}}
	c.Redis.Addrs = []string{redisAddr}
	c.API.Listen = "127.0.0.1:0"
	c.Dial.CalleeTemplate, c.Dial.CallerTemplate, c.Dial.Domain = template, template, chatDomain
	c.Retry.RingTime, c.Retry.CallerRing = ringTime, ringTime
	c.Retry.FirstInterval, c.Retry.MaxInterval, c.Retry.Backoff, c.Retry.Jitter = retryInterval, retryInterval, 1, 0
	c.Retry.MaxAttempts, c.Retry.MaxTotal = maxAttempts, 2*time.Minute
	c.Retry.QuietStart, c.Retry.QuietEnd = -1, -1
	c.Retry.Causes = []config.CauseRule{
		{Cause: "USER_BUSY", Action: config.ActionRetry, Delay: retryInterval},
		{Cause: "CALL_REJECTED", Action: config.ActionRetry, GiveUpAfter: rejectGiveUp},
		{Cause: "UNALLOCATED_NUMBER", Action: config.ActionFail},
	}
	c.Prompts = config.Prompts{Hold: promptHold, CallerUnavailable: promptUnavailable, Cancelled: promptCancelled, Confirm: promptConfirm}
	c.Confirm.Timeout, c.Confirm.MachineDetection, c.Confirm.DeclineOptsOut = confirmTime, true, true
	c.Notify.Mode, c.Notify.ChatProto = "chat", "event"
	c.Limits.PerCaller, c.Limits.PerCallee = 20, 20
	c.Phone.Enabled, c.Phone.Listen, c.Phone.Prompts = true, "127.0.0.1:0", phonePrompts
	c.Phone.OfferThreshold = offerAfter
	c.CallerBusy.Wait, c.CallerBusy.Interval = busyWait, busyInterval
	// No URL of the operator's: the webhook test names its own endpoint
	// per request.
	c.Webhooks.AllowRequestURL, c.Webhooks.Secret = true, webhookSecret
	c.Log.Level = "debug"
	return c
}

var tags atomic.Int32

// subscriber gives the far end f a number of its own on b.
func (b *backend) subscriber(f e2e.FarEnd) string {
	n := f.Number(int(tags.Add(1)))
	if b.sim != nil {
		b.sim.SetSubscriber(n, f.Behaviors()...)
	}
	return n
}

// phoneHooks is the dialplan of deploy/freeswitch, installed as the
// operator's guide says and adapted to this FreeSWITCH: the hook matches
// the test's numbers and rings the phone through the far ends'
// "user endpoint" (e2e.DialTemplate) with a short timeout, and both
// connect to the phone listener named by the global variable
// e2e_phone_listen.
func phoneHooks() (string, error) {
	var b strings.Builder
	b.WriteString("<include>\n")
	for _, f := range []struct {
		path string
		edit [][2]string
	}{
		{"../deploy/freeswitch/dialplan/default/00_bgcall_features.xml", nil},
		{"../deploy/freeswitch/dialplan/default/01_bgcall_local_extension.xml", [][2]string{
			{`expression="^(10[01][0-9])$"`, `expression="^(\d{16})$"`},
			{`user/${dialed_extension}@${domain_name}`, strings.ReplaceAll(e2e.DialTemplate, "{number}", "${dialed_extension}")},
			{`call_timeout=30`, fmt.Sprintf("call_timeout=%d", bridgeTimeout)},
		}},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			return "", err
		}
		text := string(data)
		for _, e := range append(f.edit, [2]string{"127.0.0.1:8084", "${e2e_phone_listen}"}) {
			if !strings.Contains(text, e[0]) {
				return "", fmt.Errorf("%s no longer has %q: adapt the test's installation of it", f.path, e[0])
			}
			text = strings.ReplaceAll(text, e[0], e[1])
		}
		// The extensions, without the file's own <include>.
		_, text, _ = strings.Cut(text, "<include>")
		text, _, _ = strings.Cut(text, "</include>")
		b.WriteString(text)
	}
	b.WriteString("</include>\n")
	return b.String(), nil
}

// commandLog is a proxy in front of an event socket that records every
// command its clients send, whatever the backend: what bgcall asked for,
// beside what the channels did.
type commandLog struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	cmds  []sentCommand
	conns map[net.Conn]struct{}
}

// sentCommand is one command's first line (e.g. "bgapi uuid_kill <uuid>").
type sentCommand struct {
	At   time.Time
	Line string
}

func newCommandLog(target string) (*commandLog, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &commandLog{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

func (l *commandLog) Addr() string { return l.ln.Addr().String() }

func (l *commandLog) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		if !l.track(c, s) {
			return
		}
		l.wg.Add(2)
		go func() {
			defer l.wg.Done()
			io.Copy(c, s)
			c.Close()
		}()
		go func() {
			defer l.wg.Done()
			l.copyCommands(s, c)
			s.Close()
		}()
	}
}

// track registers a client and its server connection; false when the log
// is closed.
func (l *commandLog) track(conns ...net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		l.conns[c] = struct{}{}
	}
	return true
}

// copyCommands forwards the client's bytes line by line and records the
// first line of each command (commands end with an empty line).
func (l *commandLog) copyCommands(dst io.Writer, src io.Reader) {
	r := bufio.NewReader(src)
	first := true
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := dst.Write(line); werr != nil {
				return
			}
			text := strings.TrimRight(string(line), "\r\n")
			switch {
			case text == "":
				first = true
			case first:
				first = false
				l.mu.Lock()
				l.cmds = append(l.cmds, sentCommand{At: time.Now(), Line: text})
				l.mu.Unlock()
			}
		}
		if err != nil {
			return
		}
	}
}

// Sent returns the recorded commands that contain every one of words.
func (l *commandLog) Sent(words ...string) []sentCommand {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sentCommand
	for _, c := range l.cmds {
		if containsAll(c.Line, words) {
			out = append(out, c)
		}
	}
	return out
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func (l *commandLog) Close() {
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.conns = nil
	l.mu.Unlock()
	l.wg.Wait()
}

// lines returns the lines of log that contain every one of words.
func lines(log *testutil.SyncBuffer, words ...string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(log.String(), "\n") {
		if containsAll(line, words) {
			b.WriteString(line)
		}
	}
	return b.String()
}
