package fsdiff

import (
	"strings"
	"testing"
)

// recorded is a flow FreeSWITCH ran twice: A's job and B's bridge raced,
// and A's loopback "-b" channel fired events of its own.
var recorded = FlowResult{Name: "race", Runs: 2, Outcomes: []Outcome{
	{Count: 1, Replies: []string{"+OK A\n", "show: row_count=2 A:CS_EXECUTE A.b:CS_EXECUTE"},
		Events: []string{"CHANNEL_ANSWER[A]", "CHANNEL_ANSWER[A.b]", "BACKGROUND_JOB[A](+OK A)", "CHANNEL_BRIDGE[B](B,A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"}},
	{Count: 1, Replies: []string{"+OK A\n", "show: row_count=2 A:CS_EXECUTE A.b:CS_EXECUTE"},
		Events: []string{"CHANNEL_ANSWER[A]", "CHANNEL_BRIDGE[B](B,A)", "BACKGROUND_JOB[A](+OK A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"}},
}}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replies []string
		events  []string
		wantErr string // "" for none
	}{
		{"either order of a race", []string{"+OK A\n", "show: row_count=1 A:CS_EXECUTE"},
			[]string{"CHANNEL_ANSWER[A]", "CHANNEL_BRIDGE[B](B,A)", "BACKGROUND_JOB[A](+OK A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"}, ""},
		{"an order FreeSWITCH never showed", []string{"+OK A\n", "show: row_count=1 A:CS_EXECUTE"},
			[]string{"CHANNEL_BRIDGE[B](B,A)", "CHANNEL_ANSWER[A]", "BACKGROUND_JOB[A](+OK A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"},
			"CHANNEL_BRIDGE[B](B,A) came before CHANNEL_ANSWER[A]"},
		{"a leg's own events out of order", []string{"+OK A\n", "show: row_count=1 A:CS_EXECUTE"},
			[]string{"BACKGROUND_JOB[A](+OK A)", "CHANNEL_ANSWER[A]", "CHANNEL_BRIDGE[B](B,A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"},
			"no run on FreeSWITCH"},
		{"another job result", []string{"+OK A\n", "show: row_count=1 A:CS_EXECUTE"},
			[]string{"CHANNEL_ANSWER[A]", "BACKGROUND_JOB[A](-ERR ORIGINATOR_CANCEL)", "CHANNEL_BRIDGE[B](B,A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"},
			"no run on FreeSWITCH"},
		{"another reply", []string{"-ERR Invalid uuid\n", "show: row_count=1 A:CS_EXECUTE"},
			[]string{"CHANNEL_ANSWER[A]", "BACKGROUND_JOB[A](+OK A)", "CHANNEL_BRIDGE[B](B,A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)"},
			"no run on FreeSWITCH"},
		{"an event too many", []string{"+OK A\n", "show: row_count=1 A:CS_EXECUTE"},
			[]string{"CHANNEL_ANSWER[A]", "BACKGROUND_JOB[A](+OK A)", "CHANNEL_BRIDGE[B](B,A)", "CHANNEL_HANGUP[A](NORMAL_CLEARING)", "CHANNEL_HANGUP[B](NORMAL_CLEARING)"},
			"no run on FreeSWITCH"},
	} {
		err := Compare(recorded, Outcome{Replies: tc.replies, Events: tc.events})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestFlowResultCountsOutcomes(t *testing.T) {
	var r FlowResult
	a := Outcome{Replies: []string{"+OK\n"}, Events: []string{"CHANNEL_ANSWER[A]"}}
	b := Outcome{Replies: []string{"+OK\n"}, Events: []string{"CHANNEL_HANGUP[A](NO_ANSWER)"}}
	r.Add(a)
	r.Add(b)
	r.Add(a)
	if r.Runs != 3 || len(r.Outcomes) != 2 || r.Outcomes[0].Count != 2 || r.Outcomes[1].Count != 1 {
		t.Errorf("got %+v", r)
	}
	if f := (Flow{Seek: "CHANNEL_HANGUP[A]"}); !r.Sought(f) {
		t.Error("a recorded hangup not found")
	}
	if f := (Flow{Seek: "CHANNEL_BRIDGE"}); r.Sought(f) {
		t.Error("a bridge found that no run had")
	}
}
