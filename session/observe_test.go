package session_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"bgcall/internal/testutil"
	"bgcall/session"
	"bgcall/store"
)

// transitions records what Options.Transitions is told, per session.
type transitions struct {
	mu   sync.Mutex
	seen map[string][]store.Session
	ents map[string][][]store.Entry
}

func (r *transitions) observe(s store.Session, entries []store.Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen, r.ents = make(map[string][]store.Session), make(map[string][][]store.Entry)
	}
	r.seen[s.ID] = append(r.seen[s.ID], s)
	r.ents[s.ID] = append(r.ents[s.ID], slices.Clone(entries))
}

// kinds returns the entry kinds told for session id, transitions in
// version order, and the versions.
func (r *transitions) kinds(id string) ([]string, []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	idx := make([]int, len(r.seen[id]))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return r.seen[id][idx[a]].Version < r.seen[id][idx[b]].Version })
	var kinds []string
	var versions []int64
	for _, i := range idx {
		versions = append(versions, r.seen[id][i].Version)
		for _, e := range r.ents[id][i] {
			kinds = append(kinds, string(e.Kind))
		}
	}
	return kinds, versions
}

// TestTransitionsToldAsStored: the observer is told of every stored
// transition, creation, the claim's attempt and a cancel included, once
// each, with exactly the timeline's entries.
func TestTransitionsToldAsStored(t *testing.T) {
	rec := &transitions{}
	h := newHarness(t, withOptions(func(o *session.Options) { o.Transitions = rec.observe }))
	h.nodes[0].SetSubscriber("5002", noAnswer, busy, answer)
	h.nodes[0].SetSubscriber("5001", talkShort)
	h.nodes[0].SetSubscriber("5004", noAnswer)
	done := h.create("5001", "5002")
	cancelled := h.create("5003", "5004")
	h.waitFor(cancelled.ID, "a second attempt", func(s store.Session) bool { return s.Attempts >= 2 })
	if _, err := h.eng.Cancel(context.Background(), cancelled.ID, false); err != nil {
		t.Fatal(err)
	}
	h.waitOutcome(done.ID)
	h.waitOutcome(cancelled.ID)
	for _, id := range []string{done.ID, cancelled.ID} {
		// The observer is told just after the store answered, each step
		// by whoever stored it (the worker, the cancel), so a step may
		// reach it a moment after the store shows it, or after a later
		// step: wait until it was told of every step, in version order.
		want := kinds(h.timeline(id))
		testutil.WaitFor(t, "the observer told of session "+id+"'s steps as its timeline has them, "+strings.Join(want, " "), func() bool {
			got, _ := rec.kinds(id)
			return slices.Equal(got, want)
		})
		_, versions := rec.kinds(id)
		for i := 1; i < len(versions); i++ {
			if versions[i] == versions[i-1] {
				t.Errorf("session %s: version %d told twice", id, versions[i])
			}
		}
	}
}

// TestCallbackURLOnlyWhereAllowed: a request's callback URL is refused
// unless the engine has a check for it, and stored once allowed.
func TestCallbackURLOnlyWhereAllowed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	r := session.Request{Caller: "6001", Callee: "6002", CallbackURL: "https://hooks.example.com/e"}
	_, _, err := h.eng.Create(ctx, r)
	var ve *session.ValidationError
	if !errors.As(err, &ve) || ve.Field != "callback_url" || !strings.Contains(ve.Problem, "webhooks.allow_request_url") {
		t.Fatalf("create with a callback URL where none is allowed = %v; want a callback_url error naming the setting", err)
	}
	for _, bad := range []string{"ftp://x/y", "https://", "hooks.example.com/e", "https://a.example.com/\nx", "https://a.example.com/" + strings.Repeat("x", 1100)} {
		r := r
		r.CallbackURL = bad
		if err := r.Validate(); !errors.As(err, &ve) || ve.Field != "callback_url" {
			t.Errorf("Validate(%.40q) = %v; want a callback_url error", bad, err)
		}
	}

	allowed := h.start(func() session.Options {
		o := h.opts
		o.Replica = "r2"
		o.CallbackURL = func(u string) error {
			if !strings.HasPrefix(u, "https://hooks.example.com/") {
				return errors.New("not under an allowed prefix")
			}
			return nil
		}
		return o
	}())
	if _, _, err := allowed.Create(ctx, session.Request{Caller: "6001", Callee: "6002", CallbackURL: "https://evil.example.com/"}); !errors.As(err, &ve) || ve.Field != "callback_url" {
		t.Fatalf("create with a URL the check refuses = %v", err)
	}
	s, created, err := allowed.Create(ctx, r)
	if err != nil || !created {
		t.Fatalf("create with an allowed URL = %v, %v", created, err)
	}
	if got, err := h.st.Get(ctx, s.ID); err != nil || got.CallbackURL != r.CallbackURL {
		t.Fatalf("stored callback URL %q, %v; want %q", got.CallbackURL, err, r.CallbackURL)
	}
}
