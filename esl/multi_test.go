package esl

import (
	"context"
	"errors"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
)

func TestPoolOfTwoNodes(t *testing.T) {
	simA := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	simB := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("a", simA), simNode("b", simB)}, fastOptions(), true, nil)
	h.waitUp(2)
	if got := h.p.Nodes(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("Nodes = %v", got)
	}

	// Commands go to the named node only.
	leg := h.park("a", "1002")
	if v, _ := h.p.API(context.Background(), "a", "uuid_exists "+leg); v != "true" {
		t.Errorf("leg not on a: %q", v)
	}
	if v, _ := h.p.API(context.Background(), "b", "uuid_exists "+leg); v != "false" {
		t.Errorf("leg on b: %q", v)
	}
	if _, ok := simA.Channel(leg); !ok {
		t.Error("simulator a does not have the leg")
	}

	// Pick prefers the node with fewer live channels, counting its recent
	// picks as channels on their way: b first, then both in turn.
	if n, err := h.p.Pick(); err != nil || n != "b" {
		t.Fatalf("Pick = %q, %v; want b (a has a call)", n, err)
	}
	burst := map[string]int{"b": 1}
	for i := 0; i < 9; i++ {
		n, _ := h.p.Pick()
		burst[n]++
	}
	if burst["b"] < burst["a"] || burst["b"] > burst["a"]+2 {
		t.Errorf("a burst of picks with a call on a: %v; want b one ahead", burst)
	}
	// With equal load it spreads picks over both.
	legB := h.park("b", "1003")
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		n, _ := h.p.Pick()
		seen[n]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("picks with equal load: %v", seen)
	}

	// One stream carries both nodes' events, each tagged with its node.
	for _, want := range []struct{ node, uuid string }{{"a", leg}, {"b", legB}} {
		ev, _, err := h.waitEvent(0, time.Second, channelEvent(freeswitch.EventChannelCreate, want.uuid))
		if err != nil || ev.Node != want.node {
			t.Errorf("CHANNEL_CREATE of %s: node %q, %v", want.uuid, ev.Node, err)
		}
	}

	// A node that goes away is skipped by Pick and reported by Health.
	from := h.mark()
	hangupAll(t, h, "b")
	simB.Close()
	if _, _, err := h.waitEvent(from, recoveryBudget, func(e Event) bool { return e.Name == EventNodeDown && e.Node == "b" }); err != nil {
		t.Fatalf("NODE_DOWN b: %v", err)
	}
	for i := 0; i < 5; i++ {
		if n, err := h.p.Pick(); err != nil || n != "a" {
			t.Fatalf("Pick with b down = %q, %v", n, err)
		}
	}
	hs := h.p.Health()
	if !hs[0].Connected || hs[1].Connected || hs[1].LastError == "" {
		t.Errorf("health: %+v", hs)
	}
	if _, err := h.p.API(context.Background(), "b", "status"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("API to a closed node = %v", err)
	}
	hangupAll(t, h, "a")
}

// TestPickAvoidsASlowNode: commands waiting for a node's replies count as
// load, so a node that answers slowly gets no new calls while the other
// has room.
func TestPickAvoidsASlowNode(t *testing.T) {
	simA := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	simB := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	h := start(t, []Node{simNode("a", simA), simNode("b", simB)}, fastOptions(), false, nil)
	h.waitUp(2)
	simA.SetAPIDelay(300 * time.Millisecond)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			h.p.API(context.Background(), "a", "status")
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.p.byName["a"].backlog() < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("backlog on a: %d, want 8", h.p.byName["a"].backlog())
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 5 {
		if n, err := h.p.Pick(); err != nil || n != "b" {
			t.Fatalf("pick %d = %q, %v; want b while a has 8 commands waiting", i, n, err)
		}
	}
	for range 8 {
		<-done
	}
}
