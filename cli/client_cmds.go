package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"bgcall/api"
	"bgcall/session"
	"bgcall/store"
)

func runCall(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "call", "[flags] CALLER CALLEE", "Request a background call: bgcall dials CALLEE (B) until B answers, then calls CALLER (A) back and bridges them")
	var cf clientFlags
	cf.register(fs, env, true)
	wait := fs.Bool("wait", false, "follow the session until it finishes, printing each step")
	dry := fs.Bool("dry-run", false, "print the bgapi originate commands bgcall would send, and do nothing")
	idem := fs.String("idempotency-key", "", "a retried request with the same key returns the same session")
	ring := fs.Duration("ring-time", 0, "override: how long each attempt rings B")
	first := fs.Duration("first-interval", 0, "override: wait after the first unanswered attempt")
	maxAttempts := fs.Int("max-attempts", 0, "override: attempts before giving up (0 = until B answers)")
	maxTotal := fs.Duration("max-total", 0, "override: give up this long after the request")
	tz := fs.String("time-zone", "", "override: B's IANA time zone for quiet hours")
	callback := fs.String("callback-url", "", "also send this session's lifecycle events to this http(s) URL (where the server allows it: webhooks.allow_request_url)")
	confirm := fs.Bool("confirm", false, "override: ask B to press 1 before A is called (--confirm=false: do not ask)")
	pos, err := parse(fs, args, 2, "CALLER CALLEE")
	if err != nil {
		return err
	}
	req := api.CreateRequest{Caller: pos[0], Callee: pos[1], Source: session.SourceCLI, IdempotencyKey: *idem, CallbackURL: *callback}
	var p api.PolicyOverride
	if *ring > 0 {
		p.RingTime = ring.String()
	}
	if *first > 0 {
		p.FirstInterval = first.String()
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-attempts":
			p.MaxAttempts = maxAttempts
		case "confirm":
			p.Confirm = confirm
		}
	})
	if *maxTotal > 0 {
		p.MaxTotal = maxTotal.String()
	}
	p.TimeZone = *tz
	if p != (api.PolicyOverride{}) {
		req.Policy = &p
	}
	c, err := cf.client()
	if err != nil {
		return err
	}

	if *dry {
		rctx, cancel := context.WithTimeout(ctx, cf.timeout)
		defer cancel()
		cmds, err := c.DryRun(rctx, req)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(env.Stdout, api.DryRunResponse{Commands: cmds})
		}
		for _, cmd := range cmds {
			fmt.Fprintln(env.Stdout, cmd)
		}
		return nil
	}

	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	s, created, err := c.Create(rctx, req)
	cancel()
	if err != nil {
		return err
	}
	if !*wait {
		if cf.json {
			return printJSON(env.Stdout, s)
		}
		if created {
			fmt.Fprintf(env.Stdout, "session %s created: %s calls %s in the background\n", s.ID, s.Caller, s.Callee)
		} else {
			fmt.Fprintf(env.Stdout, "session %s already exists for %s → %s (state %s)\n", s.ID, s.Caller, s.Callee, s.State)
		}
		printHeld(env.Stdout, s)
		return nil
	}
	if !cf.json {
		verb := "created"
		if !created {
			verb = "already exists"
		}
		fmt.Fprintf(env.Stdout, "session %s %s: %s calls %s in the background\n", s.ID, verb, s.Caller, s.Callee)
		printHeld(env.Stdout, s)
	}
	final, err := follow(ctx, c, s.ID, env, cf.json)
	if err != nil {
		return err
	}
	if final.Outcome != "completed" {
		return exitError{code: ExitOutcome}
	}
	return nil
}

// follow prints a session's steps as they happen until it finishes. Each
// round subscribes first and reads the session after, so no step falls
// between the two. A step can reach it twice (in the read and again on the
// stream, or again after a reconnect); each is printed once. A lost stream
// (a daemon restarting or draining behind the same address) is reopened.
// Between steps it says what happens next: a live line on a terminal, a
// plain line per wait when piped.
func follow(ctx context.Context, c *api.Client, id string, env Env, asJSON bool) (api.Session, error) {
	var s api.Session
	seen := map[entryKey]bool{}
	live := &liveLine{w: env.Stdout, on: env.Terminal && !asJSON}
	var announced time.Time // the due time of the last plain "next attempt" line
	emit := func(sess api.Session, entries []api.Entry) {
		var fresh []api.Entry
		for _, e := range entries {
			if k := keyOf(e); !seen[k] {
				seen[k] = true
				fresh = append(fresh, e)
			}
		}
		if asJSON {
			if len(fresh) > 0 || len(entries) == 0 {
				printJSONLine(env.Stdout, api.Change{Session: sess, Entries: fresh})
			}
			return
		}
		live.clear()
		waiting := sess.State == "waiting" && sess.DueAt != nil
		for _, e := range fresh {
			line := describe(sess, e)
			if e.Kind == store.KindScheduled && waiting {
				line += " (at " + clock(*sess.DueAt) + ")"
				announced = *sess.DueAt
			}
			fmt.Fprintf(env.Stdout, "%s  %s\n", clock(e.At), line)
		}
		if !live.on && waiting && !sess.DueAt.Equal(announced) {
			announced = *sess.DueAt
			fmt.Fprintf(env.Stdout, "%s  next attempt at %s (in %s)\n", clock(time.Now()), clock(*sess.DueAt), roundWait(time.Until(*sess.DueAt)))
		}
		live.show(progress(sess, time.Now()))
	}
	defer live.clear()
	interrupted := func() error {
		return exitError{code: ExitError, msg: fmt.Sprintf("stopped following; session %s goes on (bgcall status %s)", id, id)}
	}
	backoff := 500 * time.Millisecond
	for {
		err := followOnce(ctx, c, id, &s, emit, func() { live.show(progress(s, time.Now())) })
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return s, interrupted()
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) {
			return s, err // the daemon answered: no session, wrong token, ...
		}
		live.clear()
		fmt.Fprintf(env.Stderr, "lost the daemon (%v); following again in %s\n", err, backoff)
		select {
		case <-ctx.Done():
			return s, interrupted()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

// entryKey identifies a timeline entry.
type entryKey struct {
	at                 time.Time
	kind               store.Kind
	leg, uuid          string
	attempt            int
	state, cause, note string
}

func keyOf(e api.Entry) entryKey {
	return entryKey{at: e.At.UTC(), kind: e.Kind, leg: e.Leg, uuid: e.UUID, attempt: e.Attempt, state: e.State, cause: e.Cause, note: e.Note}
}

// liveRefresh is how often the live line is redrawn.
const liveRefresh = time.Second

// followOnce follows over one watch stream until the session finishes
// (nil) or the stream fails; tick runs every liveRefresh meanwhile.
func followOnce(ctx context.Context, c *api.Client, id string, s *api.Session, emit func(api.Session, []api.Entry), tick func()) error {
	stream, err := c.Watch(ctx, api.WatchFilter{Session: id})
	if err != nil {
		return err
	}
	defer stream.Close()
	stop := context.AfterFunc(ctx, func() { stream.Close() })
	defer stop()

	got, err := c.Get(ctx, id)
	if err != nil {
		return err
	}
	*s = got
	emit(got, got.Timeline)
	if s.State == "finished" {
		return nil
	}
	changes, errc := readStream(stream)
	ticker := time.NewTicker(liveRefresh)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			tick()
		case err := <-errc:
			return err
		case ch := <-changes:
			if ch.Session.Version <= s.Version {
				continue
			}
			*s = ch.Session
			emit(*s, ch.Entries)
			if s.State == "finished" {
				return nil
			}
		}
	}
}

// readStream reads stream on a goroutine of its own until it fails; the
// goroutine ends when the stream is closed. Changes come on the first
// channel, the error that ended the stream on the second.
func readStream(stream *api.Stream) (<-chan api.Change, <-chan error) {
	changes, errc := make(chan api.Change), make(chan error, 1)
	go func() {
		for {
			ch, err := stream.Next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = errors.New("the daemon closed the stream")
				}
				errc <- err
				return
			}
			select {
			case changes <- ch:
			case <-stream.Done():
				return
			}
		}
	}()
	return changes, errc
}

func runCancel(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "cancel", "[flags] ID | --caller N | --callee N | --node NAME", "Switch a background call off: no further attempt; whatever is ringing or on hold is hung up. With --caller, --callee or --node instead of an ID, every live session they match: first counted, cancelled with --yes")
	var cf clientFlags
	cf.register(fs, env, true)
	endBridged := fs.Bool("end-bridged", false, "also hang up the call if A and B are already talking")
	var bulk api.BulkCancelRequest
	fs.StringVar(&bulk.Caller, "caller", "", "every live session of this caller (A)")
	fs.StringVar(&bulk.Callee, "callee", "", "every live session to this callee (B)")
	fs.StringVar(&bulk.Node, "node", "", "every live session on this FreeSWITCH node")
	yes := fs.Bool("yes", false, "with --caller, --callee or --node: cancel what they match (without it, only count)")
	want, names := 1, "ID"
	if hasBulkFilter(args) {
		want, names = 0, ""
	}
	pos, err := parse(fs, args, want, names)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if want == 0 {
		bulk.EndBridged, bulk.DryRun = *endBridged, !*yes
		return bulkCancel(rctx, env, cf, c, bulk)
	}
	id, err := sessionArg(pos[0])
	if err != nil {
		return err
	}
	s, err := c.Cancel(rctx, id, *endBridged)
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == "bridged" {
		return exitError{code: ExitError, msg: fmt.Sprintf("A and B are talking; bgcall cancel --end-bridged %s hangs up their call", id)}
	}
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(env.Stdout, s)
	}
	fmt.Fprintf(env.Stdout, "session %s: %s", s.ID, s.State)
	if s.Outcome != "" {
		fmt.Fprintf(env.Stdout, " (%s)", s.Outcome)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}

// hasBulkFilter reports whether args name a bulk cancel's filter.
func hasBulkFilter(args []string) bool {
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "caller" || name == "callee" || name == "node") {
			return true
		}
	}
	return false
}

// bulkCancel counts, or cancels, the live sessions r matches.
func bulkCancel(ctx context.Context, env Env, cf clientFlags, c *api.Client, r api.BulkCancelRequest) error {
	out, err := c.BulkCancel(ctx, r)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(env.Stdout, out)
	}
	if out.DryRun {
		fmt.Fprintf(env.Stdout, "%d live session(s) match", len(out.Matched))
		if len(out.Bridged) > 0 {
			fmt.Fprintf(env.Stdout, ", %d of them bridged (left alone without --end-bridged)", len(out.Bridged))
		}
		fmt.Fprintln(env.Stdout, "; nothing cancelled: add --yes to cancel them")
		for _, id := range out.Matched {
			fmt.Fprintln(env.Stdout, "  "+id)
		}
		return nil
	}
	fmt.Fprintf(env.Stdout, "cancelled %d of %d matching live session(s)\n", len(out.Cancelled), len(out.Matched))
	if len(out.Bridged) > 0 {
		fmt.Fprintf(env.Stdout, "left %d bridged call(s) alone (--end-bridged hangs them up): %s\n", len(out.Bridged), strings.Join(out.Bridged, " "))
	}
	for _, f := range out.Failed {
		fmt.Fprintf(env.Stderr, "session %s: %s\n", f.ID, f.Error)
	}
	if len(out.Failed) > 0 {
		return exitError{code: ExitError, msg: fmt.Sprintf("%d session(s) could not be cancelled", len(out.Failed))}
	}
	return nil
}

func runDialNow(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "dial-now", "[flags] ID", "Dial B now for a waiting session, whatever its backoff or quiet hours said")
	var cf clientFlags
	cf.register(fs, env, true)
	pos, err := parse(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	id, err := sessionArg(pos[0])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	s, err := c.DialNow(rctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(env.Stdout, s)
	}
	fmt.Fprintf(env.Stdout, "session %s: attempt %d is due now (bgcall watch --session %s follows it)\n", s.ID, s.Attempts+1, s.ID)
	return nil
}

func runStatus(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "status", "[flags] ID", "Show a session and its timeline")
	var cf clientFlags
	cf.register(fs, env, true)
	pos, err := parse(fs, args, 1, "ID")
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	id, err := sessionArg(pos[0])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	s, err := c.Get(rctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(env.Stdout, s)
	}
	printSession(env.Stdout, s)
	return nil
}

func runFind(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "find", "[flags] UUID", "Show the session one of whose legs has this UUID, as fs_cli or a FreeSWITCH log shows it")
	var cf clientFlags
	cf.register(fs, env, true)
	pos, err := parse(fs, args, 1, "UUID")
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	s, err := c.FindLeg(rctx, strings.TrimSpace(pos[0]))
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(env.Stdout, s)
	}
	printSession(env.Stdout, s)
	return nil
}

func runList(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "list", "[flags]", "List sessions, newest first")
	var cf clientFlags
	cf.register(fs, env, true)
	var f api.ListFilter
	fs.StringVar(&f.Caller, "caller", "", "only sessions of this caller (A)")
	fs.StringVar(&f.Callee, "callee", "", "only sessions to this callee (B)")
	fs.StringVar(&f.Node, "node", "", "only sessions whose current or last attempt is on this FreeSWITCH node")
	fs.StringVar(&f.State, "state", "", "only sessions in this state: waiting, dialing_callee, confirming, callee_hold, bridged, finished")
	fs.IntVar(&f.Limit, "limit", 50, "sessions per page (1-1000)")
	fs.StringVar(&f.Cursor, "cursor", "", "start after this cursor (printed after a full page)")
	all := fs.Bool("all", false, "fetch every page")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var sessions []api.Session
	next := ""
	for {
		rctx, cancel := context.WithTimeout(ctx, cf.timeout)
		page, err := c.List(rctx, f)
		cancel()
		if err != nil {
			return err
		}
		sessions = append(sessions, page.Sessions...)
		next = page.NextCursor
		if !*all || next == "" {
			break
		}
		f.Cursor = next
	}
	if cf.json {
		return printJSON(env.Stdout, api.ListResponse{Sessions: sessions, NextCursor: next})
	}
	printList(env.Stdout, sessions)
	if next != "" {
		fmt.Fprintf(env.Stdout, "\nmore: bgcall list --cursor %s (or --all)\n", next)
	}
	return nil
}

func runWatch(ctx context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "watch", "[flags]", "Follow session changes live until interrupted")
	var cf clientFlags
	cf.register(fs, env, true)
	var f api.WatchFilter
	fs.StringVar(&f.Session, "session", "", "only this session")
	fs.StringVar(&f.Caller, "caller", "", "only sessions of this caller (A)")
	fs.StringVar(&f.Callee, "callee", "", "only sessions to this callee (B)")
	fs.StringVar(&f.Node, "node", "", "only sessions on this FreeSWITCH node")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	if f.Session != "" {
		// A session that does not exist, or has finished, never changes:
		// say so rather than wait for nothing.
		rctx, cancel := context.WithTimeout(ctx, cf.timeout)
		s, err := c.Get(rctx, f.Session)
		cancel()
		switch {
		case api.IsNotFound(err):
			return fmt.Errorf("no session %s (finished sessions are kept for the daemon's retention; bgcall list shows the others)", f.Session)
		case err != nil:
			return err
		case s.State == "finished":
			fmt.Fprintf(env.Stderr, "session %s has already finished (%s); nothing more will happen (bgcall status %s shows its timeline)\n", s.ID, s.Outcome, s.ID)
			return nil
		}
	}
	backoff := 500 * time.Millisecond
	for connected := false; ; {
		opened, err := watchOnce(ctx, c, f, env, cf, !connected)
		connected = connected || opened
		if ctx.Err() != nil {
			return nil
		}
		// A daemon that cannot be reached at all, or that refuses the
		// request, is an error; a stream lost later is followed again.
		var apiErr *api.Error
		if !connected || errors.As(err, &apiErr) {
			return err
		}
		fmt.Fprintf(env.Stderr, "lost the daemon (%v); watching again in %s (changes meanwhile are not shown)\n", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 15*time.Second)
	}
}

// watchOnce prints changes from one watch stream until it fails; opened
// says whether the stream was opened at all.
func watchOnce(ctx context.Context, c *api.Client, f api.WatchFilter, env Env, cf clientFlags, first bool) (opened bool, err error) {
	stream, err := c.Watch(ctx, f)
	if err != nil {
		return false, err
	}
	defer stream.Close()
	stop := context.AfterFunc(ctx, func() { stream.Close() })
	defer stop()
	if !cf.json && first {
		fmt.Fprintf(env.Stderr, "watching %s (interrupt to stop)\n", cf.api)
	}
	for {
		ch, err := stream.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return true, errors.New("the daemon closed the stream")
			}
			return true, err
		}
		if cf.json {
			printJSONLine(env.Stdout, ch)
			continue
		}
		s := ch.Session
		for _, e := range ch.Entries {
			fmt.Fprintf(env.Stdout, "%s  %s  %s→%s  %s\n", clock(e.At), s.ID, s.Caller, s.Callee, describe(s, e))
		}
	}
}

func runPause(ctx context.Context, env Env, args []string) error {
	return pauseNode(ctx, env, args, true)
}
func runResume(ctx context.Context, env Env, args []string) error {
	return pauseNode(ctx, env, args, false)
}

// pauseNode pauses or resumes new calls on a FreeSWITCH node, for every
// replica.
func pauseNode(ctx context.Context, env Env, args []string, pause bool) error {
	name, summary := "resume", "Let every replica start new calls on a FreeSWITCH node again"
	if pause {
		name, summary = "pause", "Stop every replica starting new calls on a FreeSWITCH node, for maintenance; calls already on it go on"
	}
	fs := newFlagSet(env, name, "[flags] NODE", summary)
	var cf clientFlags
	cf.register(fs, env, true)
	pos, err := parse(fs, args, 1, "NODE")
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	n, err := c.PauseNode(rctx, pos[0], pause)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(env.Stdout, n)
	}
	if n.Paused {
		fmt.Fprintf(env.Stdout, "node %s paused: no new calls on it (calls already there go on); bgcall resume %s ends it\n", n.Name, n.Name)
	} else {
		fmt.Fprintf(env.Stdout, "node %s takes new calls again\n", n.Name)
	}
	return nil
}
