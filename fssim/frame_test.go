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

func TestReadRequest(t *testing.T) {
	in := "\r\n\napi status\r\nconsole_execute: true\r\n\r\nbgapi originate {a=1}user/1 &park()\nJob-UUID: j1\n\n" +
		"sendevent CUSTOM\nEvent-Subclass: x::y\nContent-Length: 5\n\nhello" + "exit\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	want := []struct{ line, hdr, body string }{
		{"api status", "console_execute=true", ""},
		{"bgapi originate {a=1}user/1 &park()", "Job-UUID=j1", ""},
		{"sendevent CUSTOM", "Event-Subclass=x::y", "hello"},
		{"exit", "", ""},
	}
	for _, w := range want {
		req, err := readRequest(r)
		if err != nil {
			t.Fatalf("%q: %v", w.line, err)
		}
		hdr := ""
		if len(req.headers) > 0 {
			hdr = req.headers[0].name + "=" + req.headers[0].value
		}
		if req.line != w.line || hdr != w.hdr || string(req.body) != w.body {
			t.Errorf("got %q %q %q, want %+v", req.line, hdr, req.body, w)
		}
	}
	if _, err := readRequest(r); err != io.EOF {
		t.Errorf("at end: %v", err)
	}
	for _, bad := range []string{
		"api x\nContent-Length: 99999999999\n\n",
		"api x\nContent-Length: -1\n\n",
		strings.Repeat("a", maxLineLen+1),
		"api x\n" + strings.Repeat("h: v\n", maxHeaders+1) + "\n",
	} {
		if _, err := readRequest(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%.40q accepted", bad)
		}
	}
}

func TestHostileInputGetsErrorOrCleanClose(t *testing.T) {
	n := StartT(t, fastOptions())
	c := dialRaw(t, n.Addr())
	c.next()
	c.nc.Write([]byte("\x00\xff\xfe binary\x01\n\n"))
	if f := c.next(); string(f.raw) != "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n" {
		t.Errorf("junk before auth: %q", f.raw)
	}
	c.reply("auth ClueCon")
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
// commands or an error, never panic, and never hand out a command that
// breaks its limits.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{
		"auth ClueCon\n\n",
		"api status\r\nconsole_execute: true\r\n\r\n",
		"bgapi originate {origination_uuid=x}user/1000 &park()\nJob-UUID: j\n\n",
		"sendevent CUSTOM\nEvent-Subclass: a::b\nContent-Length: 3\n\nabc",
		"api x\nContent-Length: 99999999999\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for i := 0; i < 1000; i++ {
			req, err := readRequest(r)
			if err != nil {
				if errors.Is(err, errFrameTooLarge) || err == io.EOF || err == io.ErrUnexpectedEOF || strings.HasPrefix(err.Error(), "fssim: bad Content-Length") {
					return
				}
				t.Fatalf("unexpected error %v", err)
			}
			if strings.ContainsAny(req.line, "\n") || req.line == "" || len(req.line) > maxLineLen {
				t.Fatalf("bad command line %q", req.line)
			}
			if len(req.headers) > maxHeaders || len(req.body) > maxBodySize {
				t.Fatalf("limits broken: %d headers, %d body bytes", len(req.headers), len(req.body))
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
