package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/fsreal"
	"bgcall/session"
	"bgcall/store"
)

// The real-FreeSWITCH runs offer full sessions, as the throughput runs do,
// to one real FreeSWITCH node started for the benchmark with the project's
// own configuration (internal/fsreal), both legs placed with the loopback
// endpoint. FreeSWITCH counts ring and park timeouts in whole wall-clock
// seconds, so these runs go at real time with a mix of their own.

// The real mix: each far end does the same on every attempt.
const (
	realAnswerRing = time.Second // B, and A when A answers, ring this long
	// An attempt on B or A rings this long at most: originate_timeout=3,
	// which ends the ringing at the third second boundary of the wall
	// clock, 2 to 3 s after the originate; with 2 it could end before the
	// answer after 1 s came.
	realRingTime        = 3 * time.Second
	realRetry           = time.Second // the next attempt on B, after no answer or busy
	realAttempts        = 3           // attempts on B at most
	realCallerMissShare = 20          // of the sessions whose B answers, A misses
	realTalkMin         = time.Second // A talks 1 to 2 s, then hangs up
	realHold            = time.Second // the hold prompt's length; B hears it until A answers
	realClosingPrompt   = 500 * time.Millisecond
)

// realWarmUp is the longest session of the real mix (three rings of at
// most 3 s, 1 s apart, 11.2 s with the jitter) and some: the runs count
// the sessions that finished after it (see sustained).
const realWarmUp = 12 * time.Second

// The bench instance's limits, raised from the project configuration's
// max-sessions 1000 and sessions-per-second 500: at 100 sessions a second
// the mix keeps about a thousand channels up and creates about 500 a
// second, and the runs measure bgcall and FreeSWITCH, not a configured cap.
const (
	realMaxSessions       = 5000
	realSessionsPerSecond = 2000
)

type realClass struct {
	name    string
	share   int // of 100
	number  func(id string) string
	answers bool
}

var realCalleeMix = []realClass{
	{"answers after 1s", 65, func(id string) string { return fsreal.AnswerAfter(realAnswerRing, id) }, true},
	{"never answers", 20, fsreal.NoAnswer, false},
	{"busy", 15, fsreal.Busy, false},
}

func realClassOf(i int) realClass {
	b := bucket(i)
	for _, c := range realCalleeMix {
		if b < c.share {
			return c
		}
		b -= c.share
	}
	return realCalleeMix[len(realCalleeMix)-1]
}

func realCallerMisses(i int) bool { return bucket(i*31+7) < realCallerMissShare }

// realTalk spreads A's talk time over 1 to 2 s.
func realTalk(i int) time.Duration {
	return realTalkMin + time.Duration(bucket(i*17+3))*realTalkMin/100
}

// realNumbers are session i's numbers in real run run: the far ends the
// test dialplan plays, each ending with the run and i.
func realNumbers(run, i int) (caller, callee string) {
	id := fmt.Sprintf("%02d%07d", run%100, i)
	callee = realClassOf(i).number("1" + id)
	if realCallerMisses(i) {
		return fsreal.NoAnswer("2" + id), callee
	}
	return fsreal.AnswerThenHangup(realAnswerRing, realTalk(i), "2"+id), callee
}

// realIndex is the i a real number ends with.
func realIndex(number string) (int, error) {
	if len(number) < 7 {
		return 0, fmt.Errorf("number %q is not one of the real mix's", number)
	}
	return strconv.Atoi(number[len(number)-7:])
}

// dictated is the outcome and the attempts on B that session i's far ends
// call for.
func dictated(i int) (store.Outcome, int) {
	switch {
	case !realClassOf(i).answers:
		return store.Expired, realAttempts
	case realCallerMisses(i):
		return store.CallerMissed, 1
	}
	return store.Completed, 1
}

// realPolicy is the retry policy of the real runs, at real time.
func realPolicy() session.Policy {
	p := session.DefaultPolicy()
	p.RingTime, p.CallerRingTime = realRingTime, realRingTime
	p.FirstInterval, p.MaxInterval = realRetry, realRetry
	p.Backoff, p.Jitter = 1, 0.1
	p.MaxAttempts, p.MaxTotal = realAttempts, time.Hour
	p.Quiet = session.QuietHours{}
	p.Causes[freeswitch.UserBusy] = session.CauseRule{Verdict: session.Retry, Interval: realRetry}
	return p
}

func realMixDescription() string {
	var parts []string
	for _, c := range realCalleeMix {
		parts = append(parts, fmt.Sprintf("%d%% %s", c.share, c.name))
	}
	return fmt.Sprintf("B: %s; rings give up after %v-%v (originate_timeout=%d counts whole seconds of the clock), next attempt %v later, at most %d attempts; A misses %d%% of the calls B answered, else answers after %v and talks %v-%v; hold prompt %v, closing prompts %v",
		strings.Join(parts, ", "), realRingTime-time.Second, realRingTime, int(realRingTime/time.Second), realRetry, realAttempts, realCallerMissShare, realAnswerRing, realTalkMin, 2*realTalkMin, realHold, realClosingPrompt)
}

// realSounds are the prompts the engine plays, as silent files of the mix's
// lengths: this FreeSWITCH has no stock sounds.
func realSounds() map[string]time.Duration {
	p := session.DefaultPrompts()
	return map[string]time.Duration{p.Hold: realHold, p.CallerUnavailable: realClosingPrompt, p.Cancelled: realClosingPrompt}
}

// realFreeSWITCH starts one real FreeSWITCH and offers it the real mix at
// each of o.RealRates, stopping after the first rate it does not sustain.
// Without FreeSWITCH it returns why, in Skipped.
func (b *bench) realFreeSWITCH(ctx context.Context) (*RealFreeSWITCH, error) {
	o := b.o
	r := &RealFreeSWITCH{Binary: o.FreeSWITCH, Mix: realMixDescription(), LoadSeconds: o.RealDuration.Seconds()}
	if o.NoFreeSWITCH {
		r.Skipped = "not run (asked not to)"
		return r, nil
	}
	dir, err := os.MkdirTemp("", "bgcall-bench-freeswitch-")
	if err != nil {
		return r, fmt.Errorf("bench: real FreeSWITCH: %w", err)
	}
	fs, err := fsreal.StartServer(dir, fsreal.Options{Bin: o.FreeSWITCH, Sounds: realSounds()})
	if errors.Is(err, fsreal.ErrNotInstalled) {
		os.RemoveAll(dir)
		r.Skipped = fmt.Sprintf("not installed (%s not found); install FreeSWITCH 1.10 there or name its binary with --freeswitch-bin", o.FreeSWITCH)
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("bench: %w (its files are in %s)", err, dir)
	}
	ok := false
	defer func() {
		fs.Stop()
		if ok {
			os.RemoveAll(dir)
		} else {
			o.Logger.Warn("real FreeSWITCH's files kept", "dir", dir, "log", fs.Log())
		}
	}()
	if err := raiseLimits(ctx, fs, r); err != nil {
		return r, err
	}
	r.LoadAtStart = loadAverage()
	for k, rate := range o.RealRates {
		o.Logger.Info("real FreeSWITCH run", "rate", rate, "duration", o.RealDuration)
		run, err := b.realRun(ctx, fs, k, rate)
		if err != nil {
			return r, err
		}
		r.Runs = append(r.Runs, run)
		if why := run.shortfall(o.RealDuration); why != "" {
			if k < len(o.RealRates)-1 {
				r.Stopped = fmt.Sprintf("runs stopped at %d/s offered, not sustained: %s", rate, why)
			} else {
				r.Stopped = fmt.Sprintf("%d/s offered not sustained: %s", rate, why)
			}
			break
		}
	}
	r.LoadAtEnd = loadAverage()
	ok = true
	return r, nil
}

// raiseLimits sets the bench instance's session limits and notes them, with
// FreeSWITCH's version, in r.
func raiseLimits(ctx context.Context, fs *fsreal.Server, r *RealFreeSWITCH) error {
	for _, cmd := range []string{
		fmt.Sprintf("fsctl max_sessions %d", realMaxSessions),
		fmt.Sprintf("fsctl sps %d", realSessionsPerSecond),
	} {
		reply, err := fs.API(ctx, cmd)
		if err == nil && !strings.HasPrefix(reply, "+OK") {
			err = errors.New(strings.TrimSpace(reply))
		}
		if err != nil {
			return fmt.Errorf("bench: real FreeSWITCH: %s: %w", cmd, err)
		}
	}
	r.MaxSessions, r.SessionsPerSecond = realMaxSessions, realSessionsPerSecond
	v, err := fs.API(ctx, "version")
	if err != nil {
		return fmt.Errorf("bench: real FreeSWITCH: version: %w", err)
	}
	r.Version = strings.TrimSpace(v)
	return nil
}

// realRun offers the real mix at rate for o.RealDuration to fresh replicas
// connected to fs alone, and measures as the throughput runs do, with
// FreeSWITCH's own CPU time and channels beside.
func (b *bench) realRun(ctx context.Context, fs *fsreal.Server, run, rate int) (RealRun, error) {
	node := esl.Node{Name: "fs1", Addr: fs.Addr, Password: fs.Password}
	before, err := channelCounts(ctx, fs)
	if err != nil {
		return RealRun{}, err
	}
	cpu0 := processCPU(fs.PID())
	smp := startSampling(ctx, fs, time.Second)
	var left []string
	ns := fmt.Sprintf("fs%d", run)
	tr, sessions, err := b.offer(ctx, load{
		ns: ns, profile: fmt.Sprintf("freeswitch-%d", run), run: run, rate: rate,
		duration: b.o.RealDuration, warmUp: realWarmUp, drain: time.Minute,
		configure: func(c *replicaConfig) { c.Nodes, c.FreeSWITCH = []esl.Node{node}, true },
		// While the replicas still run: a closing prompt outlives its
		// session, and the replica hangs the leg up after it.
		idle: func(ctx context.Context) (err error) {
			left, err = channelsLeft(ctx, fs, 5*time.Second)
			return err
		},
	})
	peak := smp.stop()
	if err != nil {
		return RealRun{}, err
	}
	cpu := processCPU(fs.PID()) - cpu0
	if _, err := fs.API(ctx, "hupall MANAGER_REQUEST"); err != nil {
		// The next run starts from an idle node.
		return RealRun{}, fmt.Errorf("bench: real FreeSWITCH: hupall: %w", err)
	}
	after, err := channelCounts(ctx, fs)
	if err != nil {
		return RealRun{}, err
	}
	rr := RealRun{ThroughputRun: tr, Channels: after.created - before.created, LeftUp: left,
		PeakChannels: peak.up, PeakChannelsPerSec: peak.createdPerSec, RSSMiB: mib(processRSS(fs.PID()))}
	n := float64(len(sessions))
	rr.FreeSWITCHCPUSecPer1000 = per(cpu.Seconds()*1000, n)
	rr.ChannelsPerSession = per(float64(rr.Channels), n)
	st := store.New(b.rc, store.Options{Namespace: ns})
	for _, s := range sessions {
		rr.ChannelsDialled += 2 * s.Attempts // a loopback call is two channels
		if !s.AnsweredAt.IsZero() {
			rr.ChannelsDialled += 2 // A's leg
		}
		i, err := realIndex(s.Callee)
		if err != nil {
			return rr, err
		}
		outcome, attempts := dictated(i)
		if s.State == store.Finished && s.Outcome == outcome && s.Attempts == attempts {
			rr.AsDictated++
		} else if len(rr.Otherwise) < 10 {
			rr.Otherwise = append(rr.Otherwise, fmt.Sprintf("%s (%s calls %s): %s %s (%s) after %d attempts, dictated %s after %d; %s",
				s.ID, s.Caller, s.Callee, s.State, s.Outcome, s.Cause, s.Attempts, outcome, attempts, timeline(ctx, st, s)))
		}
	}
	return rr, nil
}

// shortfall says why r did not sustain the rate it was offered, or "" if
// it did: every session finished, as its far ends dictate (but for 1%),
// and, when the run is long enough to tell, finished at 90% of the rate
// offered or more.
func (r RealRun) shortfall(d time.Duration) string {
	switch {
	case r.Unfinished > 0:
		return fmt.Sprintf("%d of %d sessions unfinished a minute after the load", r.Unfinished, r.Sessions)
	case r.Sessions-r.AsDictated > r.Sessions/100:
		return fmt.Sprintf("%d of %d sessions ended otherwise than their far ends dictate", r.Sessions-r.AsDictated, r.Sessions)
	case d >= realWarmUp+7*time.Second && r.SustainedPerSec < 0.9*float64(r.OfferedPerSec):
		return fmt.Sprintf("%.1f sessions finished per second", r.SustainedPerSec)
	}
	return ""
}

// timeline tells what happened to s, in one line, from its stored timeline.
func timeline(ctx context.Context, st *store.Store, s store.Session) string {
	entries, err := st.Timeline(ctx, s.ID)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, e := range entries {
		p := fmt.Sprintf("+%.2fs %s", e.At.Sub(s.CreatedAt).Seconds(), e.Kind)
		for _, f := range []string{e.Leg, e.Cause, e.Note} {
			if f != "" {
				p += " " + f
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// channels are FreeSWITCH's own counts, from its status.
type channels struct {
	created int // since start-up
	up      int // now
}

func channelCounts(ctx context.Context, fs *fsreal.Server) (channels, error) {
	status, err := fs.API(ctx, "status")
	if err != nil {
		return channels{}, fmt.Errorf("bench: real FreeSWITCH status: %w", err)
	}
	return parseStatus(status)
}

// parseStatus reads the counts from FreeSWITCH's status reply, whose lines
// include "5 session(s) since startup" and "2 session(s) - peak 3, last
// 5min 3".
func parseStatus(status string) (channels, error) {
	var c channels
	found := 0
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "session(s)" {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		switch {
		case f[2] == "since":
			c.created, found = n, found+1
		case f[2] == "-":
			c.up, found = n, found+1
		}
	}
	if found != 2 {
		return c, fmt.Errorf("bench: real FreeSWITCH status without its session counts: %q", status)
	}
	return c, nil
}

// channelsLeft returns the channels FreeSWITCH still has up after
// waiting up to timeout for none, as "show channels" lists them. Once every
// session finished and its closing prompt ended, bgcall should have left
// none.
func channelsLeft(ctx context.Context, fs *fsreal.Server, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := channelCounts(ctx, fs)
		if err != nil || c.up == 0 {
			return nil, err
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	list, err := fs.API(ctx, "show channels")
	if err != nil {
		return nil, fmt.Errorf("bench: real FreeSWITCH: show channels: %w", err)
	}
	var left []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n")[1:] { // after the header
		if line != "" && !strings.HasSuffix(line, " total.") {
			left = append(left, line)
		}
	}
	return left, nil
}

// sampling reads FreeSWITCH's channel counts every interval until stopped.
type sampling struct {
	cancel context.CancelFunc
	done   chan struct{}
	peak   peakChannels // written by the sampling goroutine until done
}

type peakChannels struct {
	up            int
	createdPerSec float64
}

func startSampling(ctx context.Context, fs *fsreal.Server, every time.Duration) *sampling {
	ctx, cancel := context.WithCancel(ctx)
	s := &sampling{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		prev, err := channelCounts(ctx, fs)
		prevAt := time.Now()
		for err == nil {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var c channels
			if c, err = channelCounts(ctx, fs); err != nil {
				return
			}
			now := time.Now()
			s.peak.up = max(s.peak.up, c.up)
			s.peak.createdPerSec = max(s.peak.createdPerSec, round2(float64(c.created-prev.created)/now.Sub(prevAt).Seconds()))
			prev, prevAt = c, now
		}
	}()
	return s
}

// stop ends the sampling and returns the peaks it saw.
func (s *sampling) stop() peakChannels {
	s.cancel()
	<-s.done
	return s.peak
}
