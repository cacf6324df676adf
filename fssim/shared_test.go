package fssim

import (
	"strconv"
	"testing"
	"time"

	"bgcall/internal/uuid"
)

// TestSharedFramesSurviveSlowListeners has one listener read at once and
// two read only after the node has queued hundreds of events for them. The
// frame buffers the quick one has written are reused for later events, so a
// buffer handed back too early would show as a torn or repeated event on a
// slow listener: every listener must read the very same, complete,
// increasing sequence of events.
func TestSharedFramesSurviveSlowListeners(t *testing.T) {
	opts := fastOptions()
	opts.Default = Behavior{Action: Answer}
	n := StartT(t, opts)
	const events = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_STATE"
	var listeners []*rawClient
	for i := 0; i < 3; i++ {
		l := authedRaw(t, n)
		l.reply("event plain " + events)
		listeners = append(listeners, l)
	}
	const calls = 150
	quick := make(chan []string, 1)
	go func() {
		quick <- readSequences(listeners[0], calls)
	}()
	ctl := authedRaw(t, n)
	for i := 0; i < calls; i++ {
		u := uuid.New()
		if got := ctl.api("originate {origination_uuid=" + u + ",pad=" + strconv.Itoa(i) + "}user/1000 &park()"); got != "+OK "+u+"\n" {
			t.Fatalf("originate %d = %q", i, got)
		}
		ctl.api("uuid_kill " + u)
	}
	want := <-quick
	if len(want) == 0 {
		t.Fatal("the quick listener read no events")
	}
	for i, l := range listeners[1:] {
		got := readSequences(l, calls)
		if len(got) != len(want) {
			t.Fatalf("slow listener %d read %d events, the quick one %d", i+1, len(got), len(want))
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("slow listener %d, event %d: %s, the quick one read %s", i+1, j, got[j], want[j])
			}
		}
	}
}

// readSequences reads events until the calls-th CHANNEL_HANGUP_COMPLETE
// and returns each one's name, sequence and channel, failing on a frame
// that does not parse or a sequence that does not increase.
func readSequences(c *rawClient, calls int) []string {
	var out []string
	var last uint64
	for done := 0; done < calls; {
		_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := c.readFrameFrom()
		if err != nil {
			c.t.Errorf("read: %v", err)
			return out
		}
		if f.ctype() != "text/event-plain" {
			continue
		}
		e := f.event()
		seq, err := strconv.ParseUint(e["Event-Sequence"], 10, 64)
		if err != nil || seq <= last || e["Unique-ID"] == "" {
			c.t.Errorf("torn or repeated event after sequence %d: %q", last, f.raw)
			return out
		}
		last = seq
		out = append(out, e["Event-Name"]+" "+e["Event-Sequence"]+" "+e["Unique-ID"]+" "+e["variable_pad"])
		if e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" {
			done++
		}
	}
	return out
}
