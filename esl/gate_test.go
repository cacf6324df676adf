package esl

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bgcall/freeswitch"
	"bgcall/fssim"
	"bgcall/internal/uuid"
)

// TestGateAskedWhenTheCommandsTurnComes: a gated command that waits behind
// another is checked when its turn comes, not when it was handed over; a
// closed gate sends nothing and says so. A replica paused after its last
// check of the lease must not write an originate it decided on before.
func TestGateAskedWhenTheCommandsTurnComes(t *testing.T) {
	sim := fssim.StartT(t, fssim.Options{Second: 10 * time.Millisecond})
	opts := fastOptions()
	opts.CommandConns = -1 // one connection: commands wait their turn on it
	h := start(t, []Node{simNode("fs1", sim)}, opts, false, nil)
	h.waitUp(1)
	const delay = 300 * time.Millisecond
	sim.SetAPIDelay(delay)

	// The command ahead: written, its reply held back by the node.
	written := make(chan time.Time, 1)
	ahead := make(chan error, 1)
	go func() {
		_, err := h.p.API(WithCommandTrace(context.Background(), &CommandTrace{Written: func(at time.Time) { written <- at }}), "fs1", "status")
		ahead <- err
	}()
	aheadAt := <-written

	var asked atomic.Int64
	gated := WithGate(context.Background(), func() bool {
		asked.Store(time.Now().UnixNano())
		return false // the lease lapsed meanwhile
	})
	leg := uuid.New()
	cmd, err := freeswitch.Originate{Endpoint: "user/1002@example.com", UUID: leg}.Command()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.p.BGAPI(gated, "fs1", cmd, leg); !errors.Is(err, ErrWithheld) {
		t.Fatalf("gated originate with the gate closed: %v, want ErrWithheld", err)
	}
	if err := <-ahead; err != nil {
		t.Fatal(err)
	}
	at := time.Unix(0, asked.Load())
	if asked.Load() == 0 || at.Sub(aheadAt) < delay-50*time.Millisecond {
		t.Errorf("gate asked %v after the command ahead was written, want once that command's reply (%v) let it go", at.Sub(aheadAt), delay)
	}

	sim.SetAPIDelay(0)
	exists, err := freeswitch.UUIDExists(leg)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := h.p.API(context.Background(), "fs1", exists)
	if err != nil || strings.TrimSpace(reply) != "false" {
		t.Errorf("uuid_exists of the withheld originate's leg = %q, %v; want false: it must never reach FreeSWITCH", reply, err)
	}

	// An open gate lets the command go.
	open := WithGate(context.Background(), func() bool { return true })
	if _, err := h.p.API(open, "fs1", "status"); err != nil {
		t.Errorf("api with an open gate: %v", err)
	}
}
