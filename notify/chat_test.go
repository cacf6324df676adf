package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/fssim"
	"bgcall/notify"
)

// TestChatThroughFreeSWITCH sends the message with FreeSWITCH's chat API
// over a real event socket (the simulator) and checks what it received.
func TestChatThroughFreeSWITCH(t *testing.T) {
	node := fssim.StartT(t, fssim.Options{Heartbeat: -1})
	pool, err := esl.NewPool([]esl.Node{{Name: "fs1", Addr: node.Addr(), Password: node.Password()}}, esl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pool.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := pool.WaitConnected(wctx, 1); err != nil {
		t.Fatal(err)
	}
	n, reg := start(t, notify.Options{Channel: notify.ChannelChat, Pool: pool, ChatTo: "{caller}@example.com", ChatFrom: "{callee}@example.com"})
	m := msg
	m.Node = "fs1"
	n.Send(ctx, m)
	waitFor(t, "the chat", func() bool { return len(node.Chats()) == 1 })
	c := node.Chats()[0]
	if c.Proto != "sip" || c.To != "1001@example.com" || c.From != "1002@example.com" || !strings.Contains(c.Body, "1002") {
		t.Errorf("chat %+v", c)
	}
	waitFor(t, "the sent count", func() bool { return countChannel(t, reg, "chat", "sent") == 1 })
}
