package fssim

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// apiCapture is one line of the live captures' api-replies.jsonl.
type apiCapture struct {
	Sent     *string `json:"sent"`
	Received string  `json:"received"`
}

func loadCaptures(t *testing.T, name string) []apiCapture {
	t.Helper()
	f, err := os.Open("../../shared/fixtures/freeswitch/" + name)
	if err != nil {
		t.Skipf("captures not available: %v", err)
	}
	defer f.Close()
	var out []apiCapture
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var c apiCapture
		if err := json.Unmarshal(s.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, c)
	}
	return out
}

// captured returns the reply to the nth (from 0) capture of sent.
func captured(t *testing.T, sent string, nth ...int) string {
	t.Helper()
	want := 0
	if len(nth) > 0 {
		want = nth[0]
	}
	for _, c := range loadCaptures(t, "api-replies.jsonl") {
		if c.Sent != nil && *c.Sent == sent {
			if want == 0 {
				return c.Received
			}
			want--
		}
	}
	t.Fatalf("no capture of %q", sent)
	return ""
}

func TestAuthBytes(t *testing.T) {
	n := StartT(t, fastOptions())
	c := dialRaw(t, n.Addr())
	if got := string(c.next().raw); got != "Content-Type: auth/request\n\n" {
		t.Fatalf("greeting %q", got)
	}
	if got, want := string(c.reply("api status").raw), captured(t, "api status"); want != "" && !strings.HasPrefix(want, "Content-Type: command/reply") {
		t.Fatalf("capture lookup picked the post-auth reply")
	} else if got != "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n" {
		t.Errorf("command before auth: %q", got)
	}
	if got := string(c.reply("auth wrong").raw); got != "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n" {
		t.Errorf("wrong password: %q", got)
	}
	if got := string(c.next().raw); got != string(disconnectNotice) {
		t.Errorf("after refusal: %q", got)
	}
	if _, err := c.readFrame(); err == nil {
		t.Error("connection still open after a refused auth")
	}
}

func TestAuthTimeout(t *testing.T) {
	opts := fastOptions()
	opts.AuthTimeout = 50 * time.Millisecond
	n := StartT(t, opts)
	c := dialRaw(t, n.Addr())
	c.next()
	if got := string(c.next().raw); got != string(disconnectNotice) {
		t.Errorf("after auth window: %q", got)
	}
	if _, err := c.readFrame(); err == nil {
		t.Error("connection open after the auth window")
	}
}

func TestESLReplyBytesMatchCaptures(t *testing.T) {
	n := StartT(t, fastOptions())
	c := authedRaw(t, n)
	seen := map[string]int{}
	for _, cmd := range []string{
		"api version", "api nosuchcmd", "api originate", "event plain CHANNEL_ANSWER BOGUS",
		"event json CHANNEL_HANGUP", "event plain", "nixevent CHANNEL_ANSWER", "noevents", "noevents",
		"log 7", "nolog", "linger",
		"filter Unique-ID cccccccc-0000-4000-8000-000000000002",
		"filter delete Unique-ID cccccccc-0000-4000-8000-000000000002",
		"api uuid_kill cccccccc-0000-4000-8000-000000000002",
		"api uuid_exists cccccccc-0000-4000-8000-000000000002",
		"api uuid_dump cccccccc-0000-4000-8000-000000000002",
		"api uuid_bridge cccccccc-0000-4000-8000-000000000002 dddddddd-0000-4000-8000-000000000009",
		"api hupall NORMAL_CLEARING bgcall_session nosuch",
		"api chat event|a@x|b@y|hi",
		"sendmsg cccccccc-0000-4000-8000-000000000002",
	} {
		nth := seen[cmd]
		seen[cmd]++
		if strings.HasPrefix(cmd, "api uuid_") && cmd != "api uuid_dump cccccccc-0000-4000-8000-000000000002" &&
			!strings.HasPrefix(cmd, "api uuid_bridge") {
			nth = 1 // the capture's second is after the channel was gone
		}
		if got, want := string(c.reply(cmd).raw), captured(t, cmd, nth); got != want {
			t.Errorf("%s:\n got %q\nwant %q", cmd, got, want)
		}
	}
	// The capture's bgapi reply carries a random Job-UUID; compare its shape.
	f := c.reply("bgapi status")
	job := f.headers["Job-UUID"]
	if string(f.raw) != "Content-Type: command/reply\nReply-Text: +OK Job-UUID: "+job+"\nJob-UUID: "+job+"\n\n" || len(job) != 36 {
		t.Errorf("bgapi reply %q", f.raw)
	}
	if got, want := string(c.reply("exit").raw), captured(t, "exit"); got != want {
		t.Errorf("exit: %q want %q", got, want)
	}
	if got := string(c.next().raw); got != string(disconnectNotice) {
		t.Errorf("after exit: %q", got)
	}
}

func TestFsCliConsoleExecuteHeader(t *testing.T) {
	n := StartT(t, fastOptions())
	c := dialRaw(t, n.Addr())
	c.next()
	c.reply("auth ClueCon")
	c.send("api status\nconsole_execute: true")
	f := c.next()
	if f.ctype() != "api/response" || !strings.HasPrefix(f.body, "UP 0 years, 0 days, 0 hours, 0 minutes, ") ||
		!strings.Contains(f.body, "\nFreeSWITCH (Version 1.10.12-release  64bit) is ready\n") ||
		!strings.HasSuffix(f.body, "\n2000 session(s) max\nmin idle cpu 0.00/95.00\nCurrent Stack Size/Max 240K/8192K\n") {
		t.Errorf("status over fs_cli framing: %q", f.raw)
	}
}
