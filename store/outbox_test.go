package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func eventData(evs []OutboxEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Data
	}
	return out
}

func eventIDs(evs []OutboxEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// TestOutboxDeliversOnceAcrossConsumers: two replicas reading the outbox
// share its events, each event goes to one of them, and a done event
// leaves the backlog.
func TestOutboxDeliversOnceAcrossConsumers(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	if err := st.OutboxAdd(ctx, 0, "e1", "e2", "e3"); err != nil {
		t.Fatal(err)
	}
	a, err := st.OutboxRead(ctx, "r1", 2, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.OutboxRead(ctx, "r2", 10, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(eventData(a), eventData(b)...); !slices.Equal(got, []string{"e1", "e2", "e3"}) {
		t.Fatalf("r1 read %v, r2 read %v: want e1, e2, e3 between them, in order, each once", eventData(a), eventData(b))
	}
	if n, err := st.OutboxBacklog(ctx); err != nil || n != 3 {
		t.Fatalf("backlog before done = %d, %v; want 3", n, err)
	}
	if err := st.OutboxDone(ctx, eventIDs(a)...); err != nil {
		t.Fatal(err)
	}
	if n, err := st.OutboxBacklog(ctx); err != nil || n != 1 {
		t.Fatalf("backlog after two done = %d, %v; want 1", n, err)
	}
	// r1 restarts under its name: nothing of its own is pending any more;
	// r2's pending event is still r2's.
	if p, err := st.OutboxRead(ctx, "r1", 10, -1, true); err != nil || len(p) != 0 {
		t.Fatalf("r1's pending after done = %v, %v; want none", eventData(p), err)
	}
	if p, err := st.OutboxRead(ctx, "r2", 10, -1, true); err != nil || !slices.Equal(eventData(p), []string{"e3"}) {
		t.Fatalf("r2's pending = %v, %v; want e3", eventData(p), err)
	}
}

// TestOutboxClaimTakesADeadConsumersEvents: events a replica read and never
// finished go to another replica once idle, not while their reader touches
// them.
func TestOutboxClaimTakesADeadConsumersEvents(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	if err := st.OutboxAdd(ctx, 0, "e1", "e2"); err != nil {
		t.Fatal(err)
	}
	read, err := st.OutboxRead(ctx, "dead", 10, -1, false)
	if err != nil || len(read) != 2 {
		t.Fatalf("read = %v, %v", eventData(read), err)
	}
	if got, err := st.OutboxClaim(ctx, "r2", time.Hour, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim of events idle less than an hour = %v, %v; want none", eventData(got), err)
	}
	// Idle time is Redis's own clock: wait, boundedly, until the events
	// have been idle for 20ms.
	var got []OutboxEvent
	for i := 0; len(got) == 0 && i < 200; i++ {
		if got, err = st.OutboxClaim(ctx, "r2", 20*time.Millisecond, 10); err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if !slices.Equal(eventData(got), []string{"e1", "e2"}) {
		t.Fatalf("r2 claimed %v; want e1, e2", eventData(got))
	}
	// Claimed, they are r2's: a touch keeps them from r3.
	if err := st.OutboxTouch(ctx, "r2", eventIDs(got)...); err != nil {
		t.Fatal(err)
	}
	if again, err := st.OutboxClaim(ctx, "r3", time.Hour, 10); err != nil || len(again) != 0 {
		t.Fatalf("r3 claimed %v, %v of r2's touched events", eventData(again), err)
	}
	if p, err := st.OutboxRead(ctx, "r2", 10, -1, true); err != nil || len(p) != 2 {
		t.Fatalf("r2's pending = %v, %v; want both", eventData(p), err)
	}
	if err := st.OutboxDone(ctx, eventIDs(got)...); err != nil {
		t.Fatal(err)
	}
	if again, err := st.OutboxClaim(ctx, "r3", 0, 10); err != nil || len(again) != 0 {
		t.Fatalf("r3 claimed %v, %v: done events must never come back", eventData(again), err)
	}
}

// TestOutboxReadWaitsForNewEvents: a blocked read returns as soon as an
// event is added.
func TestOutboxReadWaitsForNewEvents(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	if _, err := st.OutboxRead(ctx, "r1", 1, -1, false); err != nil { // creates the group
		t.Fatal(err)
	}
	got := make(chan []OutboxEvent, 1)
	go func() {
		evs, err := st.OutboxRead(ctx, "r1", 1, 10*time.Second, false)
		if err != nil {
			t.Error(err)
		}
		got <- evs
	}()
	// The read may start before or after the add: either way it sees it.
	if err := st.OutboxAdd(ctx, 0, "late"); err != nil {
		t.Fatal(err)
	}
	if evs := <-got; !slices.Equal(eventData(evs), []string{"late"}) {
		t.Fatalf("blocked read returned %v; want the event added meanwhile", eventData(evs))
	}
}

// TestOutboxBoundedAndRecreated: the stream keeps about maxLen entries, and
// a group lost with Redis's data is created again on the next read.
func TestOutboxBoundedAndRecreated(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	for i := range 50 {
		if err := st.OutboxAdd(ctx, 10, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.OutboxBacklog(ctx); err != nil || n != 10 {
		t.Fatalf("backlog after 50 added with a bound of 10 = %d, %v", n, err)
	}
	got, err := st.OutboxRead(ctx, "r1", 100, -1, false)
	if err != nil || len(got) != 10 || got[0].Data != "40" {
		t.Fatalf("read = %v, %v; want the newest 10, from 40", eventData(got), err)
	}
	if _, err := st.OutboxRead(ctx, "r1", 1, -1, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, st.outboxKey()).Err(); err != nil { // Redis lost it
		t.Fatal(err)
	}
	if err := st.OutboxAdd(ctx, 0, "after"); err != nil {
		t.Fatal(err)
	}
	got, err = st.OutboxRead(ctx, "r1", 10, -1, false)
	if err != nil || !slices.Equal(eventData(got), []string{"after"}) {
		t.Fatalf("read after the group was lost = %v, %v; want the new event", eventData(got), err)
	}
}
