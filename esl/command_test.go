package esl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// waitCommandConns waits until the node has want command connections up.
func waitCommandConns(t *testing.T, h *harness, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.p.Health()[0].CommandConns != want {
		if time.Now().After(deadline) {
			t.Fatalf("command connections: %+v, want %d up", h.p.Health()[0], want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCommandsOverlapOnCommandConnections: with every reply delayed, 16
// callers over 4 command connections finish in about a quarter of the time
// one connection needs, and every caller gets its own reply.
func TestCommandsOverlapOnCommandConnections(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	opts := fastOptions()
	opts.CommandTimeout = 5 * time.Second
	opts.PingInterval = time.Hour
	opts.CommandConns = 4
	h := start(t, []Node{simNode("fs1", sim)}, opts, true, nil)
	h.waitUp(1)
	waitCommandConns(t, h, 4)
	alive := h.park("fs1", "1000")

	const (
		callers = 16
		each    = 2
		delay   = 100 * time.Millisecond
	)
	sim.SetAPIDelay(delay)
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				// Alternate a channel that exists with one that does not,
				// so that a reply handed to the wrong caller shows.
				id, want := uuid.New(), "false"
				if (i+j)%2 == 0 {
					id, want = alive, "true"
				}
				v, err := h.p.API(context.Background(), "fs1", "uuid_exists "+id)
				if err != nil || v != want {
					errs <- fmt.Errorf("caller %d: uuid_exists = %q, %v; want %q", i, v, err, want)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	sim.SetAPIDelay(0)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One connection at a time needs callers*each*delay (3.2 s); four need
	// a quarter of it. Anything under three quarters proves overlap, with a
	// wide margin for a loaded machine.
	serial := callers * each * delay
	if elapsed >= serial*3/4 {
		t.Errorf("%d commands of %v took %v: not overlapped (one at a time takes %v)", callers*each, delay, elapsed, serial)
	}
	t.Logf("%d commands of %v over 4 command connections: %v", callers*each, delay, elapsed)

	// bgapi results still come on the event connection.
	v, err := h.p.BGAPIWait(context.Background(), "fs1", "uuid_exists "+alive)
	if err != nil || v != "true" {
		t.Errorf("BGAPIWait over a command connection = %q, %v", v, err)
	}
	if _, err := h.p.API(context.Background(), "fs1", "uuid_kill "+alive); err != nil {
		t.Fatal(err)
	}
}

// TestCommandConnectionLostAlone: losing a command connection fails only
// its command in flight; the node stays up and the connection is redialled.
func TestCommandConnectionLostAlone(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	opts := fastOptions()
	opts.CommandTimeout = 5 * time.Second
	opts.PingInterval = time.Hour
	opts.CommandConns = 2
	h := start(t, []Node{simNode("fs1", sim)}, opts, true, nil)
	h.waitUp(1)
	waitCommandConns(t, h, 2)
	from := h.mark()

	sim.SetAPIDelay(time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := h.p.API(context.Background(), "fs1", "status")
		done <- err
	}()
	// Find the command connection carrying it and cut its socket.
	var busy *conn
	for deadline := time.Now().Add(5 * time.Second); busy == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the command never reached a command connection")
		}
		for _, s := range h.p.nodes[0].cmds {
			if c := s.cur.Load(); c != nil && c.load.Load() > 0 {
				busy = c
			}
		}
		time.Sleep(time.Millisecond)
	}
	busy.relay.up.Close()
	if err := <-done; !errors.Is(err, ErrConnectionLost) {
		t.Errorf("command on a lost command connection = %v, want ErrConnectionLost", err)
	}
	sim.SetAPIDelay(0)
	waitCommandConns(t, h, 2)
	if v, err := h.p.API(context.Background(), "fs1", "uuid_exists "+uuid.New()); err != nil || v != "false" {
		t.Errorf("after redial: %q, %v", v, err)
	}
	hl := h.p.Health()[0]
	if !hl.Connected || hl.Reconnects != 0 {
		t.Errorf("a command connection's loss reached the node: %+v", hl)
	}
	for _, ev := range h.since(from) {
		if ev.Name == EventNodeDown {
			t.Errorf("NODE_DOWN for a command connection's loss")
		}
	}
}

// TestDefaultSubscription: what bgcall reads, and not the chatty events it
// does not (each one costs a parse on every replica).
func TestDefaultSubscription(t *testing.T) {
	got, err := subscription(nil)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range got {
		have[n] = true
	}
	for _, n := range []string{"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_BRIDGE",
		"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "PLAYBACK_STOP",
		"BACKGROUND_JOB", "HEARTBEAT", "DTMF", "CUSTOM", "avmd::beep"} {
		if !have[n] {
			t.Errorf("default subscription lacks %s", n)
		}
	}
	for _, n := range []string{"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_UNBRIDGE",
		"PLAYBACK_START", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"} {
		if have[n] {
			t.Errorf("default subscription has %s, which bgcall does not read", n)
		}
	}
	// FreeSWITCH takes every word after CUSTOM for a subclass.
	if i := slices.Index(got, "CUSTOM"); i < 0 || !slices.Equal(got[i+1:], []string{"avmd::beep"}) {
		t.Errorf("subscription %v: CUSTOM must come last, followed by its subclasses only", got)
	}
}
