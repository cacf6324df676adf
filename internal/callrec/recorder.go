// Package callrec records what the channels of a FreeSWITCH did, as seen on
// its event socket, so that a test judges a call by its channels' events
// (created, answered, bridged, played to, hung up) rather than by what the
// code under test believes or a command replied.
//
// It speaks the plain event-socket protocol with a client of its own (Conn)
// and parses events with esl.ParseEvent, so the same Recorder and the same
// assertions judge the simulator (fssim) and a real FreeSWITCH (fsreal).
//
// Waits synchronise on the events themselves (WaitFor and the helpers built
// on it), never on sleeps. A Recorder does not reconnect: once its socket
// ends (FreeSWITCH stopped or restarted), waits fail, and a test that goes
// on after a restart starts a new Recorder.
package callrec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
)

// Events are the events a Recorder subscribes to.
var Events = []string{
	freeswitch.EventChannelCreate, freeswitch.EventChannelProgress, freeswitch.EventChannelProgressMedia,
	freeswitch.EventChannelAnswer, freeswitch.EventChannelBridge, freeswitch.EventChannelUnbridge,
	freeswitch.EventChannelPark, freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete,
	freeswitch.EventChannelDestroy, freeswitch.EventPlaybackStart, freeswitch.EventPlaybackStop,
	freeswitch.EventBackgroundJob, freeswitch.EventDTMF, "MESSAGE", freeswitch.EventCustom,
}

// Channel is what one channel (one Unique-ID) did, up to the moment the
// Channel was taken from the Recorder.
type Channel struct {
	UUID      string
	Name      string // Channel-Name, e.g. loopback/answer-0-a
	Direction string // Call-Direction: "outbound" for an originated leg
	// CallerNumber and DestinationNumber are the caller ID and the number
	// dialled, from the channel's caller profile
	// (Caller-Caller-ID-Number, Caller-Destination-Number).
	CallerNumber, DestinationNumber string
	Events                          []esl.Event // in the order the socket delivered them
	// Times from the events' Event-Date-Timestamp; zero when it did not
	// happen (yet).
	Created, Answered, HungUp time.Time
	HangupCause               freeswitch.Cause
	Playbacks                 []string // Playback-File-Path of each PLAYBACK_START
	BridgedTo                 []string // the other leg of each CHANNEL_BRIDGE
	Destroyed                 bool
}

// Var returns the channel variable name as the latest event that carries
// it says ("" if none does).
func (c Channel) Var(name string) string {
	for i := len(c.Events) - 1; i >= 0; i-- {
		if v := c.Events[i].Var(name); v != "" {
			return v
		}
	}
	return ""
}

// Has reports whether the channel fired the event name.
func (c Channel) Has(name string) bool {
	return slices.ContainsFunc(c.Events, func(e esl.Event) bool { return e.Name == name })
}

// Names lists the channel's event names in order, e.g. for a failure message.
func (c Channel) Names() []string {
	out := make([]string, len(c.Events))
	for i, e := range c.Events {
		out[i] = e.Name
	}
	return out
}

// Up reports whether the channel existed at t: created at or before t and
// not hung up by then.
func (c Channel) Up(t time.Time) bool {
	return !c.Created.IsZero() && !c.Created.After(t) && (c.HungUp.IsZero() || c.HungUp.After(t))
}

// Recorder records the events of one event socket.
type Recorder struct {
	conn *Conn

	mu      sync.Mutex
	events  []esl.Event
	chans   map[string]*Channel
	order   []string            // channel uuids in the order first seen
	session map[string][]string // bgcall_session tag -> channel uuids, in the order first seen
	changed chan struct{}       // closed and replaced at each event
}

// New connects to the event socket at addr, subscribes to Events and
// records until Close.
func New(ctx context.Context, addr, password string) (*Recorder, error) {
	c, err := Dial(ctx, addr, password)
	if err != nil {
		return nil, err
	}
	r := &Recorder{conn: c, chans: make(map[string]*Channel), session: make(map[string][]string), changed: make(chan struct{})}
	go func() {
		<-c.Done()
		r.mu.Lock()
		r.signal()
		r.mu.Unlock()
	}()
	if err := c.Subscribe(ctx, r.record, Events...); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// Start is New for a test: it fails t if the socket does not answer, closes
// the Recorder when t ends and, if t failed, logs the timeline.
func Start(t testing.TB, addr, password string) *Recorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := New(ctx, addr, password)
	if err != nil {
		t.Fatalf("call recorder: %v", err)
	}
	t.Cleanup(func() {
		r.Close()
		if t.Failed() {
			t.Logf("events seen on %s:\n%s", addr, r.Timeline())
		}
	})
	return r
}

// Close ends the recording; what was recorded stays readable.
func (r *Recorder) Close() { r.conn.Close() }

// Err is why the recording ended, or nil while it goes on.
func (r *Recorder) Err() error { return r.conn.Err() }

// record runs on the socket's reader, for each event in wire order.
func (r *Recorder) record(ev esl.Event) {
	if ev.Time.IsZero() {
		ev.Time = ev.Received
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if ev.UniqueID != "" {
		r.channel(ev)
	}
	r.signal()
}

// signal wakes every waiter; r.mu is held.
func (r *Recorder) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// channel adds a channel's event to its history; r.mu is held.
func (r *Recorder) channel(ev esl.Event) {
	c := r.chans[ev.UniqueID]
	if c == nil {
		c = &Channel{UUID: ev.UniqueID}
		r.chans[ev.UniqueID] = c
		r.order = append(r.order, ev.UniqueID)
	}
	c.Events = append(c.Events, ev)
	first := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	if id := ev.Var(VarSession); id != "" && !slices.Contains(r.session[id], ev.UniqueID) {
		r.session[id] = append(r.session[id], ev.UniqueID)
	}
	first(&c.Name, ev.Header("Channel-Name"))
	first(&c.Direction, ev.Header(freeswitch.HeaderCallDirection))
	first(&c.CallerNumber, ev.Header("Caller-Caller-ID-Number"))
	first(&c.DestinationNumber, ev.Header("Caller-Destination-Number"))
	if c.Created.IsZero() {
		// A channel first seen by a later event (the recorder started
		// after it) counts from that event.
		c.Created = ev.Time
	}
	switch ev.Name {
	case freeswitch.EventChannelAnswer:
		if c.Answered.IsZero() {
			c.Answered = ev.Time
		}
	case freeswitch.EventChannelBridge:
		if other := ev.OtherLegUniqueID; other != "" {
			c.BridgedTo = append(c.BridgedTo, other)
		}
	case freeswitch.EventPlaybackStart:
		c.Playbacks = append(c.Playbacks, ev.Header(freeswitch.HeaderPlaybackFilePath))
	case freeswitch.EventChannelHangup:
		if c.HungUp.IsZero() {
			c.HungUp, c.HangupCause = ev.Time, ev.HangupCause
		}
	case freeswitch.EventChannelDestroy:
		c.Destroyed = true
	}
}

// WaitFor returns once cond holds, checking it at each event. cond may call
// the Recorder's queries. It fails when ctx ends or the recording does
// while cond does not hold.
func (r *Recorder) WaitFor(ctx context.Context, cond func(*Recorder) bool) error {
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if cond(r) {
			return nil
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("call recorder: the event socket ended before the condition held: %w", err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("call recorder: condition not met: %w", ctx.Err())
		}
	}
}

// WaitEvent waits for the channel uuid to fire the event name and returns
// that event (the first, if it fired several).
func (r *Recorder) WaitEvent(ctx context.Context, uuid, name string) (esl.Event, error) {
	var found esl.Event
	err := r.WaitFor(ctx, func(r *Recorder) bool {
		c, ok := r.Channel(uuid)
		if !ok {
			return false
		}
		i := slices.IndexFunc(c.Events, func(e esl.Event) bool { return e.Name == name })
		if i >= 0 {
			found = c.Events[i]
		}
		return i >= 0
	})
	if err != nil {
		return esl.Event{}, fmt.Errorf("%s on channel %s: %w", name, uuid, err)
	}
	return found, nil
}

// WaitJob waits for the BACKGROUND_JOB with the Job-UUID id.
func (r *Recorder) WaitJob(ctx context.Context, id string) (esl.Event, error) {
	var found esl.Event
	err := r.WaitFor(ctx, func(r *Recorder) bool {
		var ok bool
		found, ok = r.Job(id)
		return ok
	})
	if err != nil {
		return esl.Event{}, fmt.Errorf("BACKGROUND_JOB %s: %w", id, err)
	}
	return found, nil
}

// WaitChannels waits until n channels match and returns them, in the order
// they were first seen.
func (r *Recorder) WaitChannels(ctx context.Context, n int, match func(Channel) bool) ([]Channel, error) {
	var found []Channel
	err := r.WaitFor(ctx, func(r *Recorder) bool {
		found = r.Channels(match)
		return len(found) >= n
	})
	if err != nil {
		return found, fmt.Errorf("%d channel(s) matching, %d seen: %w", n, len(found), err)
	}
	return found, nil
}

// WaitIdle waits until every channel seen has been hung up.
func (r *Recorder) WaitIdle(ctx context.Context) error {
	return r.WaitFor(ctx, func(r *Recorder) bool {
		return len(r.Channels(func(c Channel) bool { return c.HungUp.IsZero() })) == 0
	})
}

// Channel returns what the channel uuid did so far.
func (r *Recorder) Channel(uuid string) (Channel, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.chans[uuid]
	if !ok {
		return Channel{}, false
	}
	return *c, true
}

// Channels returns the channels that match (all for a nil match), in the
// order they were first seen.
func (r *Recorder) Channels(match func(Channel) bool) []Channel {
	r.mu.Lock()
	all := make([]Channel, 0, len(r.order))
	for _, id := range r.order {
		all = append(all, *r.chans[id])
	}
	r.mu.Unlock()
	if match == nil {
		return all
	}
	return slices.DeleteFunc(all, func(c Channel) bool { return !match(c) })
}

// VarSession is the channel variable bgcall tags its legs with (the
// session's id), as session.VarSession.
const VarSession = "bgcall_session"

// Session returns the channels tagged with the bgcall session id, in the
// order they were first seen: bgcall's legs and, on FreeSWITCH, their
// loopback far ends, which inherit the tag. It costs what the session's own
// channels cost, however many others were recorded: a wait on one session
// among many stays cheap.
func (r *Recorder) Session(id string) []Channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Channel, 0, len(r.session[id]))
	for _, uuid := range r.session[id] {
		out = append(out, *r.chans[uuid])
	}
	return out
}

// Events returns the recorded events that match (all for a nil match), in
// wire order.
func (r *Recorder) Events(match func(esl.Event) bool) []esl.Event {
	r.mu.Lock()
	all := slices.Clone(r.events)
	r.mu.Unlock()
	if match == nil {
		return all
	}
	return slices.DeleteFunc(all, func(e esl.Event) bool { return !match(e) })
}

// Job returns the BACKGROUND_JOB with the Job-UUID id, if it came.
func (r *Recorder) Job(id string) (esl.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Name == freeswitch.EventBackgroundJob && e.JobUUID == id {
			return e, true
		}
	}
	return esl.Event{}, false
}

// UpAt returns the matching channels that existed at t (see Channel.Up).
func (r *Recorder) UpAt(t time.Time, match func(Channel) bool) []Channel {
	return r.Channels(func(c Channel) bool { return c.Up(t) && (match == nil || match(c)) })
}

// MaxUp is the largest number of matching channels that existed at the
// same time, e.g. to prove that two legs to one callee never overlapped.
func (r *Recorder) MaxUp(match func(Channel) bool) int {
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, c := range r.Channels(match) {
		edges = append(edges, edge{c.Created, +1})
		if !c.HungUp.IsZero() {
			edges = append(edges, edge{c.HungUp, -1})
		}
	}
	// At equal times a hangup goes first: a leg that ends as the next
	// begins does not overlap it.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	most, n := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// Bridged reports whether a CHANNEL_BRIDGE joined channels a and b (on
// either leg).
func (r *Recorder) Bridged(a, b string) bool {
	for _, e := range r.Events(nil) {
		if e.Name == freeswitch.EventChannelBridge &&
			(e.UniqueID == a && e.OtherLegUniqueID == b || e.UniqueID == b && e.OtherLegUniqueID == a) {
			return true
		}
	}
	return false
}

// HangupOrder returns the given channels in the order their CHANNEL_HANGUP
// came, leaving out those not hung up. Of two bridged legs, the first is
// the one whose side ended the call.
func (r *Recorder) HangupOrder(uuids ...string) []string {
	var out []string
	for _, e := range r.Events(nil) {
		if e.Name == freeswitch.EventChannelHangup && slices.Contains(uuids, e.UniqueID) && !slices.Contains(out, e.UniqueID) {
			out = append(out, e.UniqueID)
		}
	}
	return out
}

// Timeline is every recorded event, one line each, with milliseconds from
// the first: for failure messages.
func (r *Recorder) Timeline() string {
	evs := r.Events(nil)
	if len(evs) == 0 {
		return "(no events)\n"
	}
	var b strings.Builder
	start := evs[0].Time
	for _, e := range evs {
		fmt.Fprintf(&b, "%8.1fms %-24s", float64(e.Time.Sub(start).Microseconds())/1000, e.Name)
		if e.Subclass != "" {
			fmt.Fprintf(&b, " %s", e.Subclass)
		}
		if e.UniqueID != "" {
			fmt.Fprintf(&b, " %s %s", e.UniqueID, e.Header("Channel-Name"))
		}
		if e.OtherLegUniqueID != "" {
			fmt.Fprintf(&b, " other=%s", e.OtherLegUniqueID)
		}
		if e.HangupCause != "" {
			fmt.Fprintf(&b, " cause=%s", e.HangupCause)
		}
		if p := e.Header(freeswitch.HeaderPlaybackFilePath); p != "" {
			fmt.Fprintf(&b, " file=%s", p)
		}
		if e.JobUUID != "" {
			fmt.Fprintf(&b, " job=%s %q", e.JobUUID, strings.TrimSpace(e.Body))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
