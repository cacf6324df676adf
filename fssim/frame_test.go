package fssim

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestReadRequest holds the reader to read_packet: the command is the whole
// text (first line, header lines, line ends); a line runs to the first CR
// of the rest of the text, or its first LF if there is none, so a first line
// ending in LF before header lines ending in CRLF swallows them.
func TestReadRequest(t *testing.T) {
	in := "\r\n\napi status\r\nconsole_execute: true\r\n\r\n" +
		"bgapi status\nJob-UUID: X\r\n\r\n" +
		"bgapi status\r\nJob-UUID: a\nFoo: b\r\n\r\n" +
		"bgapi status\nJob-UUID:  j1\nJob-UUID: j2\n\n" +
		"sendevent CUSTOM\nEvent-Subclass: x::y\nContent-Length: 5\n\nhello" +
		"api x\nContent-Length: abc\n\n" +
		"api x\n\r\n" +
		"a\x00b\n\n" +
		"exit\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	want := []struct{ command, header, value, body string }{
		{"api status\r\nconsole_execute: true\r\n\r\n", "console_execute", "true", ""},
		{"bgapi status\nJob-UUID: X\r\n\r\n", "Job-UUID", "", ""},
		{"bgapi status\r\nJob-UUID: a\nFoo: b\r\n\r\n", "Job-UUID", "a\nFoo: b", ""},
		{"bgapi status\nJob-UUID:  j1\nJob-UUID: j2\n\n", "job-uuid", "j1", ""},
		{"sendevent CUSTOM\nEvent-Subclass: x::y\nContent-Length: 5\n\n", "Event-Subclass", "x::y", "hello"},
		{"api x\nContent-Length: abc\n\n", "Content-Length", "abc", ""},
		{"api x\n\r\n", "", "", ""},
		{"a", "", "", ""},
		{"exit\n\n", "", "", ""},
	}
	for _, w := range want {
		req, err := readRequest(r)
		if err != nil {
			t.Fatalf("%q: %v", w.command, err)
		}
		if got := req.header("Command"); got != w.command {
			t.Errorf("command %q, want %q", got, w.command)
		}
		if w.header != "" {
			if got := req.header(w.header); got != w.value {
				t.Errorf("%q: %s = %q, want %q", w.command, w.header, got, w.value)
			}
		}
		if string(req.body) != w.body {
			t.Errorf("%q: body %q, want %q", w.command, req.body, w.body)
		}
	}
	if _, err := readRequest(r); err != io.EOF {
		t.Errorf("at end: %v", err)
	}
	if req, err := readRequest(bufio.NewReader(strings.NewReader("\x00junk\n\n"))); err != nil {
		t.Fatal(err)
	} else if _, ok := req.lookup("Command"); ok {
		t.Errorf("a command starting with NUL has a Command: %q", req.headers)
	}
	for _, bad := range []string{
		"api x\nContent-Length: 99999999999\n\n", // atoi: 1215752191
		"api x\nContent-Length: 16777217\n\n",
	} {
		if _, err := readRequest(bufio.NewReader(strings.NewReader(bad))); !errors.Is(err, errFrameTooLarge) {
			t.Errorf("%.40q: %v, want errFrameTooLarge", bad, err)
		}
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{
		"": 0, "abc": 0, "12": 12, " \t+7x": 7, "-5": -5, "99999999999": 1215752191,
		"99999999999999999999999": -1, "-99999999999999999999999": 0,
	} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

// FreeSWITCH answers a command whose text starts with a NUL (it has no
// Command) with "-ERR command parse error." and closes, before auth too.
func TestHostileInputGetsErrorOrCleanClose(t *testing.T) {
	n := StartT(t, fastOptions())
	c := dialRaw(t, n.Addr())
	c.next()
	c.nc.Write([]byte("\x00\xff\xfe binary\x01\n\n"))
	if f := c.next(); string(f.raw) != "Content-Type: command/reply\nReply-Text: -ERR command parse error.\n\n" {
		t.Errorf("NUL before auth: %q", f.raw)
	}
	if f := c.next(); f.ctype() != "text/disconnect-notice" {
		t.Errorf("after the parse error: %q", f.raw)
	}
	c = authedRaw(t, n)
	if f := c.reply("\x7fjunk"); f.headers["Reply-Text"] != "-ERR command not found" {
		t.Errorf("junk after auth: %q", f.raw)
	}
	c.nc.Write([]byte("api status\nContent-Length: 99999999999\n\n"))
	if f := c.next(); f.ctype() != "text/disconnect-notice" {
		t.Errorf("huge Content-Length: %q", f.raw)
	}
	if _, err := c.readFrame(); err == nil {
		t.Error("connection open after a huge Content-Length")
	}
}

// FuzzReadFrame feeds arbitrary bytes to the command reader: it must return
// commands or an error, never panic, never hand out a command text holding a
// NUL, nor a body over the limit.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"auth ClueCon\n\n",
		"api status\r\nconsole_execute: true\r\n\r\n",
		"bgapi originate {origination_uuid=x}user/1000 &park()\nJob-UUID: j\n\n",
		"bgapi status\nJob-UUID: X\r\n\r\n",
		"sendevent CUSTOM\nEvent-Subclass: a::b\nContent-Length: 3\n\nabc",
		"api x\nContent-Length: 99999999999\n\n",
		"\x00\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for i := 0; i < 1000; i++ {
			req, err := readRequest(r)
			if err != nil {
				if errors.Is(err, errFrameTooLarge) || err == io.EOF || err == io.ErrUnexpectedEOF {
					return
				}
				t.Fatalf("unexpected error %v", err)
			}
			if cmd, ok := req.lookup("Command"); ok && (cmd == "" || strings.IndexByte(cmd, 0) >= 0) {
				t.Fatalf("bad command %q", cmd)
			}
			if len(req.body) > maxContentLength {
				t.Fatalf("body of %d bytes", len(req.body))
			}
		}
	})
}

// FuzzOriginateArgs feeds arbitrary originate arguments through the parser
// and the dial-string resolver: never a panic, and every variable parsed has
// a name.
func FuzzOriginateArgs(f *testing.F) {
	for _, s := range []string{
		"{origination_uuid=x,originate_timeout=3}user/1000@example.com &park()",
		`{a=b\,c,d='e,f'}[leg=1]sofia/gateway/gw1/+15551234567 &playback(/x.wav) XML default "Alice" 1001 30`,
		"{^^;a=1;b=2}loopback/1004/default 1004 XML default",
		"{{}}[[]] &",
		"{a=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		o, ok := parseOriginate(arg)
		if !ok {
			return
		}
		for _, v := range o.vars {
			if v.name == "" {
				t.Fatalf("variable without a name from %q", arg)
			}
		}
		resolveEndpoint(o.endpoint, "127.0.0.1")
	})
}

// FuzzParseVars holds parseVars, which slices its input, to a reading of
// switch_event_create_brackets that copies byte by byte.
func FuzzParseVars(f *testing.F) {
	for _, s := range []string{"a=1,b=x\\,y,c='p,q'", "^^;a=1;b=2\\;3", "^^\\a=1\\\\b=2\\c=3", " a =' x ', =y,z", "a=\\", "'a=1,b'=2,c=3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseVars(s)
		want := parseVarsBytewise(s)
		if len(got) != len(want) {
			t.Fatalf("parseVars(%q) = %q, want %q", s, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("parseVars(%q) = %q, want %q", s, got, want)
			}
		}
	})
}

func parseVarsBytewise(s string) []header {
	sep := byte(',')
	if strings.HasPrefix(s, "^^") && len(s) > 2 {
		sep = s[2]
		s = s[3:]
	}
	var out []header
	var cur []byte
	inQuote := false
	flush := func() {
		name, value, ok := strings.Cut(string(cur), "=")
		cur = cur[:0]
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return
		}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = value[1 : len(value)-1]
		}
		out = append(out, header{name, value})
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == sep:
			cur = append(cur, sep)
			i++
		case c == '\'':
			inQuote = !inQuote
			cur = append(cur, c)
		case c == sep && !inQuote:
			flush()
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return out
}

// FuzzAPICommand runs arbitrary api command lines on a node: every command
// answers (no panic, no hang) and the node stays consistent enough to
// answer status afterwards.
func FuzzAPICommand(f *testing.F) {
	for _, s := range []string{
		"originate {origination_uuid=u1}user/1000 &park()", "uuid_kill u1 USER_BUSY", "uuid_bridge u1 u2",
		"uuid_broadcast u1 playback::/x.wav both", "uuid_break u1 all", "uuid_setvar u1 a b c",
		"uuid_getvar u1 a", "uuid_dump u1 json", "show calls as json", "show channels count",
		"hupall NORMAL_CLEARING v x", "chat sip|a|b|c|d", "status", "nosuch", "",
	} {
		f.Add(s)
	}
	n, err := Start(Options{Second: time.Millisecond, Default: Behavior{Action: Answer}, Heartbeat: -1, RecordLimit: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer n.Close()
	f.Fuzz(func(t *testing.T, line string) {
		res := make(chan string, 1)
		n.execute(line, func(r string) { res <- r })
		select {
		case <-res:
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer to %q", line)
		}
		n.execute("status", func(r string) { res <- r })
		if r := <-res; !strings.HasPrefix(r, "UP ") {
			t.Fatalf("status after %q: %q", line, r)
		}
	})
}
