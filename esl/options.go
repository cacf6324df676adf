package esl

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"bgcall/freeswitch"
)

// Node is one FreeSWITCH event socket. Name is the node's label everywhere
// (metrics, store, logs).
type Node struct{ Name, Addr, Password string }

// Options tunes every connection of a Pool. Zero fields take the defaults
// documented on each.
type Options struct {
	DialTimeout    time.Duration // TCP connect; default 5s
	AuthTimeout    time.Duration // greeting and auth reply; default 5s
	CommandTimeout time.Duration // per command, unless the caller's deadline is later; default 5s
	PingInterval   time.Duration // periodic "api status" with CommandTimeout deadline; default 5s
	SilenceTimeout time.Duration // nothing received (HEARTBEAT, event, reply) this long → dead; default 60s (3 heartbeats)
	BackoffMin     time.Duration // first reconnect delay; default 100ms
	BackoffMax     time.Duration // reconnect delay cap; default 10s
	// Events are the event names subscribed (plain format). Default: what bgcall
	// needs (DefaultEvents). CHANNEL_CREATE, CHANNEL_DESTROY, BACKGROUND_JOB and
	// HEARTBEAT are always added: tracking, jobs and liveness depend on them.
	// "all" is refused.
	Events []string
	// EventBuffer bounds the events held per node (read, waiting for the
	// consumer of Events); default 65536. When it is full the relay
	// stops reading from FreeSWITCH (backpressure); if it stays full for
	// CommandTimeout the connection is treated as failed and resynced.
	EventBuffer int
	// CommandConns is the number of command connections per node, besides
	// the event connection: api and bgapi go to the least busy one, so that
	// up to CommandConns commands are in flight at once and their replies do
	// not queue behind events. A connection carries one command at a time
	// (eslgo hands each reply to whichever caller waits), so too few make
	// commands wait for one; each costs FreeSWITCH a thread, and this
	// replica goroutines to wake. At 500 new sessions a second over three
	// nodes, 4 per node kept that wait under 2 ms at p99 on a quiet machine,
	// and 16 did no better. Default (0) 4; negative means none, every
	// command then shares the event connection.
	CommandConns int
	Logger       *slog.Logger // default slog.Default()
	Observer     Observer     // may be nil
}

// Observer receives metrics hooks; the metrics package implements it. Calls
// are made synchronously and must not block.
type Observer interface {
	CommandDone(node, kind string, d time.Duration, err error) // kind "api"|"bgapi"
	Connected(node string, up bool)
	Reconnected(node string)
}

// DefaultEvents are the events bgcall reads, and no more: every event
// subscribed costs a parse per event on every replica whether it is read or
// not, and progress, unbridge, playback-start and execute events would more
// than double the traffic of a call. The session engine reads answer,
// bridge, hangup, hangup-complete, destroy, playback-stop and job results,
// DTMF (B confirming; a key is a rare event) and mod_avmd's beep (only
// fired where bgcall starts detection), and create and park for its
// sweeper of stray legs; channel tracking needs create and destroy,
// liveness needs HEARTBEAT. A name with "::" is a CUSTOM event's subclass.
var DefaultEvents = []string{
	freeswitch.EventChannelCreate, freeswitch.EventChannelAnswer, freeswitch.EventChannelPark,
	freeswitch.EventChannelBridge, freeswitch.EventChannelHangup, freeswitch.EventChannelHangupComplete,
	freeswitch.EventChannelDestroy, freeswitch.EventPlaybackStop, freeswitch.EventBackgroundJob,
	freeswitch.EventHeartbeat, freeswitch.EventDTMF, freeswitch.SubclassAVMDBeep,
}

var requiredEvents = []string{
	freeswitch.EventChannelCreate, freeswitch.EventChannelDestroy,
	freeswitch.EventBackgroundJob, freeswitch.EventHeartbeat,
}

func (o Options) withDefaults() (Options, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DialTimeout, 5*time.Second)
	def(&o.AuthTimeout, 5*time.Second)
	def(&o.CommandTimeout, 5*time.Second)
	def(&o.PingInterval, 5*time.Second)
	def(&o.SilenceTimeout, 60*time.Second)
	def(&o.BackoffMin, 100*time.Millisecond)
	def(&o.BackoffMax, 10*time.Second)
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	switch {
	case o.CommandConns == 0:
		o.CommandConns = 4
	case o.CommandConns < 0:
		o.CommandConns = 0
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 65536
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	events, err := subscription(o.Events)
	if err != nil {
		return o, err
	}
	o.Events = events
	return o, nil
}

// subscription validates event names and adds the required ones.
func subscription(names []string) ([]string, error) {
	if len(names) == 0 {
		names = DefaultEvents
	}
	seen := make(map[string]bool)
	var out, subclasses []string
	for _, n := range append(append([]string(nil), names...), requiredEvents...) {
		if strings.EqualFold(n, "all") {
			return nil, errors.New(`esl: event "all" is refused: list the events bgcall needs (it floods the socket)`)
		}
		if n == "" || strings.ContainsAny(n, " \t\r\n\x00") {
			return nil, fmt.Errorf("esl: event name %q: one word without blanks, e.g. CHANNEL_ANSWER", n)
		}
		switch {
		case seen[n] || n == freeswitch.EventCustom:
		case strings.Contains(n, "::"):
			subclasses = append(subclasses, n)
		default:
			out = append(out, n)
		}
		seen[n] = true
	}
	// FreeSWITCH reads every word after CUSTOM as a subclass: they go last.
	if len(subclasses) > 0 || seen[freeswitch.EventCustom] {
		out = append(append(out, freeswitch.EventCustom), subclasses...)
	}
	return out, nil
}
