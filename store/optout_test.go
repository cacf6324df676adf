package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestOptOutEveryCallerAndOneCaller(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()

	if _, ok, err := st.OptedOut(ctx, "2002", "2001"); err != nil || ok {
		t.Fatalf("before any opt-out: opted out %v, %v", ok, err)
	}
	got, added, err := st.AddOptOut(ctx, OptOut{Callee: "2002", Caller: "2001", By: "phone"}, t0)
	if err != nil || !added {
		t.Fatalf("add per-caller opt-out: added %v, %v", added, err)
	}
	if want := (OptOut{Callee: "2002", Caller: "2001", By: "phone", Since: t0}); got != want {
		t.Errorf("added %+v, want %+v", got, want)
	}
	if o, ok, err := st.OptedOut(ctx, "2002", "2001"); err != nil || !ok || o.Caller != "2001" {
		t.Errorf("2001→2002 after the per-caller opt-out: %+v %v %v; want opted out from 2001", o, ok, err)
	}
	if _, ok, err := st.OptedOut(ctx, "2002", "2003"); err != nil || ok {
		t.Errorf("2003→2002: opted out %v, %v; the opt-out names 2001 only", ok, err)
	}

	if _, added, err := st.AddOptOut(ctx, OptOut{Callee: "2002", By: "api"}, t0.Add(time.Minute)); err != nil || !added {
		t.Fatalf("add opt-out from every caller: added %v, %v", added, err)
	}
	for _, caller := range []string{"2001", "2003", ""} {
		o, ok, err := st.OptedOut(ctx, "2002", caller)
		if err != nil || !ok || o.Caller != "" || o.By != "api" {
			t.Errorf("caller %q→2002: %+v %v %v; want the opt-out from every caller", caller, o, ok, err)
		}
	}

	list, err := st.OptOuts(ctx, "2002")
	if err != nil {
		t.Fatal(err)
	}
	want := []OptOut{
		{Callee: "2002", By: "api", Since: t0.Add(time.Minute)},
		{Callee: "2002", Caller: "2001", By: "phone", Since: t0},
	}
	if len(list) != len(want) || list[0] != want[0] || list[1] != want[1] {
		t.Errorf("opt-outs of 2002: %+v, want %+v", list, want)
	}
	if n, err := st.OptOutCount(ctx); err != nil || n != 1 {
		t.Errorf("count: %d, %v; want 1 callee", n, err)
	}

	if removed, err := st.RemoveOptOut(ctx, "2002", ""); err != nil || !removed {
		t.Fatalf("remove the opt-out from every caller: %v, %v", removed, err)
	}
	if _, ok, _ := st.OptedOut(ctx, "2002", "2003"); ok {
		t.Error("2003→2002 still opted out after the opt-out from every caller was removed")
	}
	if _, ok, _ := st.OptedOut(ctx, "2002", "2001"); !ok {
		t.Error("2001→2002 no longer opted out; removing the opt-out from every caller must keep the per-caller one")
	}
	if removed, err := st.RemoveOptOut(ctx, "2002", "2001"); err != nil || !removed {
		t.Fatalf("remove the per-caller opt-out: %v, %v", removed, err)
	}
	if n, err := st.OptOutCount(ctx); err != nil || n != 0 {
		t.Errorf("count after the last opt-out was removed: %d, %v; want 0", n, err)
	}
	if removed, err := st.RemoveOptOut(ctx, "2002", "2001"); err != nil || removed {
		t.Errorf("removing it again: removed %v, %v; want false, nil", removed, err)
	}
}

// TestAddOptOutIsIdempotent: a second add keeps the first one's time and
// author and says it added nothing.
func TestAddOptOutIsIdempotent(t *testing.T) {
	st, c := newStore(t, Options{})
	ctx := context.Background()
	first, _, err := st.AddOptOut(ctx, OptOut{Callee: "2002", By: "phone"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, st, c)
	got, added, err := st.AddOptOut(ctx, OptOut{Callee: "2002", By: "api"}, t0.Add(time.Hour))
	if err != nil || added {
		t.Fatalf("second add: added %v, %v; want false, nil", added, err)
	}
	if got != first {
		t.Errorf("second add returned %+v, want the first %+v", got, first)
	}
	sameSnapshot(t, before, snapshot(t, st, c))
}

func TestRemoveOptOutsOfACallee(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()
	for _, o := range []OptOut{{Callee: "2002"}, {Callee: "2002", Caller: "2001"}, {Callee: "2003", Caller: "2001"}} {
		if _, _, err := st.AddOptOut(ctx, o, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.RemoveOptOuts(ctx, "2002"); err != nil || n != 2 {
		t.Fatalf("remove all of 2002's: %d, %v; want 2", n, err)
	}
	if list, err := st.OptOuts(ctx, "2002"); err != nil || len(list) != 0 {
		t.Errorf("2002's opt-outs after removing them all: %+v, %v", list, err)
	}
	if _, ok, _ := st.OptedOut(ctx, "2003", "2001"); !ok {
		t.Error("2003's opt-out went with 2002's")
	}
	if n, err := st.OptOutCount(ctx); err != nil || n != 1 {
		t.Errorf("count: %d, %v; want 1 (2003)", n, err)
	}
}

// TestRefusedOptOutWritesNothing: bad numbers are refused with ErrInvalid
// before anything reaches Redis.
func TestRefusedOptOutWritesNothing(t *testing.T) {
	st, c := newStore(t, Options{})
	ctx := context.Background()
	if _, _, err := st.AddOptOut(ctx, OptOut{Callee: "2002", Caller: "2001"}, t0); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, st, c)
	long := string(make([]byte, 129))
	for _, o := range []OptOut{
		{Callee: ""},
		{Callee: "20 02"},
		{Callee: "2002", Caller: "20|01"},
		{Callee: "2002", Caller: "*"},
		{Callee: "2002", Caller: "2002"},
		{Callee: "2002", By: long},
	} {
		if _, _, err := st.AddOptOut(ctx, o, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("add %+v: %v, want ErrInvalid", o, err)
		}
		if o.By != "" {
			continue
		}
		if _, err := st.RemoveOptOut(ctx, o.Callee, o.Caller); !errors.Is(err, ErrInvalid) {
			t.Errorf("remove %+v: %v, want ErrInvalid", o, err)
		}
		if _, _, err := st.OptedOut(ctx, o.Callee, o.Caller); !errors.Is(err, ErrInvalid) {
			t.Errorf("check %+v: %v, want ErrInvalid", o, err)
		}
	}
	if _, err := st.RemoveOptOuts(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("remove all of no callee: %v, want ErrInvalid", err)
	}
	if _, err := st.OptOuts(ctx, "a b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("list of a bad callee: %v, want ErrInvalid", err)
	}
	sameSnapshot(t, before, snapshot(t, st, c))
}

// TestAddOptOutReplayed: a second run of the same add (a client retrying
// after a lost reply) answers as the first did.
func TestAddOptOutReplayed(t *testing.T) {
	st, _ := newStore(t, Options{})
	ctx := context.Background()
	keys := []string{st.optOutKey("2002"), st.optOutsKey()}
	for run := range 2 {
		res, err := addOptOutScript.Run(ctx, st.rdb, keys, "2001", "1000|phone", "2002").Slice()
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := res[0].(int64); code(c) != codeDone {
			t.Errorf("run %d: reply %v, want DONE", run+1, res)
		}
	}
}

// BenchmarkOptedOut measures the check every new session makes (twice,
// before and after it is stored): one HMGET of the callee's opt-outs,
// against callees of whom one in ten opted out of someone.
func BenchmarkOptedOut(b *testing.B) {
	ctx := context.Background()
	st, _ := newStore(b, Options{})
	for n := range 1000 {
		if n%10 == 0 {
			if _, _, err := st.AddOptOut(ctx, OptOut{Callee: fmt.Sprintf("2%09d", n), Caller: "1000000000"}, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := i.Add(1)
			if _, _, err := st.OptedOut(ctx, fmt.Sprintf("2%09d", n%1000), fmt.Sprintf("1%09d", n%7)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
