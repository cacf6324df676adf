package api

import (
	"testing"

	"bgcall/store"
)

// TestDescribeCallerBusy: an operator reads that A was on another call,
// and which, not the timeline's own prefix twice.
func TestDescribeCallerBusy(t *testing.T) {
	s := Session{Caller: "1001", Callee: "1002"}
	e := Entry{Kind: store.KindCallerBusy, Node: "fs1",
		Note: "caller busy: channel sofia/internal/1001@10.0.0.1 (c0c0c0c0-0000-4000-8000-00000000000c) is up; B holds, A asked again every 2s until 12:00:20"}
	want := "A is on another call on fs1: channel sofia/internal/1001@10.0.0.1 (c0c0c0c0-0000-4000-8000-00000000000c) is up; B holds, A asked again every 2s until 12:00:20"
	if got := Describe(s, e); got != want {
		t.Errorf("Describe = %q\nwant %q", got, want)
	}
}
