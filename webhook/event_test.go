package webhook

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"bgcall/store"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func TestEventsOfTransitions(t *testing.T) {
	s := store.Session{ID: "s1", Caller: "1001", Callee: "1002", Version: 4, State: store.Waiting, Attempts: 1, UpdatedAt: t0}
	evs := Events(s, []store.Entry{
		{At: t0, Kind: store.KindAttemptEnded, State: store.Waiting, Leg: "callee", Attempt: 1, Node: "fs1", UUID: "b-1", Cause: "USER_BUSY"},
		{At: t0, Kind: store.KindScheduled, State: store.Waiting, Attempt: 2, Note: "retry in 2m"},
	})
	if len(evs) != 1 {
		t.Fatalf("events %+v; want one attempt_ended (scheduled makes none)", evs)
	}
	e := evs[0]
	want := Event{ID: "s1.4.attempt_ended", Type: AttemptEnded, SessionID: "s1", Sequence: 4, At: t0, Caller: "1001", Callee: "1002",
		State: "waiting", Attempt: 1, Node: "fs1", Leg: "callee", LegUUID: "b-1",
		Cause: &Cause{Name: "USER_BUSY", Code: 17, Class: "busy", Text: "B was busy"}}
	if b, w := mustJSON(t, e), mustJSON(t, want); b != w {
		t.Errorf("attempt_ended\n got %s\nwant %s", b, w)
	}

	// The claim's attempt entry names nothing: the session holds the leg.
	s = store.Session{ID: "s1", Caller: "1001", Callee: "1002", Version: 5, State: store.DialingCallee, Attempts: 2, Node: "fs2", CalleeLeg: "b-2", UpdatedAt: t0}
	e = Events(s, []store.Entry{{Kind: store.KindAttempt}})[0]
	if e.Type != AttemptStarted || e.Attempt != 2 || e.Node != "fs2" || e.LegUUID != "b-2" || e.Leg != "callee" || !e.At.Equal(t0) {
		t.Errorf("attempt_started %+v", e)
	}

	s = store.Session{ID: "s1", Caller: "1001", Callee: "1002", Version: 9, State: store.Finished, Outcome: store.CallerMissed, Cause: "NO_ANSWER", Attempts: 2}
	evs = Events(s, []store.Entry{
		{At: t0, Kind: store.KindCallerEnded, Leg: "caller", UUID: "a-1", Cause: "NO_ANSWER"},
		{At: t0, Kind: store.KindFinished, Note: "caller_missed: A did not answer", Cause: "NO_ANSWER"},
	})
	if len(evs) != 1 || evs[0].Type != Finished || evs[0].Outcome != "caller_missed" || evs[0].Reason != "A did not answer" ||
		evs[0].Cause == nil || evs[0].Cause.Text != "A did not answer" || evs[0].ID != "s1.9.finished" {
		t.Errorf("finished %+v", evs)
	}

	var got []Type
	s.Version = 3
	for _, k := range []store.Kind{store.KindCreated, store.KindAttempt, store.KindCalleeAnswered, store.KindCallerDialing, store.KindBridged, store.KindDialNow, store.KindCancelled} {
		for _, e := range Events(s, []store.Entry{{Kind: k}}) {
			got = append(got, e.Type)
		}
	}
	if want := []Type{Created, AttemptStarted, CalleeAnswered, CallerRinging, Bridged}; !slices.Equal(got, want) {
		t.Errorf("types %v, want %v", got, want)
	}
}

// TestRecordKeepsTheBody: every try and every replica sends the same bytes
// under the same key.
func TestRecordKeepsTheBody(t *testing.T) {
	s := store.Session{ID: "s1", Caller: "1001", Callee: "1002", Version: 1, State: store.Waiting, UpdatedAt: t0}
	evs := Events(s, []store.Entry{{At: t0, Kind: store.KindCreated}})
	recs, err := encodeRecords(evs, []string{"https://a.example.com/", "https://b.example.com/"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("records %v, %v", recs, err)
	}
	body, _ := json.Marshal(evs[0])
	for i, r := range recs {
		rec, err := decodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Body) != string(body) || rec.Key != "s1.1.created" || rec.Type != Created || rec.Line != "s1" {
			t.Errorf("record %d = %+v; body %s", i, rec, body)
		}
	}
	for _, bad := range []string{"", "{}", `{"u":"x","k":"y"}`, "not json"} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%q) took it", bad)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInsertKeepsSequenceBehindTheHead(t *testing.T) {
	ev := func(seq int64) *held { return &held{rec: record{Seq: seq}} }
	var line []*held
	for _, s := range []int64{5, 3, 4, 1, 6} {
		line = insert(line, ev(s))
	}
	var got []int64
	for _, e := range line {
		got = append(got, e.rec.Seq)
	}
	// 5 was the head (maybe being tried) when the others came.
	if want := []int64{5, 1, 3, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("line %v, want %v", got, want)
	}
}
