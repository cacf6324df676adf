package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// demoCall is one scripted background call of the demo.
type demoCall struct {
	label          string
	caller, callee string
	callerBehavior []fssim.Behavior
	calleeBehavior []fssim.Behavior
	cancelAfter    int // cancel once this many attempts have ended; 0 = never
	want           string
}

// DemoOptions tune the demo.
type DemoOptions struct {
	// Second is the length of one simulated FreeSWITCH second; every timing
	// of the demo is a multiple of it. Default 250ms.
	Second time.Duration
	// Log receives the daemon's log; nil discards it.
	Log io.Writer
	// Timeout bounds the whole demo; default 3 minutes.
	Timeout time.Duration
	// Listen is the daemon's API (and /metrics) address; default
	// 127.0.0.1:0, a free port.
	Listen string
	// Ready, when set, is told the API's base URL once the daemon is ready.
	Ready func(apiURL string)
	// Linger keeps the daemon up this long after the last call ends, for
	// a Prometheus scrape of the final figures.
	Linger time.Duration
}

// DemoResult is the outcome of each demo call, by label.
type DemoResult map[string]string

const demoMaxAttempts = 3

func demoCalls(sec time.Duration) []demoCall {
	answer := fssim.Behavior{Action: fssim.Answer, Ring: sec}
	talk := fssim.Behavior{Action: fssim.Answer, Ring: sec, Talk: 12 * sec}
	noAnswer := fssim.Behavior{Action: fssim.NoAnswer}
	return []demoCall{
		{label: "B answers at once", caller: "1001", callee: "2001",
			callerBehavior: []fssim.Behavior{answer}, calleeBehavior: []fssim.Behavior{talk}, want: "completed"},
		{label: "B answers on the 3rd attempt", caller: "1002", callee: "2002",
			callerBehavior: []fssim.Behavior{answer}, calleeBehavior: []fssim.Behavior{noAnswer, noAnswer, talk}, want: "completed"},
		{label: "B never answers", caller: "1003", callee: "2003",
			callerBehavior: []fssim.Behavior{answer}, calleeBehavior: []fssim.Behavior{noAnswer}, want: "expired"},
		{label: "B is busy", caller: "1004", callee: "2004",
			callerBehavior: []fssim.Behavior{answer}, calleeBehavior: []fssim.Behavior{{Action: fssim.Busy, Ring: sec}}, want: "expired"},
		{label: "A misses the call back", caller: "1005", callee: "2005",
			callerBehavior: []fssim.Behavior{noAnswer}, calleeBehavior: []fssim.Behavior{answer}, want: "caller_missed"},
		{label: "A cancels", caller: "1006", callee: "2006",
			callerBehavior: []fssim.Behavior{answer}, calleeBehavior: []fssim.Behavior{noAnswer}, cancelAfter: 1, want: "cancelled"},
		{label: "B's number does not exist", caller: "1007", callee: "2007",
			callerBehavior: []fssim.Behavior{answer}, calleeBehavior: []fssim.Behavior{{Action: fssim.Unallocated}}, want: "failed"},
	}
}

func runDemo(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "demo", "[flags]", "Start the FreeSWITCH simulator with scripted subscribers and bgcall on its embedded store, run background calls covering every outcome, and print them as they happen")
	second := fs.Duration("second", 250*time.Millisecond, "length of one simulated FreeSWITCH second (every demo timing is a multiple)")
	verbose := fs.Bool("log", false, "show the daemon's log on stderr")
	listen := fs.String("api-listen", "127.0.0.1:0", "the daemon's API and /metrics address")
	linger := fs.Duration("linger", 0, "keep the daemon up this long after the last call (to scrape /metrics)")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	o := DemoOptions{Second: *second, Listen: *listen, Linger: *linger}
	if *verbose {
		o.Log = env.Stderr
	}
	_, err := Demo(ctx, env.Stdout, o)
	return err
}

// Demo runs the demo, printing to w, and returns each call's outcome. It
// fails when an outcome is not the one the script leads to.
func Demo(ctx context.Context, w io.Writer, o DemoOptions) (DemoResult, error) {
	if o.Second <= 0 {
		o.Second = 250 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	sec := o.Second
	calls := demoCalls(sec)

	simOpts := fssim.Options{Second: sec, Subscribers: map[string][]fssim.Behavior{}, Hostname: "demo-fs"}
	for _, c := range calls {
		simOpts.Subscribers[c.caller] = c.callerBehavior
		simOpts.Subscribers[c.callee] = c.calleeBehavior
	}
	sim, err := fssim.Start(simOpts)
	if err != nil {
		return nil, fmt.Errorf("start the FreeSWITCH simulator: %w", err)
	}
	defer sim.Close()

	cfg := config.Defaults()
	cfg.ReplicaID = "demo"
	cfg.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: sim.Addr(), Password: sim.Password()}}
	cfg.API.Listen = o.Listen
	if cfg.API.Listen == "" {
		cfg.API.Listen = "127.0.0.1:0"
	}
	cfg.Dial.Domain = "demo.local"
	cfg.Dial.CalleeTemplate = "user/{number}@{domain}"
	cfg.Dial.CallerTemplate = "user/{number}@{domain}"
	cfg.Notify.Mode = "chat"
	// FreeSWITCH counts originate_timeout in its seconds, which the
	// simulator shortens; bgcall's own waits are scaled to match.
	cfg.Retry.RingTime = 4 * time.Second
	cfg.Retry.CallerRing = 4 * time.Second
	cfg.Retry.FirstInterval = 4 * sec
	cfg.Retry.Backoff = 1.5
	cfg.Retry.Jitter = 0
	cfg.Retry.MaxInterval = 8 * sec
	cfg.Retry.MaxAttempts = demoMaxAttempts
	cfg.Retry.MaxTotal = o.Timeout
	cfg.Retry.QuietStart, cfg.Retry.QuietEnd = -1, -1
	cfg.Retry.Causes = append(cfg.Retry.Causes[:0:0], config.CauseRule{Cause: "UNALLOCATED_NUMBER", Action: config.ActionFail},
		config.CauseRule{Cause: "USER_BUSY", Action: config.ActionRetry, Delay: 4 * sec})
	cfg.Drain = 0
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	daemonCtx, stopDaemon := context.WithCancel(ctx)
	d, err := app.Start(daemonCtx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(o.Log, nil)),
		Engine: func(eo *session.Options) {
			// park_timeout is counted in the simulator's short seconds;
			// scale it back so that the dead-man switch on a held leg
			// still allows ten real seconds.
			eo.ParkTimeout = 10 * time.Second * (time.Second / sec)
		}})
	if err != nil {
		stopDaemon()
		return nil, fmt.Errorf("start bgcall: %w", err)
	}
	defer func() { stopDaemon(); d.Wait() }()

	c := &api.Client{Base: "http://" + d.APIAddr()}
	fmt.Fprintf(w, "bgcall demo: FreeSWITCH simulator on %s (1 FreeSWITCH second = %s), bgcall API on http://%s, embedded store\n",
		sim.Addr(), sec, d.APIAddr())
	if err := waitReady(ctx, c); err != nil {
		return nil, err
	}
	if o.Ready != nil {
		o.Ready(c.Base)
	}

	cmds, err := c.DryRun(ctx, api.CreateRequest{Caller: calls[0].caller, Callee: calls[0].callee})
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	fmt.Fprintf(w, "\nWhat bgcall sends FreeSWITCH for %s → %s (bgcall call --dry-run):\n", calls[0].caller, calls[0].callee)
	for _, cmd := range cmds {
		fmt.Fprintf(w, "  %s\n", cmd)
	}
	width := 0
	for _, call := range calls {
		width = max(width, len(call.label))
	}
	fmt.Fprintf(w, "\nScripted calls (at most %d attempts each):\n", demoMaxAttempts)
	for _, call := range calls {
		fmt.Fprintf(w, "  %-*s  A=%s  B=%s  expect %s\n", width, call.label, call.caller, call.callee, call.want)
	}
	fmt.Fprintln(w)

	stream, err := c.Watch(ctx, api.WatchFilter{})
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	stopClose := context.AfterFunc(ctx, func() { stream.Close() })
	defer stopClose()

	byCallee := map[string]demoCall{}
	for _, call := range calls {
		byCallee[call.callee] = call
	}
	// The stream is open before the first request, so every step of every
	// call arrives on it; calls are told apart by their (A, B) pair.
	for _, call := range calls {
		if _, _, err := c.Create(ctx, api.CreateRequest{Caller: call.caller, Callee: call.callee, Source: "cli"}); err != nil {
			return nil, fmt.Errorf("%s: %w", call.label, err)
		}
	}

	result := DemoResult{}
	versions := map[string]int64{}
	ended := map[string]int{}
	for len(result) < len(calls) {
		ch, err := stream.Next()
		if err != nil {
			if ctx.Err() != nil {
				return result, fmt.Errorf("demo timed out with %d of %d calls finished", len(result), len(calls))
			}
			return result, err
		}
		s := ch.Session
		call, ok := byCallee[s.Callee]
		if !ok || s.Caller != call.caller || s.Version <= versions[s.ID] {
			continue
		}
		versions[s.ID] = s.Version
		for _, e := range ch.Entries {
			fmt.Fprintf(w, "[%-*s] %s  %s\n", width, call.label, clock(e.At), describe(s, e))
			if e.Kind == store.KindAttemptEnded {
				ended[s.ID]++
				if call.cancelAfter > 0 && ended[s.ID] == call.cancelAfter {
					fmt.Fprintf(w, "[%-*s] %s  A switches background calling off (bgcall cancel %s)\n", width, call.label, clock(time.Now()), s.ID)
					if _, err := c.Cancel(ctx, s.ID, false); err != nil {
						return result, fmt.Errorf("%s: cancel: %w", call.label, err)
					}
				}
			}
		}
		if s.State == "finished" {
			result[call.label] = s.Outcome
		}
	}

	// A missed call back sends A a message (claim 4); it goes out on the
	// notifier's own goroutine, shortly after the outcome.
	for _, call := range calls {
		if call.want != "caller_missed" {
			continue
		}
		if m, ok := waitChat(ctx, sim, call.caller); ok {
			fmt.Fprintf(w, "[%-*s] %s  message to A by FreeSWITCH chat (%s → %s): %s\n", width, call.label, clock(m.At), m.From, m.To, m.Body)
		} else {
			fmt.Fprintf(w, "[%-*s] no message reached A\n", width, call.label)
		}
	}

	fmt.Fprintf(w, "\nOutcomes:\n")
	var wrong []string
	for _, call := range calls {
		got := result[call.label]
		mark := "as expected"
		if got != call.want {
			mark = "EXPECTED " + call.want
			wrong = append(wrong, call.label)
		}
		fmt.Fprintf(w, "  %-*s  %-14s %s\n", width, call.label, got, mark)
	}
	if o.Linger > 0 {
		fmt.Fprintf(w, "\nThe daemon stays up for %s: metrics at %s/metrics\n", o.Linger, c.Base)
		select {
		case <-ctx.Done():
		case <-time.After(o.Linger):
		}
	}
	if len(wrong) > 0 {
		return result, fmt.Errorf("unexpected outcome for: %s", strings.Join(wrong, ", "))
	}
	fmt.Fprintf(w, "\nAll %d background calls ended as scripted. Try one yourself, in three terminals:\n", len(calls))
	fmt.Fprintf(w, "  bin/bgcall sim\n  bin/bgcall serve --retry-quiet-start '' --retry-quiet-end ''\n  bin/bgcall call --wait 1001 1002\n")
	return result, nil
}

// waitChat waits a little for a chat message to number.
func waitChat(ctx context.Context, sim *fssim.Node, number string) (fssim.ChatMessage, bool) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, m := range sim.Chats() {
			if strings.HasPrefix(m.To, number+"@") || m.To == number {
				return m, true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fssim.ChatMessage{}, false
}

// waitReady waits until the daemon reports ready (its FreeSWITCH node is
// connected).
func waitReady(ctx context.Context, c *api.Client) error {
	var last error
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = c.Ready(rctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("bgcall did not become ready"), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
