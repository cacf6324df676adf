package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// storedFields returns the session fields of id's hash, the first timeline
// entry left out.
func storedFields(t *testing.T, c redis.UniversalClient, st *Store, id string) map[string]string {
	t.Helper()
	h, err := c.HGetAll(context.Background(), st.sessionKey(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	delete(h, fFirst)
	delete(h, fRequest) // the last Apply's request token: bookkeeping, not a session field
	return h
}

func fieldMap(s Session) map[string]string {
	f := s.fields()
	out := make(map[string]string, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		out[f[i].(string)] = f[i+1].(string)
	}
	return out
}

func sameFields(t *testing.T, when string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: stored %v, want %v", when, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: stored %v, want %v", when, got, want)
			return
		}
	}
}

// TestApplyStoresExactlyTheSession walks two sessions through fields being
// set, changed and cleared: one steered by the Store that claimed it, which
// sends only differences, the other by a new Store for every Apply, which
// sends the whole session. Either way the hash holds exactly the session.
func TestApplyStoresExactlyTheSession(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	steps := []func(s *Session){
		func(s *Session) { s.State, s.Attempts, s.Node, s.CalleeLeg = DialingCallee, 1, "fs1", "leg-b-1" },
		func(s *Session) { s.State, s.AnsweredAt, s.CallerLeg = CalleeHold, t0.Add(time.Second), "leg-a-1" },
		func(s *Session) { s.CallbackURL = "https://hooks.example.com/bgcall?a=1" },
		func(s *Session) { s.CallbackURL = "" },
		func(s *Session) {
			s.State, s.CallerLeg, s.CalleeLeg, s.Node, s.AnsweredAt = DialingCallee, "", "leg-b-2", "fs2", time.Time{}
		},
		func(s *Session) { s.State, s.DueAt, s.Policy = Waiting, t0.Add(time.Minute), `{"max_attempts":3}` },
	}
	for _, remembered := range []bool{true, false} {
		sess := claimOne(t, st, fmt.Sprint(remembered), "1002", "r1")
		for i, change := range steps {
			via := st
			if !remembered {
				via = New(c, st.Options())
			}
			if _, ok := via.views.get(sess.ID, sess.Version); ok != remembered {
				t.Fatalf("remembered=%v step %d: view remembered %v", remembered, i, ok)
			}
			next := sess
			change(&next)
			got, err := via.Apply(ctx, next, sess.Version, []Entry{{Kind: Kind(fmt.Sprintf("step %d", i))}}, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			sameFields(t, fmt.Sprintf("remembered=%v step %d", remembered, i), storedFields(t, c, st, sess.ID), fieldMap(got))
			if stored, err := st.Get(ctx, sess.ID); err != nil || stored != got {
				t.Fatalf("step %d: stored %+v, %v\nreturned %+v", i, stored, err, got)
			}
			sess = got
		}
		if _, ok := st.views.get(sess.ID, sess.Version); ok {
			t.Error("a waiting session is still remembered")
		}
	}
}

// TestApplyToAnotherSessionUnderTheSameID makes a remembered view outlive
// its session: a new session with the same id, claimed by a replica with
// the same name, reaches the same version. Apply must not take the view's
// differences to it.
func TestApplyToAnotherSessionUnderTheSameID(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	first := mustCreate(t, st, Session{ID: "same", Caller: "1001", Callee: "1002", Source: "api", Policy: `{"a":1}`}, t0)
	claimed, _, err := st.ClaimDue(ctx, "r1", t0, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	old := claimed[0]
	if err := c.Del(ctx, st.sessionKey(first.ID), st.timelineKey(first.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ZRem(ctx, st.indexKey(), first.ID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, st.callerLiveKey("1001"), st.calleeLiveKey("1002")).Err(); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Minute)
	mustCreate(t, st, Session{ID: "same", Caller: "1001", Callee: "1002", Source: "cli"}, later)
	other := New(c, st.Options())
	again, _, err := other.ClaimDue(ctx, "r1", later, 1)
	if err != nil || len(again) != 1 || again[0].Version != old.Version || again[0].Fence != old.Fence {
		t.Fatalf("claim of the new session = %+v, %v; want version %d fence %d", again, err, old.Version, old.Fence)
	}
	if _, ok := st.views.get(old.ID, old.Version); !ok {
		t.Fatal("the old view is not remembered; the test proves nothing")
	}
	next := old
	next.State = DialingCallee
	got, err := st.Apply(ctx, next, old.Version, nil, later)
	if err != nil {
		t.Fatal(err)
	}
	sameFields(t, "after Apply", storedFields(t, c, st, old.ID), fieldMap(got))
}

func TestApplyFencedWithAViewWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	sess := claimOne(t, st, "1001", "1002", "r1")
	before := snapshot(t, st, c)
	wrongFence := sess
	wrongFence.State, wrongFence.Fence = DialingCallee, 7
	if _, err := st.Apply(ctx, wrongFence, sess.Version, []Entry{{Kind: "x"}}, t0); !errors.Is(err, ErrFenced) {
		t.Fatalf("Apply with a wrong fence = %v, want ErrFenced", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))
	if _, ok := st.views.get(sess.ID, sess.Version); ok {
		t.Error("a refused Apply left its view remembered")
	}
}

func TestViewsAreBounded(t *testing.T) {
	v := newViews()
	for i := range maxViews + 10 {
		v.put(Session{ID: fmt.Sprint(i), State: DialingCallee, Owner: "r1", Version: 2})
	}
	if len(v.m) != maxViews {
		t.Errorf("%d views remembered, want %d", len(v.m), maxViews)
	}
	if _, ok := v.get(fmt.Sprint(maxViews+9), 2); !ok {
		t.Error("the latest view was dropped")
	}
	v.put(Session{ID: "w", State: Waiting})
	v.put(Session{ID: "f", State: Finished, Owner: "r1"})
	if _, ok := v.m["w"]; ok {
		t.Error("an unowned waiting session was remembered")
	}
	if _, ok := v.m["f"]; ok {
		t.Error("a finished session was remembered")
	}
}

// TestChangesCoverEveryField changes and clears every stored field of a
// session in turn, and checks that changes finds exactly what fields
// writes differently: a field added to Session and fields but not to
// changes would otherwise go unwritten whenever Apply sends differences.
func TestChangesCoverEveryField(t *testing.T) {
	var base Session
	bv := reflect.ValueOf(&base).Elem()
	typ := bv.Type()
	for i := range typ.NumField() {
		setField(t, bv.Field(i), i)
	}
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if name == "ID" || name == "Quarantine" { // the key; set by the store, never by Apply
			continue
		}
		for _, zero := range []bool{false, true} {
			next := base
			f := reflect.ValueOf(&next).Elem().Field(i)
			if zero {
				f.SetZero()
			} else {
				setField(t, f, i+100)
			}
			was, now := fieldMap(base), fieldMap(next)
			wantSet, wantDel := map[string]string{}, map[string]bool{}
			for k, v := range now {
				if was[k] != v {
					wantSet[k] = v
				}
			}
			for k := range was {
				if _, ok := now[k]; !ok {
					wantDel[k] = true
				}
			}
			if len(wantSet)+len(wantDel) != 1 {
				t.Fatalf("%s (zero=%v): fields writes %v and deletes %v, want one field changed", name, zero, wantSet, wantDel)
			}
			set, del := changes(&base, &next)
			gotSet, gotDel := map[string]string{}, map[string]bool{}
			for j := 0; j < len(set); j += 2 {
				gotSet[set[j].(string)] = set[j+1].(string)
			}
			for _, d := range del {
				gotDel[d.(string)] = true
			}
			if !reflect.DeepEqual(gotSet, wantSet) || !reflect.DeepEqual(gotDel, wantDel) {
				t.Errorf("%s (zero=%v): changes sets %v and deletes %v, want %v and %v", name, zero, gotSet, gotDel, wantSet, wantDel)
			}
		}
	}
}

// setField gives a Session field a non-zero value that depends on seed.
func setField(t *testing.T, f reflect.Value, seed int) {
	t.Helper()
	switch f.Kind() {
	case reflect.String:
		f.SetString(fmt.Sprintf("v%d", seed))
	case reflect.Int, reflect.Int64:
		f.SetInt(int64(seed + 1))
	case reflect.Struct:
		if f.Type() != reflect.TypeOf(time.Time{}) {
			t.Fatalf("unexpected field type %s", f.Type())
		}
		f.Set(reflect.ValueOf(t0.Add(time.Duration(seed+1) * time.Second)))
	default:
		t.Fatalf("unexpected field kind %s", f.Kind())
	}
}
