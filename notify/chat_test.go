package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/notify"
)

// TestChatThroughFreeSWITCH sends the message with FreeSWITCH's chat API
// over a real event socket (the simulator) and checks what it received.
func TestChatThroughFreeSWITCH(t *testing.T) {
	node := fssim.StartT(t, fssim.Options{Heartbeat: -1})
	pool := connect(t, node)
	n, reg := start(t, notify.Options{Channel: notify.ChannelChat, Pool: pool, ChatTo: "{caller}@example.com", ChatFrom: "{callee}@example.com"})
	m := msg
	m.Node = "fs1"
	n.Send(t.Context(), m)
	testutil.WaitFor(t, "the chat", func() bool { return len(node.Chats()) == 1 })
	c := node.Chats()[0]
	if c.Proto != "sip" || c.To != "1001@example.com" || c.From != "1002@example.com" || !strings.Contains(c.Body, "1002") {
		t.Errorf("chat %+v", c)
	}
	testutil.WaitFor(t, "the sent count", func() bool { return countChannel(t, reg, "chat", "sent") == 1 })
}

// TestChatNeverSentTwice: FreeSWITCH ran the chat, but its result never
// came back within the try's timeout (the node's events stalled; a cut
// connection or a paused bgcall look the same). Sending it again would
// give A the message twice; A gets it once, and the try counts as failed.
func TestChatNeverSentTwice(t *testing.T) {
	node := fssim.StartT(t, fssim.Options{Heartbeat: -1})
	pool := connect(t, node)
	n, reg := start(t, notify.Options{Channel: notify.ChannelChat, Pool: pool, ChatTo: "{caller}@example.com",
		// The stall makes the try time out anyway; the timeout only gives
		// the command time to reach the node on a loaded machine.
		Timeout: 2 * time.Second, Retries: 3, Backoff: 10 * time.Millisecond})
	node.StallEvents(true) // the chat's BACKGROUND_JOB result among them
	m := msg
	m.Node = "fs1"
	n.Send(t.Context(), m)
	testutil.WaitFor(t, "the notification to give up", func() bool { return countChannel(t, reg, "chat", "failed") == 1 })
	node.StallEvents(false)
	if got := len(node.Chats()); got != 1 {
		t.Errorf("FreeSWITCH was asked to send the message %d times, want once", got)
	}
	if r := countChannel(t, reg, "chat", "retried"); r != 0 {
		t.Errorf("%v retries of a chat FreeSWITCH may have sent", r)
	}
}

// connect returns a pool connected to node, stopped when the test ends.
func connect(t *testing.T, node *fssim.Node) *esl.Pool {
	t.Helper()
	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: node.Addr(), Password: node.Password()}}, esl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pool.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := pool.WaitConnected(wctx, 1); err != nil {
		t.Fatal(err)
	}
	return pool
}
