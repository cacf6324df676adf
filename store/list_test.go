package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestListPagesNewestFirstWithFilters(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t, Options{})
	// 25 sessions; every 5 share a creation millisecond so paging must break
	// ties; callers 100..104 round robin, callee unique.
	var all []Session
	for i := range 25 {
		s := newSession(fmt.Sprintf("10%d", i%5), fmt.Sprintf("2%03d", i))
		all = append(all, mustCreate(t, st, s, t0.Add(time.Duration(i/5)*time.Second)))
	}
	// Finish a few so State filters have something to tell apart.
	claimed, _, err := st.ClaimDue(ctx, "r1", t0.Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	finished := map[string]bool{}
	for i, s := range claimed {
		if i%3 == 0 {
			s.State = Finished
			if _, err := st.Apply(ctx, s, s.Version, nil, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			finished[s.ID] = true
		}
	}

	page := func(f Filter) []Session {
		t.Helper()
		var out []Session
		for pages := 0; ; pages++ {
			got, cursor, err := st.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if lim := f.Limit; lim > 0 && len(got) > lim || len(got) > defaultListLimit {
				t.Fatalf("page of %d, limit %d", len(got), f.Limit)
			}
			out = append(out, got...)
			if cursor == "" {
				return out
			}
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			f.Cursor = cursor
		}
	}
	check := func(name string, f Filter, want func(Session) bool) {
		t.Helper()
		got := page(f)
		var expect []string
		for i := len(all) - 1; i >= 0; i-- {
			if want(all[i]) {
				expect = append(expect, all[i].ID)
			}
		}
		seen := map[string]bool{}
		for i, s := range got {
			if seen[s.ID] {
				t.Errorf("%s: %s listed twice", name, s.ID)
			}
			seen[s.ID] = true
			if i > 0 && s.CreatedAt.After(got[i-1].CreatedAt) {
				t.Errorf("%s: not newest first at %d", name, i)
			}
			if !want(s) {
				t.Errorf("%s: %+v does not match", name, s)
			}
		}
		if len(got) != len(expect) {
			t.Errorf("%s: listed %d sessions, want %d", name, len(got), len(expect))
		}
	}
	isFinished := func(s Session) bool { return finished[s.ID] }
	check("all, pages of 4", Filter{Limit: 4}, func(Session) bool { return true })
	check("all, pages of 1", Filter{Limit: 1}, func(Session) bool { return true })
	check("all, one page", Filter{}, func(Session) bool { return true })
	check("caller", Filter{Caller: "102", Limit: 2}, func(s Session) bool { return s.Caller == "102" })
	check("callee", Filter{Callee: "2007"}, func(s Session) bool { return s.Callee == "2007" })
	check("caller and callee", Filter{Caller: "102", Callee: "2007"}, func(s Session) bool { return s.Caller == "102" && s.Callee == "2007" })
	check("finished", Filter{State: Finished, Limit: 3}, isFinished)
	check("waiting of a caller", Filter{Caller: "101", State: Waiting, Limit: 2}, func(s Session) bool { return s.Caller == "101" && !isFinished(s) })

	if _, _, err := st.List(ctx, Filter{Cursor: "garbage"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor: %v, want ErrInvalid", err)
	}
}
