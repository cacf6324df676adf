package store

import (
	"context"
	"testing"
	"time"
)

// TestTimelineFirstEntryFromHash checks that Create writes no timeline list,
// that Timeline rebuilds the first entry from the hash whether it is the
// default one or not, and that Apply appends after it and keeps it.
func TestTimelineFirstEntryFromHash(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	for _, tc := range []struct {
		name  string
		first Entry
		want  Entry
		e0    bool // stored in the hash as field e0
	}{
		{"default", Entry{Kind: KindCreated, Note: "source api"},
			Entry{At: t0, Kind: KindCreated, State: Waiting, Note: "source api"}, false},
		{"other note", Entry{Kind: KindCreated, Note: "requested by operator"},
			Entry{At: t0, Kind: KindCreated, State: Waiting, Note: "requested by operator"}, true},
		{"earlier, with a leg", Entry{At: t0.Add(-time.Second), Kind: "missed", Leg: "callee", UUID: "u1", Note: "source api"},
			Entry{At: t0.Add(-time.Second), Kind: "missed", State: Waiting, Leg: "callee", UUID: "u1", Note: "source api"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller := "+1" + tc.name[:3]
			sess, created, err := st.Create(ctx, newSession(caller, "+2000"), tc.first, Limits{}, t0)
			if err != nil || !created {
				t.Fatal(created, err)
			}
			if n := c.Exists(ctx, st.timelineKey(sess.ID)).Val(); n != 0 {
				t.Errorf("Create wrote the timeline list")
			}
			if has := c.HExists(ctx, st.sessionKey(sess.ID), fFirst).Val(); has != tc.e0 {
				t.Errorf("hash has e0 = %v, want %v", has, tc.e0)
			}
			tl, err := st.Timeline(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(tl) != 1 || tl[0] != tc.want {
				t.Fatalf("timeline = %+v\nwant [%+v]", tl, tc.want)
			}

			claimed, _, err := st.ClaimDue(ctx, "r1", t0, 1)
			if err != nil || len(claimed) != 1 {
				t.Fatal(claimed, err)
			}
			next := claimed[0]
			next.State = DialingCallee
			dial := Entry{At: t0.Add(time.Second), Kind: KindAttempt, Leg: "callee"}
			if _, err := st.Apply(ctx, next, next.Version, []Entry{dial}, t0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			tl, err = st.Timeline(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(tl) != 2 || tl[0] != tc.want || tl[1] != dial {
				t.Fatalf("timeline after Apply = %+v\nwant [%+v %+v]", tl, tc.want, dial)
			}
		})
	}
}

// TestTimelineOfSessionWithListedFirstEntry reads a session stored the way
// earlier versions stored it, with its first entry in the timeline list.
func TestTimelineOfSessionWithListedFirstEntry(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	sess := newSession("1001", "1002")
	sess.ID, sess.State, sess.Version, sess.CreatedAt, sess.UpdatedAt = "old1", Waiting, 3, t0, t0
	first := Entry{At: t0, Kind: KindCreated, State: Waiting, Note: "source api"}
	later := Entry{At: t0.Add(time.Second), Kind: KindAttempt}
	c.HSet(ctx, st.sessionKey(sess.ID), sess.fields()...)
	c.RPush(ctx, st.timelineKey(sess.ID), encodeEntry(first), encodeEntry(later))
	tl, err := st.Timeline(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl) != 2 || tl[0] != first || tl[1] != later {
		t.Fatalf("timeline = %+v\nwant [%+v %+v]", tl, first, later)
	}
}

// TestApplyWritesOnlyDifferences checks that Apply sets changed fields,
// removes fields that became zero, and leaves e0 and unchanged fields as
// they were.
func TestApplyWritesOnlyDifferences(t *testing.T) {
	ctx := context.Background()
	st, c := newStore(t, Options{})
	mustCreate(t, st, newSession("1001", "1002"), t0)
	claimed, _, err := st.ClaimDue(ctx, "r1", t0, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	next := claimed[0]
	next.State, next.Node, next.CalleeLeg, next.Attempts = DialingCallee, "fs1", "leg-b", 1
	s1, err := st.Apply(ctx, next, next.Version, nil, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	next = s1
	next.State, next.Node, next.CalleeLeg, next.DueAt = Waiting, "", "", t0.Add(time.Minute)
	s2, err := st.Apply(ctx, next, next.Version, nil, t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	h := c.HGetAll(ctx, st.sessionKey(s2.ID)).Val()
	for _, f := range []string{fNode, fCalleeLeg, fOwner} {
		if v, ok := h[f]; ok {
			t.Errorf("field %s = %q, want it removed", f, v)
		}
	}
	if _, ok := h[fFirst]; !ok {
		t.Errorf("Apply removed the first timeline entry (e0): %v", h)
	}
	got, err := st.Get(ctx, s2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != s2 {
		t.Errorf("Get = %+v\nwant %+v", got, s2)
	}
}
