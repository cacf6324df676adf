package esl

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// recoveryBudget is what the issue allows for detecting a failure and for
// recovering once the fault is gone.
const recoveryBudget = 2 * time.Second

// hangupAll ends the test's parked legs so the simulator is idle at cleanup.
func hangupAll(t *testing.T, h *harness, node string) {
	t.Helper()
	cmd, _ := freeswitch.Hupall(freeswitch.NormalClearing, "bgcall_test", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := h.p.API(ctx, node, cmd); err != nil {
		t.Errorf("hupall: %v", err)
	}
}

func TestMidFrameCutDetectedAndRecovered(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)
	alive := h.park("fs1", "1002")
	from := h.mark()

	cut := time.Now()
	sim.DropConnections()
	down, next, err := h.waitEvent(from, recoveryBudget, named(EventNodeDown))
	if err != nil {
		t.Fatalf("NODE_DOWN after a mid-frame cut: %v (health %+v)", err, h.p.Health())
	}
	up, _, err := h.waitEvent(next, recoveryBudget, named(EventNodeUp))
	if err != nil {
		t.Fatalf("NODE_UP after the cut: %v (health %+v)", err, h.p.Health())
	}
	t.Logf("cut → down %v, → up %v", time.Since(cut)-time.Since(down.Time), up.Time.Sub(cut))
	if up.Time.Sub(cut) > recoveryBudget {
		t.Errorf("recovered after %v", up.Time.Sub(cut))
	}
	if up.CoreUUID != sim.CoreUUID() {
		t.Errorf("NODE_UP core %q, want %q", up.CoreUUID, sim.CoreUUID())
	}
	for _, ev := range h.since(from) {
		if ev.Name == EventChannelGone {
			t.Errorf("channel %s reported gone, but only the connection was cut", ev.UniqueID)
		}
	}
	hl := h.p.Health()[0]
	if hl.Reconnects != 1 || !hl.Connected || hl.Channels != 1 || hl.LastError != "" || down.Node != "fs1" {
		t.Errorf("health after recovery: %+v", hl)
	}
	if v, err := h.p.API(context.Background(), "fs1", "uuid_exists "+alive); err != nil || v != "true" {
		t.Errorf("uuid_exists after recovery = %q, %v", v, err)
	}
	conn, rec := h.obs.snapshot()
	if strings.Join(conn, ",") != "fs1 up,fs1 down,fs1 up" || rec["fs1"] != 1 {
		t.Errorf("observer: %v, reconnected %v", conn, rec)
	}
	hangupAll(t, h, "fs1")
}

func TestStalledNodeDetectedAndRecovered(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)
	from := h.mark()

	// The node stops answering: replies are held far beyond CommandTimeout.
	stall := time.Now()
	sim.SetAPIDelay(2 * time.Second) // four times CommandTimeout
	_, next, err := h.waitEvent(from, recoveryBudget, named(EventNodeDown))
	if err != nil {
		t.Fatalf("NODE_DOWN for a stalled node: %v (health %+v)", err, h.p.Health())
	}
	t.Logf("stall detected after %v: %s", time.Since(stall), h.p.Health()[0].LastError)
	if _, err := h.p.API(context.Background(), "fs1", "status"); !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrConnectionLost) {
		t.Errorf("API on a stalled node = %v", err)
	}

	resume := time.Now()
	sim.SetAPIDelay(0)
	up, _, err := h.waitEvent(next, recoveryBudget, named(EventNodeUp))
	if err != nil {
		t.Fatalf("NODE_UP after the stall: %v (health %+v)", err, h.p.Health())
	}
	t.Logf("recovered %v after the node answered again", up.Time.Sub(resume))
	if v, err := h.p.API(context.Background(), "fs1", "status"); err != nil || !strings.HasPrefix(v, "UP") {
		t.Errorf("status after recovery = %.20q, %v", v, err)
	}
}

func TestRestartReportsEveryChannelGone(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)
	a, b := h.park("fs1", "1002"), h.park("fs1", "1003")
	oldCore := sim.CoreUUID()
	if got := h.p.Health()[0].Channels; got != 2 {
		t.Fatalf("tracking %d channels, want 2", got)
	}
	from := h.mark()

	restart := time.Now()
	sim.Restart()
	_, next, err := h.waitEvent(from, recoveryBudget, named(EventNodeDown))
	if err != nil {
		t.Fatalf("NODE_DOWN on restart: %v", err)
	}
	up, _, err := h.waitEvent(next, recoveryBudget, named(EventNodeUp))
	if err != nil {
		t.Fatalf("NODE_UP after restart: %v (health %+v)", err, h.p.Health())
	}
	t.Logf("restart → up in %v", up.Time.Sub(restart))
	if up.CoreUUID == oldCore || up.CoreUUID != sim.CoreUUID() {
		t.Errorf("NODE_UP core %q, old %q, node's now %q", up.CoreUUID, oldCore, sim.CoreUUID())
	}
	gone := map[string]bool{}
	for _, ev := range h.since(next) {
		if ev.Name == EventChannelGone {
			gone[ev.UniqueID] = true
			if ev.Node != "fs1" || ev.CoreUUID != up.CoreUUID {
				t.Errorf("CHANNEL_GONE %+v", ev)
			}
		}
		if ev.Name == EventNodeUp {
			break
		}
	}
	if len(gone) != 2 || !gone[a] || !gone[b] {
		t.Errorf("gone before NODE_UP: %v, want %s and %s", gone, a, b)
	}
	if hl := h.p.Health()[0]; hl.Channels != 0 || hl.CoreUUID != sim.CoreUUID() {
		t.Errorf("health after restart: %+v", hl)
	}
}

// TestResyncReportsChannelsThatEndedUnseen: a leg hangs up while its events
// cannot reach us and the connection is then lost; after reconnecting,
// uuid_exists finds it gone, and the leg that lives on is not reported.
func TestResyncReportsChannelsThatEndedUnseen(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("fs1", sim)}, fastOptions(), true, nil)
	h.waitUp(1)
	keep, lost := h.park("fs1", "1002"), h.park("fs1", "1003")
	from := h.mark()

	sim.StallEvents(true)
	kill, _ := freeswitch.UUIDKill(lost, freeswitch.NormalClearing)
	if _, err := h.p.API(context.Background(), "fs1", kill); err != nil {
		t.Fatal(err)
	}
	sim.DropConnections()
	_, next, err := h.waitEvent(from, recoveryBudget, named(EventNodeDown))
	if err != nil {
		t.Fatalf("NODE_DOWN: %v", err)
	}
	// While events are stalled, a new connection cannot prove that events
	// flow, so the node must not be declared up.
	time.Sleep(300 * time.Millisecond)
	if h.p.Health()[0].Connected {
		t.Error("node declared up while its events are stalled")
	}
	resume := time.Now()
	sim.StallEvents(false)
	up, _, err := h.waitEvent(next, recoveryBudget, named(EventNodeUp))
	if err != nil {
		t.Fatalf("NODE_UP: %v (health %+v)", err, h.p.Health())
	}
	t.Logf("up %v after events resumed", up.Time.Sub(resume))
	var gone []string
	for _, ev := range h.since(from) {
		if ev.Name == EventChannelGone {
			gone = append(gone, ev.UniqueID)
		}
		if ev.UniqueID == lost && ev.Name == freeswitch.EventChannelDestroy {
			t.Log("the lost leg's CHANNEL_DESTROY got through anyway")
		}
	}
	if len(gone) != 1 || gone[0] != lost {
		t.Errorf("CHANNEL_GONE for %v, want only %s (kept %s)", gone, lost, keep)
	}
	if hl := h.p.Health()[0]; hl.Channels != 1 {
		t.Errorf("tracking %d channels, want 1", hl.Channels)
	}
	hangupAll(t, h, "fs1")
}

func TestWrongPasswordReported(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	cfg := simNode("fs1", sim)
	cfg.Password = "wrong"
	h := start(t, []Node{cfg}, fastOptions(), true, nil)

	deadline := time.Now().Add(recoveryBudget)
	var hl NodeHealth
	for time.Now().Before(deadline) {
		if hl = h.p.Health()[0]; hl.LastError != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(hl.LastError, "authentication refused") || !strings.Contains(hl.LastError, "password") || hl.Connected {
		t.Fatalf("health with a wrong password: %+v", hl)
	}
	_, err := h.p.API(context.Background(), "fs1", "status")
	if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "password") {
		t.Errorf("API with a wrong password = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := h.p.WaitConnected(ctx, 1); err == nil {
		t.Error("WaitConnected succeeded with a wrong password")
	}
	if conn, _ := h.obs.snapshot(); len(conn) != 0 {
		t.Errorf("observer saw %v", conn)
	}
	if _, err := h.p.Pick(); !errors.Is(err, ErrNoNode) {
		t.Errorf("Pick = %v", err)
	}
}

// TestAbandonedCallerDoesNotShiftReplies: a caller that gives up before its
// reply must not leave that reply to the next caller; a reply that never
// comes poisons the connection, which is replaced.
// TestAbandonedCallerDoesNotShiftReplies runs with commands on the event
// connection and on a single command connection: either way one command is
// in flight per connection, and a late reply must not reach the next caller.
func TestAbandonedCallerDoesNotShiftReplies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conns int
	}{{"event connection", -1}, {"command connection", 1}} {
		t.Run(tc.name, func(t *testing.T) { testAbandonedCaller(t, tc.conns) })
	}
}

func testAbandonedCaller(t *testing.T, commandConns int) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	opts := fastOptions()
	opts.CommandTimeout = time.Second
	opts.PingInterval = time.Hour // keep pings out of the way
	opts.CommandConns = commandConns
	h := start(t, []Node{simNode("fs1", sim)}, opts, true, nil)
	h.waitUp(1)
	from := h.mark()

	sim.SetAPIDelay(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err := h.p.API(ctx, "fs1", "status")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("abandoned call = %v", err)
	}
	sim.SetAPIDelay(0)
	v, err := h.p.API(context.Background(), "fs1", "uuid_exists "+uuid.New())
	if err != nil || v != "false" {
		t.Fatalf("next caller got %q, %v; want its own reply \"false\"", v, err)
	}
	if hl := h.p.Health()[0]; hl.Reconnects != 0 {
		t.Errorf("an abandoned caller cost a reconnect: %+v", hl)
	}

	// A reply slower than CommandTimeout: the connection is poisoned.
	sim.SetAPIDelay(3 * time.Second)
	_, err = h.p.API(context.Background(), "fs1", "status")
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("call past CommandTimeout = %v, want ErrConnectionLost", err)
	}
	sim.SetAPIDelay(0)
	if commandConns < 0 {
		if _, _, err := h.waitEvent(from, 3*time.Second, named(EventNodeUp)); err != nil {
			t.Fatalf("no reconnect after poisoning: %v", err)
		}
	} else {
		waitCommandConns(t, h, commandConns)
	}
	v, err = h.p.API(context.Background(), "fs1", "uuid_exists "+uuid.New())
	if err != nil || v != "false" {
		t.Fatalf("after reconnect got %q, %v; want \"false\"", v, err)
	}
}

// TestStuckConsumerFailsTheConnection: when nobody takes events, the event
// queue fills, the relay stops reading (backpressure) and, after
// CommandTimeout, fails the connection with a reason that names the
// consumer; once events are taken again the node reconnects.
func TestStuckConsumerFailsTheConnection(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Heartbeat: time.Millisecond, RecordLimit: -1})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	opts := fastOptions()
	opts.EventBuffer = 4
	h := start(t, []Node{simNode("fs1", sim)}, opts, false, func(Event) { <-release })
	t.Cleanup(unblock) // before the pool stops, which waits for the consumer
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.p.Health()[0].LastError, "event buffer full") {
		if time.Now().After(deadline) {
			t.Fatalf("connection not failed for a stuck consumer: %+v", h.p.Health()[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	unblock()
	for hl := h.p.Health()[0]; !hl.Connected || hl.Reconnects == 0; hl = h.p.Health()[0] {
		if time.Now().After(deadline) {
			t.Fatalf("node not back once events were taken: %+v", hl)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
