package esl

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

func TestCommandsEventsAndHealth(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)
	ctx := context.Background()

	if _, _, err := h.waitEvent(0, 2*time.Second, named(EventNodeUp)); err != nil {
		t.Fatalf("NODE_UP: %v", err)
	}
	status, err := h.p.API(ctx, "fs1", "status")
	if err != nil || !strings.HasPrefix(status, "UP ") {
		t.Fatalf("status = %q, %v", status, err)
	}
	_, err = h.p.API(ctx, "fs1", "no_such_command")
	var fe *freeswitch.Error
	if !errors.As(err, &fe) || !strings.Contains(fe.Text, "Command not found") {
		t.Fatalf("unknown command error = %v", err)
	}
	if _, err := h.p.API(ctx, "fs1", "status\napi hupall"); err == nil || !strings.Contains(err.Error(), "one non-empty line") {
		t.Fatalf("two-line command error = %v", err)
	}
	if _, err := h.p.API(ctx, "nope", "status"); !errors.Is(err, ErrNoNode) {
		t.Fatalf("unknown node error = %v", err)
	}

	// A failed originate: the cause is typed.
	cmd, _ := freeswitch.Originate{Endpoint: "user/1003@example.com", UUID: uuid.New()}.Command()
	sim.SetSubscriber("1003", fssim.Behavior{Action: fssim.Busy})
	_, err = h.p.BGAPIWait(ctx, "fs1", cmd)
	if !errors.As(err, &fe) || fe.Cause != freeswitch.UserBusy {
		t.Fatalf("busy originate error = %v", err)
	}

	// An answered leg: its events arrive in FreeSWITCH's order.
	from := h.mark()
	uuid := h.park("fs1", "1002")
	kill, _ := freeswitch.UUIDKill(uuid, freeswitch.NormalClearing)
	if _, err := h.p.API(ctx, "fs1", kill); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.waitEvent(from, 2*time.Second, channelEvent(freeswitch.EventChannelDestroy, uuid)); err != nil {
		t.Fatalf("CHANNEL_DESTROY: %v", err)
	}
	var names []string
	var last uint64
	for _, ev := range h.since(from) {
		if ev.UniqueID != uuid {
			continue
		}
		if ev.Sequence <= last {
			t.Errorf("%s sequence %d after %d", ev.Name, ev.Sequence, last)
		}
		last = ev.Sequence
		names = append(names, ev.Name)
	}
	want := []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"}
	if !subsequence(want, names) || names[0] != want[0] || names[len(names)-1] != want[len(want)-1] {
		t.Errorf("events for the leg: %v, want in order %v", names, want)
	}

	hl := h.p.Health()[0]
	if !hl.Connected || hl.CoreUUID != sim.CoreUUID() || hl.Channels != 0 || hl.PendingJobs != 0 || hl.Name != "fs1" {
		t.Errorf("health = %+v (core %s)", hl, sim.CoreUUID())
	}
	if node, err := h.p.Pick(); err != nil || node != "fs1" {
		t.Errorf("Pick = %q, %v", node, err)
	}
	// A paused node gets no new call until it is resumed.
	if err := h.p.SetPaused("fs1", true); err != nil {
		t.Fatal(err)
	}
	if node, err := h.p.Pick(); !errors.Is(err, ErrNoNode) || !h.p.Health()[0].Paused {
		t.Errorf("Pick with fs1 paused = %q, %v", node, err)
	}
	h.p.SetPaused("fs1", false)
	if node, err := h.p.Pick(); err != nil || node != "fs1" {
		t.Errorf("Pick with fs1 resumed = %q, %v", node, err)
	}
	if err := h.p.SetPaused("fs9", true); !errors.Is(err, ErrNoNode) {
		t.Errorf("pause an unknown node: %v", err)
	}
	conn, _ := h.obs.snapshot()
	if len(conn) != 1 || conn[0] != "fs1 up" {
		t.Errorf("observer saw %v", conn)
	}
	h.obs.mu.Lock()
	if h.obs.commands["api"] == 0 || h.obs.commands["bgapi"] == 0 {
		t.Errorf("observer commands %v", h.obs.commands)
	}
	h.obs.mu.Unlock()

	// The subscription names events explicitly: never "all", never myevents.
	for _, c := range sim.Commands() {
		if strings.HasPrefix(c, "event ") && (strings.Contains(strings.ToLower(c), " all") || !strings.Contains(c, "BACKGROUND_JOB")) {
			t.Errorf("subscription %q", c)
		}
		if strings.HasPrefix(c, "myevents") {
			t.Errorf("sent %q", c)
		}
	}
}

// subsequence reports whether want appears in got in order.
func subsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestNewPoolRefusesBadConfiguration(t *testing.T) {
	cases := []struct {
		nodes []Node
		opts  Options
		want  string
	}{
		{nil, Options{}, "no FreeSWITCH node"},
		{[]Node{{Addr: "x:1"}}, Options{}, "has no name"},
		{[]Node{{Name: "a"}}, Options{}, "has no address"},
		{[]Node{{Name: "a", Addr: "x:1"}, {Name: "a", Addr: "y:1"}}, Options{}, "used twice"},
		{[]Node{{Name: "a", Addr: "x:1"}}, Options{Events: []string{"ALL"}}, `"all" is refused`},
		{[]Node{{Name: "a", Addr: "x:1"}}, Options{Events: []string{"CHANNEL_ANSWER HEARTBEAT"}}, "one word"},
	}
	for _, c := range cases {
		if _, err := NewPool(c.nodes, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPool(%v, %v) error = %v, want %q", c.nodes, c.opts.Events, err, c.want)
		}
	}
	p, err := NewPool([]Node{{Name: "a", Addr: "x:1"}}, Options{Events: []string{"CHANNEL_ANSWER"}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.opts.Events, " ")
	if got != "CHANNEL_ANSWER CHANNEL_CREATE CHANNEL_DESTROY BACKGROUND_JOB HEARTBEAT" {
		t.Errorf("subscription = %q", got)
	}
	if _, err := p.API(context.Background(), "a", "status"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("API before Run = %v, want ErrNotConnected", err)
	}
	if _, err := p.Pick(); !errors.Is(err, ErrNoNode) {
		t.Errorf("Pick before Run = %v, want ErrNoNode", err)
	}
}

// TestPickCountWindows: picks count for between half a second and a
// second, then no more.
func TestPickCountWindows(t *testing.T) {
	var c pickCount
	t0 := time.Unix(1000, 0) // the start of a window
	c.add(t0)
	c.add(t0.Add(100 * time.Millisecond))
	if n := c.recent(t0.Add(200 * time.Millisecond)); n != 2 {
		t.Errorf("in the same window: %d, want 2", n)
	}
	c.add(t0.Add(600 * time.Millisecond))
	if n := c.recent(t0.Add(900 * time.Millisecond)); n != 3 {
		t.Errorf("in the next window: %d, want 3", n)
	}
	if n := c.recent(t0.Add(1100 * time.Millisecond)); n != 1 {
		t.Errorf("two windows on: %d, want 1 (only the pick of the previous window)", n)
	}
	if n := c.recent(t0.Add(5 * time.Second)); n != 0 {
		t.Errorf("long after: %d, want 0", n)
	}
}
