package session

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
)

// TestCloserNeverHoldsUpTheDispatcher: with a node's sender full, an event
// that makes the closer hang a leg up must return at once (the dispatcher
// calls observe for every node's events); the hangup is sent once there is
// room.
func TestCloserNeverHoldsUpTheDispatcher(t *testing.T) {
	stopped := make(chan struct{})
	defer close(stopped)
	full := newSender(1, 1, stopped) // not running yet: nothing drains it
	// Never run: its commands fail at once as not connected.
	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: "127.0.0.1:1", Password: "ClueCon"}}, esl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{
		opt:     Options{Pool: pool, Clock: time.Now, LegGrace: time.Second, PromptTimeout: time.Second},
		now:     time.Now,
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		senders: &senders{byNode: map[string]*sender{"fs1": full}, other: newSender(1, 1, stopped)},
		fence:   &leaseFence{until: time.Now().Add(time.Hour)}, // held: this test is about the sender, not the lease
	}
	c := newCloser(e)
	ran := make(chan string, 4)
	full.send("other", func(context.Context) { ran <- "other" }) // the one slot
	c.mu.Lock()
	c.legs["leg-1"] = &closing{id: "s1", node: "fs1", until: time.Now().Add(time.Minute)}
	c.mu.Unlock()

	returned := make(chan bool)
	go func() {
		returned <- c.observe(&esl.Event{Node: "fs1", Name: freeswitch.EventChannelAnswer, UniqueID: "leg-1"})
	}()
	select {
	case ok := <-returned:
		if !ok {
			t.Fatal("observe did not claim the closing leg's event")
		}
	case <-time.After(time.Second):
		t.Fatal("observe waited for a full sender")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.run(ctx)
	go full.run(ctx)
	select {
	case <-ran: // the command that filled the sender
	case <-time.After(5 * time.Second):
		t.Fatal("sender never ran")
	}
	deadline := time.After(5 * time.Second)
	pending := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending)
	}
	for full.backlog() != 0 || pending() != 0 {
		select {
		case <-deadline:
			t.Fatalf("hangup not sent: backlog %d, pending %d", full.backlog(), pending())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
