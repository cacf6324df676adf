package fsdiff

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"bgcall/esl"
)

// A FramingCase is one command, oddly framed or not, sent on a connection
// of its own; {pw} in Send stands for the password and {job} for OurJob.
type FramingCase struct {
	Name string
	Auth bool   // authenticate first
	Job  bool   // subscribe to BACKGROUND_JOB first, and wait for one job before the probe
	Send string // the exact bytes
}

// OurJob is the Job-UUID the framing cases send, told apart from a job id
// FreeSWITCH chose in the normalised frames.
const OurJob = "0c0ffee0-0000-4000-8000-000000000001"

// FramingResult is what came back for a case: every frame until the
// connection closed, normalised. After the case's command (and its job, if
// it waits for one) the runner sends the probe "exit", whose "+OK bye" and
// disconnect notice end the frames unless the case ended the connection
// itself.
type FramingResult struct {
	Name   string   `json:"name"`
	Auth   bool     `json:"auth,omitempty"`
	Job    bool     `json:"job,omitempty"`
	Send   string   `json:"send"`
	Frames []string `json:"frames"`
}

// FramingCases are the commands recorded: FreeSWITCH's parser
// (mod_event_socket's read_packet and parse_command) on line ends, header
// lines, prefixes, blanks, NUL bytes, bodies and unknown commands, before
// and after auth.
var FramingCases = []FramingCase{
	// Line ends: the same style throughout works; LF then CRLF, as bgcall's
	// esl sent every bgapi before it was fixed, runs "status\nJob-UUID:".
	{Name: "bgapi LF then CRLF", Auth: true, Job: true, Send: "bgapi status\nJob-UUID: {job}\r\n\r\n"},
	{Name: "bgapi LF", Auth: true, Job: true, Send: "bgapi version\nJob-UUID: {job}\n\n"},
	{Name: "bgapi CRLF", Auth: true, Job: true, Send: "bgapi version\r\nJob-UUID: {job}\r\n\r\n"},
	{Name: "bgapi as esl sends it", Auth: true, Job: true, Send: string(esl.Wire("bgapi version\nJob-UUID: {job}"))},
	{Name: "bgapi CRLF then LF", Auth: true, Job: true, Send: "bgapi version\r\nJob-UUID: {job}\nFoo: bar\r\n\r\n"},
	{Name: "api LF then CRLF", Auth: true, Send: "api version\nJob-UUID: {job}\r\n\r\n"},
	{Name: "api as esl sends it", Auth: true, Send: string(esl.Wire("api version"))},
	{Name: "api LF CR LF end", Auth: true, Send: "api version\n\r\n"},
	{Name: "api LF CR CR LF end", Auth: true, Send: "api version\n\r\r\n"},
	{Name: "api CRLF LF end", Auth: true, Send: "api version\r\n\n"},
	{Name: "line ends before a command", Auth: true, Send: "\r\n\n\r\napi version\n\n"},
	{Name: "two commands in one write", Auth: true, Send: "api version\n\nnoevents\n\n"},
	// Job-UUID header forms.
	{Name: "Job-UUID empty", Auth: true, Job: true, Send: "bgapi version\nJob-UUID:\n\n"},
	{Name: "Job-UUID lower case", Auth: true, Job: true, Send: "bgapi version\njob-uuid: {job}\n\n"},
	{Name: "Job-UUID space before colon", Auth: true, Job: true, Send: "bgapi version\nJob-UUID : {job}\n\n"},
	{Name: "Job-UUID no space", Auth: true, Job: true, Send: "bgapi version\nJob-UUID:{job}\n\n"},
	{Name: "Job-UUID tab", Auth: true, Job: true, Send: "bgapi version\nJob-UUID:\t{job}\n\n"},
	{Name: "Job-UUID twice", Auth: true, Job: true, Send: "bgapi version\nJob-UUID: {job}\nJob-UUID: 0c0ffee0-0000-4000-8000-000000000002\n\n"},
	{Name: "Job-UUID not a uuid", Auth: true, Job: true, Send: "bgapi version\nJob-UUID: my-job\n\n"},
	{Name: "header line without colon", Auth: true, Job: true, Send: "bgapi version\nJob-UUID {job}\n\n"},
	// Commands and their arguments.
	{Name: "api unknown", Auth: true, Send: "api nosuchcmd\n\n"},
	{Name: "bgapi unknown", Auth: true, Job: true, Send: "bgapi nosuchcmd some arg\nJob-UUID: {job}\n\n"},
	{Name: "api two spaces", Auth: true, Send: "api  version\n\n"},
	{Name: "api trailing space", Auth: true, Send: "api version \n\n"},
	{Name: "api upper case", Auth: true, Send: "API VERSION\n\n"},
	{Name: "api alone", Auth: true, Send: "api\n\n"},
	{Name: "api without space", Auth: true, Send: "apiversion\n\n"},
	{Name: "bgapi alone", Auth: true, Send: "bgapi\n\n"},
	{Name: "api usage", Auth: true, Send: "api uuid_kill\n\n"},
	{Name: "api NUL", Auth: true, Send: "api ver\x00sion\n\n"},
	{Name: "api console_execute", Auth: true, Send: "api version;;nosuchcmd x\nconsole_execute: true\n\n"},
	{Name: "api console_execute unknown first", Auth: true, Send: "api nosuchcmd;;version\nconsole_execute: true\n\n"},
	{Name: "api body ignored", Auth: true, Send: "api version\nContent-Length: 3\n\nabc"},
	{Name: "api bad Content-Length", Auth: true, Send: "api version\nContent-Length: abc\n\n"},
	{Name: "api negative Content-Length", Auth: true, Send: "api version\nContent-Length: -5\n\n"},
	{Name: "unknown command", Auth: true, Send: "nosuchcmd\n\n"},
	{Name: "exit prefix", Auth: true, Send: "exit now\n\n"},
	{Name: "event", Auth: true, Send: "event\n\n"},
	{Name: "event format only", Auth: true, Send: "event json\n\n"},
	{Name: "events prefix", Auth: true, Send: "events plain HEARTBEAT\n\n"},
	{Name: "event SWITCH_EVENT_ prefix", Auth: true, Send: "event plain SWITCH_EVENT_HEARTBEAT\n\n"},
	{Name: "event lower case", Auth: true, Send: "event plain heartbeat\n\n"},
	{Name: "event as esl sends it", Auth: true, Send: string(esl.Wire("event plain CHANNEL_CREATE CHANNEL_ANSWER BACKGROUND_JOB HEARTBEAT"))},
	{Name: "nixevent", Auth: true, Send: "nixevent\n\n"},
	{Name: "nixevent then noevents", Auth: true, Send: "nixevent CHANNEL_ANSWER\n\nnoevents\n\n"},
	{Name: "noevents", Auth: true, Send: "noevents\n\n"},
	{Name: "log", Auth: true, Send: "log\n\n"},
	{Name: "log name", Auth: true, Send: "log debug\n\n"},
	{Name: "log too high", Auth: true, Send: "log 99\n\n"},
	{Name: "log 64", Auth: true, Send: "log 64\n\n"},
	{Name: "log negative", Auth: true, Send: "log -3\n\n"},
	{Name: "log unknown", Auth: true, Send: "log foo\n\n"},
	{Name: "log prefix", Auth: true, Send: "logfoo\n\n"},
	{Name: "nolog", Auth: true, Send: "nolog\n\n"},
	{Name: "log then nolog", Auth: true, Send: "log 7\n\nnolog\n\n"},
	{Name: "divert_events", Auth: true, Send: "divert_events on\n\n"},
	{Name: "myevents alone", Auth: true, Send: "myevents\n\n"},
	{Name: "myevents unknown uuid", Auth: true, Send: "myevents 0c0ffee0-0000-4000-8000-00000000dead\n\n"},
	{Name: "myevents unknown uuid and format", Auth: true, Send: "myevents 0c0ffee0-0000-4000-8000-00000000dead plain\n\n"},
	{Name: "sendmsg alone", Auth: true, Send: "sendmsg\n\n"},
	{Name: "sendmsg unknown uuid", Auth: true, Send: "sendmsg 0c0ffee0-0000-4000-8000-00000000dead\ncall-command: hangup\n\n"},
	{Name: "filter alone", Auth: true, Send: "filter\n\n"},
	{Name: "filter without value", Auth: true, Send: "filter Unique-ID\n\n"},
	{Name: "filter spaces", Auth: true, Send: "filter  Unique-ID x\n\n"},
	{Name: "filter value with spaces", Auth: true, Send: "filter Caller-Caller-ID-Name John Doe\n\n"},
	{Name: "filter add", Auth: true, Send: "filter add Unique-ID x\n\n"},
	{Name: "filter add without value", Auth: true, Send: "filter add Unique-ID\n\n"},
	{Name: "filter delete alone", Auth: true, Send: "filter delete\n\n"},
	{Name: "filter delete all", Auth: true, Send: "filter delete all\n\n"},
	{Name: "filter long", Auth: true, Send: "filter Unique-ID " + strings.Repeat("x", 600) + "\n\n"},
	{Name: "linger", Auth: true, Send: "linger\n\n"},
	{Name: "nolinger", Auth: true, Send: "nolinger\n\n"},
	{Name: "resume", Auth: true, Send: "resume\n\n"},
	{Name: "getvar", Auth: true, Send: "getvar x\n\n"},
	{Name: "connect", Auth: true, Send: "connect\n\n"},
	{Name: "sendevent", Auth: true, Send: "sendevent\n\n"},
	{Name: "NUL first", Auth: true, Send: "\x00junk\n\n"},
	// Before auth.
	{Name: "before auth: api", Send: "api version\n\n"},
	{Name: "before auth: auth alone", Send: "auth\n\n"},
	{Name: "before auth: two spaces", Send: "auth  {pw}\n\n"},
	{Name: "before auth: upper case", Send: "AUTH {pw}\n\n"},
	{Name: "before auth: trailing space", Send: "auth {pw} \n\n"},
	{Name: "before auth: CRLF", Send: "auth {pw}\r\n\r\n"},
	{Name: "before auth: as esl sends it", Send: string(esl.Wire("auth {pw}"))},
	{Name: "before auth: LF CR LF end", Send: "auth {pw}\n\r\n"},
	{Name: "before auth: header line", Send: "auth {pw}\nfoo: bar\n\n"},
	{Name: "before auth: LF then CRLF", Send: "auth {pw}\nx\r\n\r\n"},
	{Name: "before auth: NUL after password", Send: "auth {pw}\x00junk\n\n"},
	{Name: "before auth: wrong password", Send: "auth wrong\n\napi version\n\n"},
	{Name: "before auth: refused, then auth", Send: "api version\n\nauth {pw}\n\n"},
	{Name: "before auth: userauth", Send: "userauth a@b:c\n\n"},
	{Name: "before auth: exit prefix", Send: "exitfoo\n\n"},
	{Name: "before auth: dots", Send: "...\n\n"},
	{Name: "before auth: NUL first", Send: "\x00\x01 binary\x7f\n\n"},
	{Name: "before auth: unload", Send: "unload mod_event_socket\n\n"},
}

// RunFraming sends c on a connection of its own to the event socket at
// addr and returns what came back.
func RunFraming(ctx context.Context, addr, password string, c FramingCase) (FramingResult, error) {
	res := FramingResult{Name: c.Name, Auth: c.Auth, Job: c.Job, Send: c.Send}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := dial(ctx, addr)
	if err != nil {
		return res, err
	}
	defer conn.close()
	if f, err := conn.read(deadline); err != nil || f.Type != "auth/request" {
		return res, fmt.Errorf("greeting: %q, %v", f.Raw, err)
	}
	if c.Auth {
		if err := conn.command("auth "+password+"\n\n", deadline); err != nil {
			return res, err
		}
	}
	if c.Job {
		if err := conn.command("event plain BACKGROUND_JOB\n\n", deadline); err != nil {
			return res, err
		}
	}
	send := strings.NewReplacer("{pw}", password, "{job}", OurJob).Replace(c.Send)
	if err := conn.write([]byte(send)); err != nil {
		return res, err
	}
	probed := false
	if !c.Job {
		probed = conn.write([]byte("exit\n\n")) == nil
	}
	for {
		f, err := conn.read(deadline)
		if err != nil {
			if closed(err) {
				return res, nil
			}
			return res, fmt.Errorf("after %d frames: %w", len(res.Frames), err)
		}
		res.Frames = append(res.Frames, normalFrame(f))
		if !probed && f.Type == "text/event-plain" {
			probed = conn.write([]byte("exit\n\n")) == nil
		}
	}
}

// command sends a command the case needs first and checks it succeeded.
func (c *conn) command(cmd string, deadline time.Time) error {
	if err := c.write([]byte(cmd)); err != nil {
		return err
	}
	f, err := c.read(deadline)
	if err != nil {
		return fmt.Errorf("%q: %w", strings.TrimSpace(cmd), err)
	}
	if !strings.HasPrefix(f.Header["Reply-Text"], "+OK") {
		return fmt.Errorf("%q: %q", strings.TrimSpace(cmd), f.Raw)
	}
	return nil
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalFrame is a frame with its ids replaced: OurJob by <our-job>, other
// UUIDs by <uuid>. An event keeps only its name, its
// job headers and its body, the rest (dates, sequence, host) being no part
// of what a command answered.
func normalFrame(f Frame) string {
	text := string(f.Raw)
	if f.Type == "text/event-plain" {
		ev, err := esl.ParseEvent("fsdiff", f.Body)
		if err != nil {
			return "unparsable event: " + err.Error()
		}
		var b strings.Builder
		b.WriteString("EVENT " + ev.Name)
		for _, h := range []string{"Job-UUID", "Job-Command", "Job-Command-Arg", "Job-Owner-UUID"} {
			if v := ev.Header(h); v != "" {
				fmt.Fprintf(&b, " %s=%q", h, v)
			}
		}
		b.WriteString("\n" + ev.Body)
		text = b.String()
	}
	text = strings.ReplaceAll(text, OurJob, "<our-job>")
	return uuidPattern.ReplaceAllString(text, "<uuid>")
}
