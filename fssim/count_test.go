package fssim

import (
	"context"
	"testing"
	"time"

	"bgcall/internal/uuid"
)

// requireLiveCount fails the test when the node's live-channel counter
// disagrees with a scan of its channels.
func requireLiveCount(t *testing.T, n *Node, when string) {
	t.Helper()
	n.mu.Lock()
	scanned := 0
	for _, ch := range n.channels {
		if !ch.gone {
			scanned++
		}
	}
	counted := n.liveChannels
	n.mu.Unlock()
	if counted != scanned {
		t.Fatalf("%s: %d live channels counted, %d found", when, counted, scanned)
	}
}

// TestLiveCountStaysExact drives a mixed load (answers, failures, timeouts,
// kills, bridges, dialplan calls, a restart, hupall) and checks the live
// counter against the channels after every step.
func TestLiveCountStaysExact(t *testing.T) {
	n := StartT(t, Options{Second: 10 * time.Millisecond, Heartbeat: -1, PromptDuration: 5 * time.Millisecond})
	n.SetSubscriber("1001", Behavior{Action: Busy, Ring: 2 * time.Millisecond})
	n.SetSubscriber("1002", Behavior{Action: EarlyMedia})
	n.SetSubscriber("1003", Behavior{Action: NoAnswer})
	n.SetSubscriber("1004", Behavior{Action: Answer, Ring: time.Millisecond, Talk: 5 * time.Millisecond})
	run := func(line string) string {
		res := make(chan string, 1)
		n.execute(line, func(r string) { res <- r })
		select {
		case r := <-res:
			return r
		case <-time.After(time.Second):
			t.Fatalf("%s: no reply", line)
			return ""
		}
	}
	numbers := []string{"1000", "1001", "1002", "1003", "1004"}
	var answered []string
	for round := 0; round < 3; round++ {
		for i := 0; i < 40; i++ {
			num := numbers[i%len(numbers)]
			u := uuid.New()
			vars := "origination_uuid=" + u + ",originate_timeout=1"
			if i%4 == 0 {
				vars += ",park_after_bridge=true"
			}
			go n.execute("originate {"+vars+"}user/"+num+" &park()", func(string) {})
			switch {
			case i%7 == 3:
				run("uuid_kill " + u)
			case i%11 == 5:
				run("uuid_broadcast " + u + " hangup::USER_BUSY")
			case i%5 == 0:
				answered = append(answered, u)
			}
			if i%6 == 0 {
				if _, err := n.Call(CallOptions{From: "2000", To: num, HangupAfter: 15 * time.Millisecond}); err != nil {
					t.Fatal(err)
				}
			}
			if i%9 == 0 && len(answered) >= 2 {
				run("uuid_bridge " + answered[len(answered)-1] + " " + answered[len(answered)-2])
			}
			if i%13 == 0 && len(answered) > 0 {
				run("uuid_kill " + answered[0])
				answered = answered[1:]
			}
			requireLiveCount(t, n, "during the run")
		}
		time.Sleep(20 * time.Millisecond)
		requireLiveCount(t, n, "after a round")
		if round == 1 {
			n.Restart()
			requireLiveCount(t, n, "after restart")
			if got := len(n.Channels()); got != 0 {
				t.Fatalf("%d channels after restart", got)
			}
			answered = nil
		}
	}
	run("hupall")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	requireLiveCount(t, n, "after hupall")
	n.mu.Lock()
	live, peak := n.liveChannels, n.peak
	n.mu.Unlock()
	if live != 0 || peak == 0 {
		t.Errorf("idle node: live %d, peak %d", live, peak)
	}
}
