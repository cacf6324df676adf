package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/e2e"
)

// testOptOut: B dials *87 while A's background call to B rings B: the
// session is cancelled and its legs go down, B's opt-out is stored, and
// A's requests for B are refused (409 opted_out from the API, the refused
// prompt on A's *88<B>); B dials *86 and A's request is taken again.
func testOptOut(t *testing.T, b *backend) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := b.subscriber(answers)
	callee := b.subscriber(e2e.FarEnd{Kind: e2e.NoAnswer})
	c := b.follow(ctx, t, a)

	c.create(ctx, t, callee, nil)
	if _, err := c.waitSession(ctx, "B ringing", func(s api.Session) bool { return s.State == "dialing_callee" }); err != nil {
		t.Fatal(err)
	}
	heard(t, b.dial(ctx, t, callee, "*87"), phonePrompts.OptedOut)
	if s, err := c.waitSession(ctx, "the cancel", func(s api.Session) bool { return s.State == "finished" }); err != nil || s.Outcome != "cancelled" {
		t.Fatalf("A's session when B opted out: %s, %v; want cancelled", s.Outcome, err)
	}
	if err := c.waitLegsDown(ctx); err != nil {
		t.Error(err)
	}
	list, err := b.api.OptOuts(ctx, callee)
	if err != nil || len(list) != 1 || list[0].Caller != "" || list[0].By != "phone" {
		t.Fatalf("B's opt-outs after *87: %+v, %v; want one from every caller, by phone", list, err)
	}

	_, _, err = b.api.Create(ctx, api.CreateRequest{Caller: a, Callee: callee})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Code != "opted_out" || !strings.Contains(ae.Message, callee) {
		t.Errorf("A's request for B after B's *87: %v; want 409 opted_out naming B", err)
	}
	heard(t, b.dial(ctx, t, a, "*88"+callee), phonePrompts.Refused)
	page, err := b.api.List(ctx, api.ListFilter{Caller: a, Callee: callee})
	if err != nil || len(page.Sessions) != 1 {
		t.Errorf("A's sessions to B: %+v, %v; want only the cancelled one", page.Sessions, err)
	}

	heard(t, b.dial(ctx, t, callee, "*86"), phonePrompts.OptedIn)
	if list, err := b.api.OptOuts(ctx, callee); err != nil || len(list) != 0 {
		t.Fatalf("B's opt-outs after *86: %+v, %v; want none", list, err)
	}
	first := c.id
	c.create(ctx, t, callee, nil)
	if c.id == first {
		t.Fatalf("A's request after B's *86 returned the old session %s", first)
	}
	if _, err := b.api.Cancel(ctx, c.id, true); err != nil {
		t.Fatal(err)
	}
	if err := c.waitLegsDown(ctx); err != nil {
		t.Error(err)
	}
}
