package fssim

import (
	"context"
	"strings"
	"testing"
	"time"

	"bgcall/internal/uuid"
)

func (c *rawClient) api(cmd string) string {
	c.t.Helper()
	f := c.reply("api " + cmd)
	if f.ctype() != "api/response" {
		c.t.Fatalf("api %s: got %q", cmd, f.raw)
	}
	return f.body
}

// bgapi sends a bgapi command and returns its job result.
func (c *rawClient) bgapi(cmd string) string {
	c.t.Helper()
	job := uuid.New()
	f := c.reply("bgapi " + cmd + "\nJob-UUID: " + job)
	if f.headers["Reply-Text"] != "+OK Job-UUID: "+job {
		c.t.Fatalf("bgapi %s: %q", cmd, f.raw)
	}
	for {
		e := c.waitEvent("BACKGROUND_JOB", "")
		if e["Job-UUID"] == job {
			return e["_body"]
		}
	}
}

func listening(t *testing.T, n *Node) *rawClient {
	t.Helper()
	c := authedRaw(t, n)
	if f := c.reply("event plain ALL"); f.headers["Reply-Text"] != "+OK event listener enabled plain" {
		t.Fatalf("event plain ALL: %q", f.raw)
	}
	return c
}

func TestAttemptSequence(t *testing.T) {
	n := StartT(t, fastOptions())
	// The talk time outlasts OriginateReturn: a far end that hangs up before
	// the originate returned fails it, as on FreeSWITCH.
	n.SetSubscriber("1002", Behavior{Action: NoAnswer}, Behavior{Action: Busy}, Behavior{Action: Answer, Ring: 10 * time.Millisecond, Talk: 60 * time.Millisecond})
	c := listening(t, n)
	for i, want := range []string{"-ERR NO_ANSWER\n", "-ERR USER_BUSY\n", "+OK "} {
		u := uuid.New()
		got := c.bgapi("originate {origination_uuid=" + u + ",originate_timeout=1,bgcall_session=s1}user/1002@example.com &park()")
		if !strings.HasPrefix(got, want) {
			t.Fatalf("attempt %d: %q, want %q", i+1, got, want)
		}
	}
	// The answered attempt's far end hangs up after its talk time.
	recs := n.Originates()
	last := recs[len(recs)-1]
	e := c.waitEvent("CHANNEL_HANGUP", last.UUID)
	if e["Hangup-Cause"] != "NORMAL_CLEARING" || e["Answer-State"] != "hangup" {
		t.Errorf("talk-time hangup: cause %q state %q", e["Hangup-Cause"], e["Answer-State"])
	}
	c.waitEvent("CHANNEL_DESTROY", last.UUID)
	recs = n.Originates()
	last = recs[len(recs)-1]
	if n.Attempts("1002") != 3 || last.Vars["bgcall_session"] != "s1" || last.DialString != "user/1002@example.com" ||
		last.Number != "1002" || last.Answered.IsZero() || last.Ended.IsZero() || last.Cause != "NORMAL_CLEARING" {
		t.Errorf("record: %+v", last)
	}
	if recs[0].Result != "-ERR NO_ANSWER" || recs[0].Cause != "NO_ANSWER" {
		t.Errorf("first attempt record: %+v", recs[0])
	}
	if got := n.MaxConcurrent("1002"); got != 1 {
		t.Errorf("max concurrent = %d", got)
	}
}

func TestEarlyMedia(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("3000", Behavior{Action: EarlyMedia, Ring: 5 * time.Millisecond})
	c := listening(t, n)
	u := uuid.New()
	if got := c.api("originate {origination_uuid=" + u + "}user/3000 &park()"); got != "+OK "+u+"\n" {
		t.Fatalf("early media originate = %q", got)
	}
	pm := c.waitEvent("CHANNEL_PROGRESS_MEDIA", u)
	park := c.waitEvent("CHANNEL_PARK", u)
	if pm["Answer-State"] != "early" || park["Answer-State"] != "early" || park["Channel-Call-State"] != "EARLY" {
		t.Errorf("early media states: %q %q %q", pm["Answer-State"], park["Answer-State"], park["Channel-Call-State"])
	}
	c.api("uuid_kill " + u)
	// With ignore_early_media the originate waits for an answer that never comes.
	if got := c.api("originate {ignore_early_media=true,originate_timeout=1}user/3000 &park()"); got != "-ERR NO_ANSWER\n" {
		t.Errorf("ignore_early_media originate = %q", got)
	}
}

func TestFarEndHangupDuringPromptAndDTMF(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetPrompt("/hold.wav", time.Second)
	n.SetSubscriber("4000", Behavior{Action: Answer, HangupOnPrompt: true, PromptHangupAfter: 5 * time.Millisecond, DTMF: "1#"})
	c := listening(t, n)
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + "}user/4000 &park()")
	if d := c.waitEvent("DTMF", u); d["DTMF-Digit"] != "1" {
		t.Errorf("first DTMF = %q", d["DTMF-Digit"])
	}
	if d := c.waitEvent("DTMF", u); d["DTMF-Digit"] != "#" {
		t.Errorf("second DTMF = %q", d["DTMF-Digit"])
	}
	c.api("uuid_broadcast " + u + " /hold.wav aleg")
	c.waitEvent("PLAYBACK_START", u)
	stop := c.waitEvent("PLAYBACK_STOP", u)
	if stop["Playback-Status"] != "break" {
		t.Errorf("prompt interrupted by hangup: status %q", stop["Playback-Status"])
	}
	if h := c.waitEvent("CHANNEL_HANGUP_COMPLETE", u); h["Hangup-Cause"] != "NORMAL_CLEARING" {
		t.Errorf("cause %q", h["Hangup-Cause"])
	}
}

func TestParkTimeout(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + ",park_timeout=2:ALLOTTED_TIMEOUT}user/1000 &park()")
	start := time.Now()
	h := c.waitEvent("CHANNEL_HANGUP", u)
	if h["Hangup-Cause"] != "ALLOTTED_TIMEOUT" {
		t.Errorf("park_timeout cause %q", h["Hangup-Cause"])
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Errorf("park_timeout of 2 seconds (20ms each) fired after %v", time.Since(start))
	}
}

func TestBridgeKillAndParkAfterBridge(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	a, b := uuid.New(), uuid.New()
	c.api("originate {origination_uuid=" + a + "}user/1001 &park()")
	c.api("originate {origination_uuid=" + b + ",park_after_bridge=true}user/1002 &park()")
	if got := c.api("uuid_bridge " + a + " " + b); got != "+OK "+b+"\n" {
		t.Fatalf("uuid_bridge = %q", got)
	}
	c.waitEvent("CHANNEL_BRIDGE", a)
	calls := c.api("show calls as json")
	if !strings.HasPrefix(calls, `{"row_count":1,"rows":[{"uuid":"`+a+`"`) || !strings.Contains(calls, `"b_uuid":"`+b+`"`) {
		t.Errorf("show calls as json = %q", calls)
	}
	c.api("uuid_kill " + a + " NORMAL_CLEARING")
	c.waitEvent("CHANNEL_UNBRIDGE", a)
	park := c.waitEvent("CHANNEL_PARK", b)
	if park["Answer-State"] != "answered" {
		t.Errorf("B after its partner's hangup: %q", park["Answer-State"])
	}
	if got := c.api("uuid_exists " + b); got != "true" {
		t.Errorf("park_after_bridge leg exists = %q", got)
	}
	if got := c.api("uuid_getvar " + b + " last_bridge_hangup_cause"); got != "NORMAL_CLEARING" {
		t.Errorf("last_bridge_hangup_cause = %q", got)
	}
	c.api("uuid_kill " + b)
	if br := n.Bridges(); len(br) != 1 || br[0].A != a || br[0].B != b {
		t.Errorf("bridges = %+v", br)
	}
}

func TestKillBLegHangsUpA(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	a, b := uuid.New(), uuid.New()
	c.api("originate {origination_uuid=" + a + "}user/1001 &park()")
	c.api("originate {origination_uuid=" + b + "}user/1002 &park()")
	c.api("uuid_bridge " + a + " " + b)
	c.api("uuid_kill " + b + " USER_BUSY")
	if h := c.waitEvent("CHANNEL_HANGUP", a); h["Hangup-Cause"] != "USER_BUSY" {
		t.Errorf("A hung up with %q, want the B leg's cause", h["Hangup-Cause"])
	}
	c.waitEvent("CHANNEL_DESTROY", a)
}

func TestEndlessPlaybackAndBreak(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetPrompt("/moh.wav", 5*time.Millisecond)
	c := listening(t, n)
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	c.api("uuid_broadcast " + u + " endless_playback::/moh.wav aleg")
	for i := 0; i < 3; i++ {
		c.waitEvent("PLAYBACK_START", u)
	}
	if got := c.api("uuid_break " + u + " all"); got != "+OK\n" {
		t.Fatalf("uuid_break = %q", got)
	}
	for {
		stop := c.waitEvent("PLAYBACK_STOP", u)
		if stop["Playback-Status"] == "break" {
			break
		}
	}
	done := c.waitEvent("CHANNEL_EXECUTE_COMPLETE", u)
	if done["Application"] != "endless_playback" {
		t.Errorf("completed application %q", done["Application"])
	}
	if got := c.api("uuid_break " + uuid.New()); got != "-ERR No such channel!\n" {
		t.Errorf("uuid_break of a gone leg = %q", got)
	}
	c.api("uuid_kill " + u)
}

func TestVariables(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	u := uuid.New()
	c.api(`originate {origination_uuid=` + u + `,bgcall_tag=a\,b,quoted='x,y'}[leg_var=1]user/1000 &park()`)
	for name, want := range map[string]string{"bgcall_tag": "a,b", "quoted": "x,y", "leg_var": "1", "nosuch": "_undef_", "origination_uuid": u} {
		if got := c.api("uuid_getvar " + u + " " + name); got != want {
			t.Errorf("uuid_getvar %s = %q, want %q", name, got, want)
		}
	}
	if got := c.api("uuid_setvar " + u + " bgcall_session s 1"); got != "+OK\n" {
		t.Errorf("uuid_setvar = %q", got)
	}
	if got := c.api("uuid_getvar " + u + " bgcall_session"); got != "s 1" {
		t.Errorf("value with a space = %q", got)
	}
	dump := c.api("uuid_dump " + u)
	if !strings.Contains(dump, "\nvariable_bgcall_session: s%201\n") || !strings.HasPrefix(dump, "Event-Name: CHANNEL_DATA\n") {
		t.Errorf("uuid_dump = %.200q", dump)
	}
	if js := c.api("uuid_dump " + u + " json"); !strings.Contains(js, `"variable_bgcall_tag":"a,b"`) {
		t.Errorf("uuid_dump json = %.200q", js)
	}
	c.api("uuid_kill " + u)
}

func TestHupallFilter(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	keep, kill := uuid.New(), uuid.New()
	c.api("originate {origination_uuid=" + keep + ",bgcall_session=other}user/1000 &park()")
	c.api("originate {origination_uuid=" + kill + ",bgcall_session=s9}user/1001 &park()")
	if got := c.api("hupall MANAGER_REQUEST bgcall_session s9"); got != "+OK hangup all channels matching [bgcall_session]=[s9] with cause: MANAGER_REQUEST\n" {
		t.Errorf("hupall = %q", got)
	}
	if h := c.waitEvent("CHANNEL_HANGUP", kill); h["Hangup-Cause"] != "MANAGER_REQUEST" {
		t.Errorf("cause %q", h["Hangup-Cause"])
	}
	if got := c.api("uuid_exists " + keep); got != "true" {
		t.Errorf("unmatched channel killed")
	}
	if got := c.api("hupall"); got != "+OK hangup all channels with cause NORMAL_CLEARING\n" {
		t.Errorf("hupall = %q", got)
	}
	if got := c.api("show channels count"); got != "\n0 total.\n" {
		t.Errorf("after hupall: %q", got)
	}
}

func TestOriginateForms(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	for _, cmd := range []string{
		"originate user/1000 1000 XML default",
		"originate sofia/gateway/gw1/+15551234567 &park()",
		"originate sofia/internal/sip:1003@10.0.0.1:5060 &park()",
		"originate loopback/1004/default &park()",
		"originate {origination_caller_id_number=1001,origination_caller_id_name=Alice}user/1005@example.com &park() XML default",
	} {
		got := c.api(cmd)
		if !strings.HasPrefix(got, "+OK ") {
			t.Errorf("%s: %q", cmd, got)
			continue
		}
		c.api("uuid_kill " + strings.TrimSpace(strings.TrimPrefix(got, "+OK ")))
	}
	nums := []string{}
	for _, o := range n.Originates() {
		nums = append(nums, o.Number)
	}
	if strings.Join(nums, ",") != "1000,+15551234567,1003,1004,1005" {
		t.Errorf("numbers reached: %v", nums)
	}
	if got := c.api("originate"); got != captured(t, "api originate")[len("Content-Type: api/response\nContent-Length: 125\n\n"):] {
		t.Errorf("usage = %q", got)
	}
	if got := c.api("originate bogus/1000 &park()"); got != "-ERR CHAN_NOT_IMPLEMENTED\n" {
		t.Errorf("unknown endpoint = %q", got)
	}
}

func TestDuplicateUUIDAndLimits(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	if got := c.api("originate {origination_uuid=" + u + "}user/1000 &park()"); got != "-ERR DESTINATION_OUT_OF_ORDER\n" {
		t.Errorf("duplicate uuid = %q", got)
	}
	n.SetMaxSessions(1)
	if got := c.api("originate user/1001 &park()"); got != "-ERR DESTINATION_OUT_OF_ORDER\n" {
		t.Errorf("beyond max sessions = %q", got)
	}
	n.SetMaxSessions(0)
	c.api("uuid_kill " + u)
	n.SetSessionsPerSecond(1)
	first := c.api("originate user/1002 &park()")
	if !strings.HasPrefix(first, "+OK ") {
		t.Fatalf("first originate under the rate = %q", first)
	}
	// The second within the same (20ms) second is refused unless the machine
	// is so slow the second has passed; only a refusal is checked for content.
	if got := c.api("originate user/1003 &park()"); got != "-ERR DESTINATION_OUT_OF_ORDER\n" && !strings.HasPrefix(got, "+OK ") {
		t.Errorf("beyond sessions per second = %q", got)
	}
	c.api("hupall")
}

func TestChatBackground(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("1009", Behavior{ChatResult: "Error! Message Not Sent"})
	c := listening(t, n)
	if got := c.bgapi("chat sip|bgcall@example.com|1002@example.com|You missed a call"); got != "Sent" {
		t.Errorf("bgapi chat = %q", got)
	}
	if got := c.api("chat sip|bgcall@example.com|1009@example.com|x"); got != "Error! Message Not Sent" {
		t.Errorf("chat to a failing number = %q", got)
	}
	if got := c.api("chat"); got != "Invalid" {
		t.Errorf("chat without arguments = %q", got)
	}
	ch := n.Chats()
	if len(ch) != 2 || ch[0].To != "1002@example.com" || ch[0].Body != "You missed a call" || ch[0].Result != "Sent" {
		t.Errorf("chats = %+v", ch)
	}
}

func TestHangupAfterBridgeFalse(t *testing.T) {
	n := StartT(t, fastOptions())
	c := listening(t, n)
	a, b := uuid.New(), uuid.New()
	c.api("originate {origination_uuid=" + a + "}user/1001 &park()")
	c.api("originate {origination_uuid=" + b + ",hangup_after_bridge=false}user/1002 &park()")
	c.api("uuid_bridge " + a + " " + b)
	c.api("uuid_kill " + a + " CALL_REJECTED")
	if h := c.waitEvent("CHANNEL_HANGUP", b); h["Hangup-Cause"] != "NORMAL_CLEARING" {
		t.Errorf("hangup_after_bridge=false leg ended %q", h["Hangup-Cause"])
	}
	c.waitEvent("CHANNEL_DESTROY", b)
}

// A uuid_bridge to a leg still ringing is accepted, then takes both legs
// down: the originate fails ORIGINATOR_CANCEL, the ringing leg hangs up
// DESTINATION_OUT_OF_ORDER and the other ORIGINATOR_CANCEL, with no
// CHANNEL_BRIDGE (FreeSWITCH 1.10.12, flows.json "bridge while ringing").
func TestBridgeToARingingLegEndsBoth(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("1099", Behavior{Action: NoAnswer})
	c := listening(t, n)
	a, ringing, job := uuid.New(), uuid.New(), uuid.New()
	c.api("originate {origination_uuid=" + a + "}user/1001 &park()")
	c.reply("bgapi originate {origination_uuid=" + ringing + ",originate_timeout=5}user/1099 &park()\nJob-UUID: " + job)
	c.waitEvent("CHANNEL_PROGRESS", ringing)
	if got := c.api("uuid_bridge " + a + " " + ringing); got != "+OK "+ringing+"\n" {
		t.Errorf("bridge to a leg still ringing = %q", got)
	}
	var order []string
	for len(order) < 3 {
		e := c.next().event()
		switch {
		case e["Event-Name"] == "CHANNEL_BRIDGE":
			t.Fatalf("CHANNEL_BRIDGE for a leg that never answered")
		case e["Event-Name"] == "BACKGROUND_JOB" && e["Job-UUID"] == job:
			order = append(order, "job "+strings.TrimSpace(e["_body"]))
		case e["Event-Name"] == "CHANNEL_HANGUP":
			order = append(order, e["Unique-ID"]+" "+e["Hangup-Cause"])
		}
	}
	want := []string{"job -ERR ORIGINATOR_CANCEL", ringing + " DESTINATION_OUT_OF_ORDER", a + " ORIGINATOR_CANCEL"}
	if strings.Join(order, ", ") != strings.Join(want, ", ") {
		t.Errorf("got %q, want %q", order, want)
	}
	c.waitEvent("CHANNEL_DESTROY", a)
}

// A uuid_bridge on a leg that answered before its originate returned
// bridges it, and the originate's job says what Options.EarlyBridge
// chose, before or after CHANNEL_BRIDGE; the leg lives on either way.
func TestEarlyBridgeOutcomes(t *testing.T) {
	for _, tc := range []struct {
		race EarlyBridge
		want []string
	}{
		{CancelThenBridge, []string{"job -ERR ORIGINATOR_CANCEL", "CHANNEL_BRIDGE"}},
		{BridgeThenCancel, []string{"CHANNEL_BRIDGE", "job -ERR ORIGINATOR_CANCEL"}},
		{ReturnThenBridge, []string{"job +OK", "CHANNEL_PARK", "CHANNEL_BRIDGE"}},
	} {
		opts := fastOptions()
		opts.EarlyBridge = tc.race
		opts.OriginateReturn = time.Hour // the bridge always comes first
		n := StartT(t, opts)
		c := listening(t, n)
		b, a, job := uuid.New(), uuid.New(), uuid.New()
		c.reply("bgapi originate {origination_uuid=" + b + "}user/1002 &park()")
		c.waitEvent("CHANNEL_ANSWER", b)
		n.mu.Lock()
		n.originated(n.channels[b]) // in bgcall's flow B's originate returned long before
		n.mu.Unlock()
		c.reply("bgapi originate {origination_uuid=" + a + "}user/1001 &park()\nJob-UUID: " + job)
		c.waitEvent("CHANNEL_ANSWER", a)
		if got := c.api("uuid_bridge " + b + " " + a); got != "+OK "+a+"\n" {
			t.Fatalf("%v: uuid_bridge = %q", tc.race, got)
		}
		var got []string
		for len(got) < len(tc.want) {
			e := c.next().event()
			switch {
			case e["Event-Name"] == "BACKGROUND_JOB" && e["Job-UUID"] == job:
				got = append(got, "job "+strings.TrimSpace(strings.TrimSuffix(e["_body"], a+"\n")))
			case e["Unique-ID"] == a && e["Event-Name"] == "CHANNEL_PARK", e["Event-Name"] == "CHANNEL_BRIDGE":
				got = append(got, e["Event-Name"])
			}
		}
		if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("%v: %q, want %q", tc.race, got, tc.want)
		}
		if c.api("uuid_exists "+a) != "true" {
			t.Errorf("%v: the bridged leg is gone", tc.race)
		}
		c.api("uuid_kill " + a)
		c.waitEvent("CHANNEL_DESTROY", b)
	}
}

func TestManualFarEnd(t *testing.T) {
	n := StartT(t, fastOptions())
	n.SetSubscriber("5000", Behavior{Action: NoAnswer})
	c := listening(t, n)
	u := uuid.New()
	c.reply("bgapi originate {origination_uuid=" + u + ",originate_timeout=50}user/5000 &park()")
	c.waitEvent("CHANNEL_PROGRESS", u)
	if err := n.Answer(u); err != nil {
		t.Fatal(err)
	}
	if e := c.waitEvent("BACKGROUND_JOB", ""); e["_body"] != "+OK "+u+"\n" {
		t.Errorf("job after a manual answer = %q", e["_body"])
	}
	if err := n.SendDTMF(u, "9"); err != nil {
		t.Fatal(err)
	}
	if d := c.waitEvent("DTMF", u); d["DTMF-Digit"] != "9" {
		t.Errorf("DTMF %q", d["DTMF-Digit"])
	}
	if err := n.FarEndHangup(u, "USER_BUSY"); err != nil {
		t.Fatal(err)
	}
	if h := c.waitEvent("CHANNEL_HANGUP", u); h["Hangup-Cause"] != "USER_BUSY" {
		t.Errorf("cause %q", h["Hangup-Cause"])
	}
	if err := n.FarEndHangup(u, ""); err == nil {
		t.Error("hangup of a gone channel succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := n.WaitIdle(ctx); err != nil {
		t.Error(err)
	}
}

// TestPlaybackNamesTheFileFound: a prompt given by a relative path is
// named, in PLAYBACK events, by the file FreeSWITCH found in its sounds
// directory. Recorded on FreeSWITCH 1.10.12 (started with -sounds
// <run>/sounds): `uuid_broadcast <uuid> e2e/unavailable.wav aleg` fired
// PLAYBACK_START and PLAYBACK_STOP with
// Playback-File-Path: <run>/sounds/e2e/unavailable.wav. A client that waits
// for the PLAYBACK_STOP of the path it sent never sees it.
func TestPlaybackNamesTheFileFound(t *testing.T) {
	opts := fastOptions()
	opts.SoundsDir = "/srv/sounds"
	n := StartT(t, opts)
	c := listening(t, n)
	u := uuid.New()
	c.api("originate {origination_uuid=" + u + "}user/1000 &park()")
	for _, tc := range []struct{ path, want string }{
		{"ivr/ivr-not_available.wav", "/srv/sounds/ivr/ivr-not_available.wav"},
		{"/abs/hold.wav", "/abs/hold.wav"},
		{"tone_stream://%(100,0,440)", "tone_stream://%(100,0,440)"},
	} {
		path, want := tc.path, tc.want
		c.api("uuid_broadcast " + u + " " + path + " aleg")
		for _, name := range []string{"PLAYBACK_START", "PLAYBACK_STOP"} {
			if got := c.waitEvent(name, u)["Playback-File-Path"]; got != want {
				t.Errorf("%s of %s: Playback-File-Path %q, want %q", name, path, got, want)
			}
		}
	}
	if got := n.Prompts()[0].Path; got != "ivr/ivr-not_available.wav" {
		t.Errorf("the record names the prompt %q, want it as sent", got)
	}
	c.api("uuid_kill " + u)
}

// TestBroadcastBeforeTheOriginateReturnedIsLost: a prompt sent to a leg
// that answered but whose originate has not returned yet is never played,
// although the reply says +OK. Recorded on FreeSWITCH 1.10.12 (loopback far
// end answering after 200 ms, a one-second WAV): uuid_broadcast sent on the
// leg's CHANNEL_ANSWER replied "+OK Message sent" and played in 3 of 10
// calls (late, 200 ms after the park), never in the other 7; sent on its
// BACKGROUND_JOB, it played in 20 of 20. The simulator drops it every time.
func TestBroadcastBeforeTheOriginateReturnedIsLost(t *testing.T) {
	opts := fastOptions()
	opts.OriginateReturn = 200 * time.Millisecond
	n := StartT(t, opts)
	c := listening(t, n)
	u, job := uuid.New(), uuid.New()
	if f := c.reply("bgapi originate {origination_uuid=" + u + "}user/1000 &park()\nJob-UUID: " + job); f.headers["Reply-Text"] != "+OK Job-UUID: "+job {
		t.Fatalf("bgapi originate: %q", f.raw)
	}
	c.waitEvent("CHANNEL_ANSWER", u)
	if got := c.api("uuid_broadcast " + u + " /early.wav aleg"); got != "+OK Message sent\n" {
		t.Fatalf("uuid_broadcast before the originate returned: %q", got)
	}
	for c.waitEvent("BACKGROUND_JOB", "")["Job-UUID"] != job {
	}
	c.api("uuid_broadcast " + u + " /late.wav aleg")
	if got := c.waitEvent("PLAYBACK_START", u)["Playback-File-Path"]; got != "/late.wav" {
		t.Errorf("first prompt played: %s, want /late.wav, the one sent after the originate returned", got)
	}
	for _, p := range n.Prompts() {
		if p.Path == "/early.wav" {
			t.Errorf("the prompt sent before the originate returned was played")
		}
	}
	c.api("uuid_kill " + u)
}

// TestAVMD: with mod_avmd loaded, a far end scripted as a beeping
// voicemail fires CUSTOM avmd::beep for the leg once detection started on
// it (a stop first silences it); without the module, as on a FreeSWITCH
// built without it, module_exists says false and avmd is no command.
func TestAVMD(t *testing.T) {
	opts := fastOptions()
	opts.AVMD = true
	n := StartT(t, opts)
	n.SetSubscriber("1002", Behavior{Action: Answer, Beep: 20 * time.Millisecond})
	c := listening(t, n)
	if got := c.api("module_exists mod_avmd"); got != "true" {
		t.Errorf("module_exists mod_avmd = %q with the module loaded", got)
	}
	for _, stopFirst := range []bool{true, false} {
		u := uuid.New()
		if got := c.bgapi("originate {origination_uuid=" + u + "}user/1002 &park()"); !strings.HasPrefix(got, "+OK") {
			t.Fatalf("originate: %q", got)
		}
		if got := c.api("avmd " + u + " start"); !strings.HasPrefix(got, "+OK") {
			t.Fatalf("avmd start: %q", got)
		}
		if stopFirst {
			c.api("avmd " + u + " stop")
			c.api("uuid_kill " + u)
			c.waitEvent("CHANNEL_DESTROY", u)
			continue
		}
		e := c.waitEvent("CUSTOM", u)
		if e["Event-Subclass"] != "avmd::beep" {
			t.Errorf("beep event: %v", e)
		}
		c.api("uuid_kill " + u)
		c.waitEvent("CHANNEL_DESTROY", u)
	}
	for _, e := range c.seen {
		if e["Event-Name"] == "CUSTOM" {
			t.Errorf("a beep after avmd stop: %v", e)
		}
	}

	without := StartT(t, fastOptions())
	w := listening(t, without)
	if got := w.api("module_exists mod_avmd"); got != "false" {
		t.Errorf("module_exists mod_avmd = %q without the module", got)
	}
	if got := w.api("avmd " + uuid.New() + " start"); !strings.Contains(got, "Command not found") {
		t.Errorf("avmd without the module: %q", got)
	}
}
