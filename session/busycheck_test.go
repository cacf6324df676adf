package session

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/store"
)

// scriptedSwitch answers api commands from a script: the reply of the
// first entry whose key the command starts with.
type scriptedSwitch struct {
	mu     sync.Mutex
	script [][2]string
	asked  []string
}

func (s *scriptedSwitch) API(_ context.Context, _, cmd string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, cmd)
	for _, e := range s.script {
		if strings.HasPrefix(cmd, e[0]) {
			return freeswitch.ParseResult(e[1])
		}
	}
	return freeswitch.ParseResult("-ERR no script for " + cmd + "\n")
}

func (s *scriptedSwitch) Events() <-chan esl.Event                            { return nil }
func (s *scriptedSwitch) BGAPI(context.Context, string, string, string) error { return nil }
func (s *scriptedSwitch) Pick() (string, error)                               { return "fs1", nil }
func (s *scriptedSwitch) Nodes() []string                                     { return []string{"fs1"} }

// TestCallerBusyCheck: what each answer of FreeSWITCH makes of A: busy only
// for a channel that is A's own and no background call's.
func TestCallerBusyCheck(t *testing.T) {
	const (
		other    = "c0c0c0c0-0000-4000-8000-00000000000c"
		a        = "1001"
		phoneRow = `{"uuid":"` + other + `","name":"sofia/internal/1001@10.0.0.1","cid_num":"2000"}`
	)
	table := func(rows ...string) string {
		return `{"row_count":` + string(rune('0'+len(rows))) + `,"rows":[` + strings.Join(rows, ",") + `]}`
	}
	channels := CallerBusy{Check: BusyChannels, Wait: time.Second, Interval: time.Second}
	command := CallerBusy{Check: BusyCommand, Command: "hash select/busy/{number}", Wait: time.Second, Interval: time.Second}
	for _, c := range []struct {
		name    string
		busy    CallerBusy
		script  [][2]string
		want    bool
		wantErr bool
		why     string
	}{
		{"nothing up", channels, [][2]string{{"show channels like 1001 as json", `{"row_count": 0}`}}, false, false, ""},
		{"this session's B leg, with A's caller ID", channels, [][2]string{
			{"show channels", table(`{"uuid":"` + legB + `","name":"sofia/internal/1002@h","cid_num":"1001"}`)}}, false, false, ""},
		{"a longer number, a uuid holding the digits", channels, [][2]string{
			{"show channels", table(`{"uuid":"`+other+`","name":"sofia/internal/21001@h","cid_num":"2000"}`,
				`{"uuid":"11001aaa-0000-4000-8000-00000000000c","name":"sofia/internal/3000@h","cid_num":"3001"}`)}}, false, false, ""},
		{"B's leg of A's other background call", channels, [][2]string{
			{"show channels", table(`{"uuid":"` + other + `","name":"sofia/internal/1003@h","cid_num":"1001"}`)},
			{"uuid_getvar " + other + " bgcall_session", "s2"}, {"uuid_getvar " + other + " bgcall_leg", "callee"}}, false, false, ""},
		{"a far half of this session's leg", channels, [][2]string{
			{"show channels", table(`{"uuid":"` + other + `","name":"loopback/91002-b","cid_num":"1001"}`)},
			{"uuid_getvar " + other + " bgcall_session", "s1"}}, false, false, ""},
		{"A's leg of another background call, talking", channels, [][2]string{
			{"show channels", table(`{"uuid":"` + other + `","name":"sofia/internal/1001@h","cid_num":"1009"}`)},
			{"uuid_getvar " + other + " bgcall_session", "s2"}, {"uuid_getvar " + other + " bgcall_leg", "caller"}}, true, false, "sofia/internal/1001@h"},
		{"A's phone", channels, [][2]string{{"show channels", table(phoneRow)}, {"uuid_getvar", freeswitch.Undefined}}, true, false, other},
		{"A's phone, gone meanwhile", channels, [][2]string{{"show channels", table(phoneRow)}, {"uuid_getvar", "-ERR No such channel!\n"}}, false, false, ""},
		{"a reply that is no table", channels, [][2]string{{"show channels", "\n0 total.\n"}}, false, true, ""},
		{"the node cannot be asked", channels, [][2]string{{"show channels", "-ERR no reply\n"}}, false, true, ""},
		{"command: true", command, [][2]string{{"hash select/busy/1001", "true\n"}}, true, false, `answered "true"`},
		{"command: a count", command, [][2]string{{"hash select/busy/1001", "2"}}, true, false, ""},
		{"command: nothing", command, [][2]string{{"hash select/busy/1001", ""}}, false, false, ""},
		{"command: an error", command, [][2]string{{"hash select/busy/1001", "-ERR no such hash\n"}}, false, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			sw := &scriptedSwitch{script: c.script}
			st := newFakeStore(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC))
			e, err := New(Options{Store: st, Pool: sw, Replica: "r1", Workers: 1, CallerBusy: c.busy,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			s := sessionIn(store.CalleeHold, st.now)
			s.CallerLeg = ""
			busy, why, err := e.callerBusy(context.Background(), "fs1", s)
			if busy != c.want || (err != nil) != c.wantErr || !strings.Contains(why, c.why) {
				t.Errorf("busy %v (%q), err %v; want busy %v, an error %v\nasked %q", busy, why, err, c.want, c.wantErr, sw.asked)
			}
		})
	}
}
