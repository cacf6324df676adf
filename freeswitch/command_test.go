package freeswitch

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	uuidA = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
	uuidB = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
)

func TestOriginateCommand(t *testing.T) {
	o := Originate{
		Endpoint:       "user/1002@example.com",
		UUID:           uuidA,
		CallerIDNumber: "+4930123",
		CallerIDName:   "Alice Smith, Sales",
		Timeout:        29500 * time.Millisecond,
		Vars:           []Var{{"bgcall_session", "s-1"}, {"ignore_early_media", "true"}},
	}
	got, err := o.Command()
	if err != nil {
		t.Fatal(err)
	}
	want := `originate {origination_uuid=` + uuidA + `,origination_caller_id_number=+4930123,` +
		`origination_caller_id_name='Alice Smith\, Sales',originate_timeout=30,bgcall_session=s-1,` +
		`ignore_early_media=true}user/1002@example.com &park()`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	min, err := Originate{Endpoint: "sofia/gateway/gw1/+4930123", UUID: uuidB, App: "playback", AppArgs: "/sounds/hold.wav"}.Command()
	if err != nil {
		t.Fatal(err)
	}
	if want := "originate {origination_uuid=" + uuidB + "}sofia/gateway/gw1/+4930123 &playback(/sounds/hold.wav)"; min != want {
		t.Errorf("got  %s\nwant %s", min, want)
	}
}

// TestOriginateInjection tries to smuggle a second command, variable,
// destination or application through every field of Originate. Each attempt is
// either refused (wantErr names the reason) or neutralised (want is the exact
// line FreeSWITCH gets).
func TestOriginateInjection(t *testing.T) {
	base := func() Originate {
		return Originate{Endpoint: "user/1002@example.com", UUID: uuidA}
	}
	prefix := "originate {origination_uuid=" + uuidA
	suffix := "}user/1002@example.com &park()"
	tests := []struct {
		name    string
		mod     func(*Originate)
		want    string // exact line when accepted
		wantErr string // substring of the error when refused
	}{
		// Endpoint.
		{"endpoint space", func(o *Originate) { o.Endpoint = "user/1002 &bridge(user/666)" }, "", `' ' is not allowed`},
		{"endpoint comma adds a simultaneous leg", func(o *Originate) { o.Endpoint = "user/1002,user/666" }, "", `',' is not allowed`},
		{"endpoint pipe adds a failover leg", func(o *Originate) { o.Endpoint = "user/1002|user/666" }, "", `'|' is not allowed`},
		{"endpoint :_: adds a leg", func(o *Originate) { o.Endpoint = "user/1002:_:user/666" }, "", `":_:"`},
		{"endpoint brace", func(o *Originate) { o.Endpoint = "{x=y}user/1002" }, "", `'{' is not allowed`},
		{"endpoint bracket", func(o *Originate) { o.Endpoint = "[x=y]user/1002" }, "", `'[' is not allowed`},
		{"endpoint ampersand", func(o *Originate) { o.Endpoint = "user/1002&echo" }, "", `'&' is not allowed`},
		{"endpoint newline", func(o *Originate) { o.Endpoint = "user/1002\napi hupall" }, "", "control characters"},
		{"endpoint CR", func(o *Originate) { o.Endpoint = "user/1002\r" }, "", "control characters"},
		{"endpoint NUL", func(o *Originate) { o.Endpoint = "user/1002\x00" }, "", "control characters"},
		{"endpoint quote", func(o *Originate) { o.Endpoint = "user/'1002" }, "", `'\'' is not allowed`},
		{"endpoint double quote", func(o *Originate) { o.Endpoint = `user/"1002` }, "", `'"' is not allowed`},
		{"endpoint caret", func(o *Originate) { o.Endpoint = "^^:user/1002" }, "", `'^' is not allowed`},
		{"endpoint dollar", func(o *Originate) { o.Endpoint = "user/${x}" }, "", `'$' is not allowed`},
		{"endpoint empty", func(o *Originate) { o.Endpoint = "" }, "", "must not be empty"},
		// UUID.
		{"uuid with a variable", func(o *Originate) { o.UUID = uuidA + ",x=y" }, "", "8-4-4-4-12"},
		{"uuid short", func(o *Originate) { o.UUID = "aaaa" }, "", "8-4-4-4-12"},
		{"uuid non-hex", func(o *Originate) { o.UUID = strings.Replace(uuidA, "a", "g", 1) }, "", "8-4-4-4-12"},
		{"uuid empty", func(o *Originate) { o.UUID = "" }, "", "8-4-4-4-12"},
		// Caller ID number.
		{"cid number space", func(o *Originate) { o.CallerIDNumber = "1000 1" }, "", "only digits"},
		{"cid number comma", func(o *Originate) { o.CallerIDNumber = "1000,x=y" }, "", "only digits"},
		{"cid number brace", func(o *Originate) { o.CallerIDNumber = "1000}user/6" }, "", "only digits"},
		{"cid number letters", func(o *Originate) { o.CallerIDNumber = "anonymous" }, "", "only digits"},
		{"cid number star", func(o *Originate) { o.CallerIDNumber = "*77" }, "", "only digits"},
		{"cid number plus inside", func(o *Originate) { o.CallerIDNumber = "12+34" }, "", "only digits"},
		{"cid number newline", func(o *Originate) { o.CallerIDNumber = "100\n0" }, "", "only digits"},
		{"cid number too long", func(o *Originate) { o.CallerIDNumber = strings.Repeat("1", 33) }, "", "2 to 32 digits"},
		{"cid number good", func(o *Originate) { o.CallerIDNumber = "+15551234567" },
			prefix + ",origination_caller_id_number=+15551234567" + suffix, ""},
		// Caller ID name: every special byte, refused or neutralised.
		{"cid name space is quoted", func(o *Originate) { o.CallerIDName = "Alice Smith" },
			prefix + ",origination_caller_id_name='Alice Smith'" + suffix, ""},
		{"cid name comma is escaped", func(o *Originate) { o.CallerIDName = "Smith,originate_timeout=1" },
			prefix + `,origination_caller_id_name=Smith\,originate_timeout=1` + suffix, ""},
		{"cid name comma and space", func(o *Originate) { o.CallerIDName = "a, b" },
			prefix + `,origination_caller_id_name='a\, b'` + suffix, ""},
		{"cid name ampersand stays in the value", func(o *Originate) { o.CallerIDName = "a&b" },
			prefix + ",origination_caller_id_name=a&b" + suffix, ""},
		{"cid name ampersand app with space", func(o *Originate) { o.CallerIDName = "x &bridge(user/6)" },
			prefix + ",origination_caller_id_name='x &bridge(user/6)'" + suffix, ""},
		{"cid name double quote kept", func(o *Originate) { o.CallerIDName = `say "hi"` },
			prefix + `,origination_caller_id_name='say "hi"'` + suffix, ""},
		{"cid name closing brace", func(o *Originate) { o.CallerIDName = "x}user/666 &park(" }, "", `'}' is not allowed`},
		{"cid name opening brace", func(o *Originate) { o.CallerIDName = "{x" }, "", `'{' is not allowed`},
		{"cid name bracket", func(o *Originate) { o.CallerIDName = "x]" }, "", `']' is not allowed`},
		{"cid name open bracket", func(o *Originate) { o.CallerIDName = "[x" }, "", `'[' is not allowed`},
		{"cid name pipe", func(o *Originate) { o.CallerIDName = "a|user/666" }, "", `'|' is not allowed`},
		{"cid name single quote", func(o *Originate) { o.CallerIDName = "O'Brien" }, "", `'\'' is not allowed`},
		{"cid name backslash", func(o *Originate) { o.CallerIDName = `a\,b` }, "", `'\\' is not allowed`},
		{"cid name caret caret", func(o *Originate) { o.CallerIDName = "^^;a" }, "", `"^^"`},
		{"cid name single caret ok", func(o *Originate) { o.CallerIDName = "a^b" },
			prefix + ",origination_caller_id_name=a^b" + suffix, ""},
		{"cid name expansion", func(o *Originate) { o.CallerIDName = "${system(reboot)}" }, "", `'{' is not allowed`},
		{"cid name newline", func(o *Originate) { o.CallerIDName = "a\napi hupall" }, "", "control characters"},
		{"cid name CR", func(o *Originate) { o.CallerIDName = "a\rb" }, "", "control characters"},
		{"cid name NUL", func(o *Originate) { o.CallerIDName = "a\x00b" }, "", "control characters"},
		{"cid name tab", func(o *Originate) { o.CallerIDName = "a\tb" }, "", "control characters"},
		{"cid name leading blank", func(o *Originate) { o.CallerIDName = " a" }, "", "leading or trailing blanks"},
		// Vars.
		{"var name with equals", func(o *Originate) { o.Vars = []Var{{"a=b,c", "d"}} }, "", "only A-Z"},
		{"var name with space", func(o *Originate) { o.Vars = []Var{{"a b", "d"}} }, "", "only A-Z"},
		{"var name empty", func(o *Originate) { o.Vars = []Var{{"", "d"}} }, "", "want 1 to 64"},
		{"var name brace", func(o *Originate) { o.Vars = []Var{{"a}", "d"}} }, "", "only A-Z"},
		{"var overrides origination_uuid", func(o *Originate) { o.Vars = []Var{{"origination_uuid", uuidB}} }, "", "set from Originate's own fields"},
		{"var overrides timeout", func(o *Originate) { o.Vars = []Var{{"originate_timeout", "1"}} }, "", "set from Originate's own fields"},
		{"var value comma", func(o *Originate) { o.Vars = []Var{{"tag", "a,origination_uuid=" + uuidB}} },
			prefix + `,tag=a\,origination_uuid=` + uuidB + suffix, ""},
		{"var value brace", func(o *Originate) { o.Vars = []Var{{"tag", "a}sofia/gw/666"}} }, "", `'}' is not allowed`},
		{"var value bracket", func(o *Originate) { o.Vars = []Var{{"tag", "a]"}} }, "", `']' is not allowed`},
		{"var value newline", func(o *Originate) { o.Vars = []Var{{"tag", "a\n"}} }, "", "control characters"},
		{"var value caret caret", func(o *Originate) { o.Vars = []Var{{"tag", "x^^|y"}} }, "", `'|' is not allowed`},
		{"var value caret caret alone", func(o *Originate) { o.Vars = []Var{{"tag", "x^^:y"}} }, "", `"^^"`},
		{"var value quote", func(o *Originate) { o.Vars = []Var{{"tag", "'"}} }, "", `'\'' is not allowed`},
		{"var value empty", func(o *Originate) { o.Vars = []Var{{"tag", ""}} }, prefix + ",tag=" + suffix, ""},
		// Timeout.
		{"timeout negative", func(o *Originate) { o.Timeout = -time.Second }, "", "negative"},
		{"timeout rounds up", func(o *Originate) { o.Timeout = time.Millisecond },
			prefix + ",originate_timeout=1" + suffix, ""},
		// Application.
		{"app with args injection", func(o *Originate) { o.App = "park() &bridge" }, "", "application"},
		{"app args space", func(o *Originate) { o.App = "playback"; o.AppArgs = "a b" }, "", `' ' is not allowed`},
		{"app args paren", func(o *Originate) { o.App = "playback"; o.AppArgs = "a) &bridge(x" }, "", `')' is not allowed`},
		{"app args close paren", func(o *Originate) { o.App = "playback"; o.AppArgs = "a)b" }, "", `')' is not allowed`},
		{"app args newline", func(o *Originate) { o.App = "playback"; o.AppArgs = "a\nb" }, "", "control characters"},
		{"app args pipe", func(o *Originate) { o.App = "playback"; o.AppArgs = "a|b" }, "", `'|' is not allowed`},
		{"app args dollar", func(o *Originate) { o.App = "playback"; o.AppArgs = "${x}" }, "", `'$' is not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mod(&o)
			got, err := o.Command()
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("accepted: %s", got)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			assertOneLine(t, got)
		})
	}
}

// assertOneLine checks what every accepted command must satisfy whatever its
// input: one line, and exactly one {} block at most.
func assertOneLine(t *testing.T, cmd string) {
	t.Helper()
	if strings.ContainsAny(cmd, "\r\n\x00") {
		t.Errorf("command spans lines: %q", cmd)
	}
	if strings.Count(cmd, "{") > 1 || strings.Count(cmd, "}") > 1 {
		t.Errorf("command has more than one variable block: %q", cmd)
	}
}

func TestEscapeValueRoundTrip(t *testing.T) {
	// splitVars mimics FreeSWITCH's two passes: the blank splitter strips the
	// quotes around a value, then the comma splitter honours `\,`.
	values := []string{"plain", "a b", "a,b", "a, b,c", "x&y", `say "hi"`, "100%", "a=b", "é ü"}
	for _, v := range values {
		esc, err := EscapeValue(v)
		if err != nil {
			t.Fatalf("EscapeValue(%q): %v", v, err)
		}
		if got := unescapeLikeFreeSWITCH(esc); got != v {
			t.Errorf("EscapeValue(%q) = %q reads back as %q", v, esc, got)
		}
	}
}

// unescapeLikeFreeSWITCH undoes quoting and `\,` the way the API blank
// splitter and the {} comma splitter do for values EscapeValue accepts.
func unescapeLikeFreeSWITCH(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	return strings.ReplaceAll(s, `\,`, ",")
}

func TestUUIDCommands(t *testing.T) {
	ok := []struct {
		got  func() (string, error)
		want string
	}{
		{func() (string, error) { return UUIDBridge(uuidA, uuidB) }, "uuid_bridge " + uuidA + " " + uuidB},
		{func() (string, error) { return UUIDKill(uuidA, "") }, "uuid_kill " + uuidA},
		{func() (string, error) { return UUIDKill(uuidA, NormalClearing) }, "uuid_kill " + uuidA + " NORMAL_CLEARING"},
		{func() (string, error) { return UUIDBroadcast(uuidA, "/sounds/hold.wav", "aleg") }, "uuid_broadcast " + uuidA + " /sounds/hold.wav aleg"},
		{func() (string, error) {
			return UUIDBroadcast(uuidA, "playback::tone_stream://%(200,0,500);loops=2", "both")
		},
			"uuid_broadcast " + uuidA + " playback::tone_stream://%(200,0,500);loops=2 both"},
		{func() (string, error) { return UUIDBreak(uuidA, false) }, "uuid_break " + uuidA},
		{func() (string, error) { return UUIDBreak(uuidA, true) }, "uuid_break " + uuidA + " all"},
		{func() (string, error) { return UUIDExists(uuidA) }, "uuid_exists " + uuidA},
		{func() (string, error) { return UUIDSetVar(uuidA, "park_after_bridge", "true") }, "uuid_setvar " + uuidA + " park_after_bridge true"},
		{func() (string, error) { return UUIDSetVar(uuidA, "note", "a b, c") }, "uuid_setvar " + uuidA + " note a b, c"},
		{func() (string, error) { return UUIDSetVar(uuidA, "note", "") }, "uuid_setvar " + uuidA + " note"},
		{func() (string, error) {
			return Chat("sip", "1000@example.com", "1002@example.com", "I'll call back, ok?")
		},
			`chat sip|1000@example.com|1002@example.com|I\'ll call back, ok?`},
		{func() (string, error) { return Hupall(NormalClearing, "bgcall_session", "s-1") }, "hupall NORMAL_CLEARING bgcall_session s-1"},
	}
	for _, tt := range ok {
		got, err := tt.got()
		if err != nil || got != tt.want {
			t.Errorf("got %q, %v; want %q", got, err, tt.want)
		}
	}

	refused := []struct {
		name    string
		call    func() (string, error)
		wantErr string
	}{
		{"bridge second uuid carries a command", func() (string, error) { return UUIDBridge(uuidA, uuidB+"\napi hupall") }, "8-4-4-4-12"},
		{"bridge to itself", func() (string, error) { return UUIDBridge(uuidA, uuidA) }, "itself"},
		{"kill with unknown cause", func() (string, error) { return UUIDKill(uuidA, "NORMAL_CLEARING\nx") }, "not a FreeSWITCH hangup cause"},
		{"kill with space uuid", func() (string, error) { return UUIDKill(uuidA+" all", "") }, "8-4-4-4-12"},
		{"broadcast path space", func() (string, error) { return UUIDBroadcast(uuidA, "/a b.wav", "aleg") }, `' ' is not allowed`},
		{"broadcast path newline", func() (string, error) { return UUIDBroadcast(uuidA, "/a.wav\n", "aleg") }, "control characters"},
		{"broadcast path quote", func() (string, error) { return UUIDBroadcast(uuidA, "'/a.wav", "aleg") }, `'\'' is not allowed`},
		{"broadcast path brace", func() (string, error) { return UUIDBroadcast(uuidA, "{x=1}/a.wav", "aleg") }, `'{' is not allowed`},
		{"broadcast path expansion", func() (string, error) { return UUIDBroadcast(uuidA, "${x}", "aleg") }, `'$' is not allowed`},
		{"broadcast bad leg", func() (string, error) { return UUIDBroadcast(uuidA, "/a.wav", "aleg bleg") }, "want aleg, bleg or both"},
		{"broadcast empty path", func() (string, error) { return UUIDBroadcast(uuidA, "", "aleg") }, "must not be empty"},
		{"setvar name injection", func() (string, error) { return UUIDSetVar(uuidA, "a b", "c") }, "only A-Z"},
		{"setvar value newline", func() (string, error) { return UUIDSetVar(uuidA, "a", "c\napi hupall") }, "control characters"},
		{"setvar value quote", func() (string, error) { return UUIDSetVar(uuidA, "a", "'c") }, `'\'' is not allowed`},
		{"setvar value expansion", func() (string, error) { return UUIDSetVar(uuidA, "a", "${system(x)}") }, `"${"`},
		{"setvar value trailing blank", func() (string, error) { return UUIDSetVar(uuidA, "a", "c ") }, "leading or trailing"},
		{"chat pipe in body", func() (string, error) { return Chat("sip", "a", "b", "hi|there") }, `'|' is not allowed`},
		{"chat pipe in to", func() (string, error) { return Chat("sip", "a", "b|c", "hi") }, `'|' is not allowed`},
		{"chat pipe in from", func() (string, error) { return Chat("sip", "a|x", "b", "hi") }, `'|' is not allowed`},
		{"chat pipe in proto", func() (string, error) { return Chat("sip|x", "a", "b", "hi") }, "protocol"},
		{"chat caret delimiter in proto", func() (string, error) { return Chat("^^:sip", "a", "b", "hi") }, "protocol"},
		{"chat newline in body", func() (string, error) { return Chat("sip", "a", "b", "hi\napi hupall") }, "control characters"},
		{"chat space in to", func() (string, error) { return Chat("sip", "a", "b c", "hi") }, `' ' is not allowed`},
		{"chat backslash in body", func() (string, error) { return Chat("sip", "a", "b", `a\|`) }, `is not allowed`},
		{"chat empty body", func() (string, error) { return Chat("sip", "a", "b", "") }, "must not be empty"},
		{"chat expansion in body", func() (string, error) { return Chat("sip", "a", "b", "${x}") }, `"${"`},
		{"hupall without filter", func() (string, error) { return Hupall(NormalClearing, "", "") }, "kills every call"},
		{"hupall without value", func() (string, error) { return Hupall(NormalClearing, "bgcall_session", "") }, "kills every call"},
		{"hupall value with space", func() (string, error) { return Hupall(NormalClearing, "bgcall_session", "a b") }, `' ' is not allowed`},
		{"hupall unknown cause", func() (string, error) { return Hupall("X Y", "a", "b") }, "not a FreeSWITCH hangup cause"},
	}
	for _, tt := range refused {
		got, err := tt.call()
		if err == nil {
			t.Errorf("%s: accepted %q", tt.name, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestValidNumber(t *testing.T) {
	good := []string{"12", "+4930123456", "1002", strings.Repeat("9", 32)}
	bad := []string{"", "1", "+", "+1", "12a", "12 3", "1,2", "*77", "#1", "1\n2", "１２", "++12", strings.Repeat("9", 33), "12;x", "12@x"}
	for _, s := range good {
		if err := ValidNumber(s); err != nil {
			t.Errorf("ValidNumber(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if ValidNumber(s) == nil {
			t.Errorf("ValidNumber(%q) accepted", s)
		}
	}
	if ValidFeatureCode("*77#") != nil || ValidFeatureCode("*7 7") == nil || ValidFeatureCode("") == nil {
		t.Error("ValidFeatureCode")
	}
}

func TestDialTemplate(t *testing.T) {
	vars := map[string]string{"domain": "example.com", "gw": "gw1"}
	tests := []struct {
		tpl, number, want, wantErr string
	}{
		{"user/{number}@{domain}", "1002", "user/1002@example.com", ""},
		{"sofia/gateway/{gw}/{number}", "+4930123", "sofia/gateway/gw1/+4930123", ""},
		{"user/{number}@{domain}", "1002,user/666", "", "only digits"},
		{"user/{number}@{domain}", "1002|user/666", "", "only digits"},
		{"user/{number}@{domain}", "1002 &bridge", "", "only digits"},
		{"user/{number}@{domain}", "{x=1}1002", "", "only digits"},
		{"user/{number}@{domain}", "[x=1]1002", "", "only digits"},
		{"user/{number}@{domain}", "1002\n", "", "only digits"},
		{"user/{number}@{domain}", "1002'", "", "only digits"},
		{"user/{number}@{domain}", "^^:1002", "", "only digits"},
		{"user/{number}@{missing}", "1002", "", "no value for {missing}"},
		{"user/1002", "1002", "", "no {number} placeholder"},
		{"user/{number", "1002", "", "no {number} placeholder"},
		{"user/{number}@{domain", "1002", "", "unclosed"},
		{"user/{number} &echo", "1002", "", `' ' is not allowed`},
	}
	for _, tt := range tests {
		got, err := DialTemplate(tt.tpl).Endpoint(tt.number, vars)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q with %q: got %q, %v; want error with %q", tt.tpl, tt.number, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q with %q: got %q, %v; want %q", tt.tpl, tt.number, got, err, tt.want)
		}
	}
	// A template variable cannot smuggle a destination either.
	if _, err := DialTemplate("user/{number}@{domain}").Endpoint("1002", map[string]string{"domain": "x.com,user/666"}); err == nil {
		t.Error("template variable with a comma accepted")
	}
}

func TestNoSuchChannel(t *testing.T) {
	for body, want := range map[string]bool{
		"-ERR No such channel!\n": true,
		"-ERR no such channel\n":  true,
		"-ERR Invalid uuid\n":     false,
		"-ERR NO_ANSWER\n":        false,
		"+OK\n":                   false,
	} {
		_, err := ParseResult(body)
		if got := NoSuchChannel(fmt.Errorf("fs1: api uuid_kill: %w", err)); got != want {
			t.Errorf("%q: NoSuchChannel = %v, want %v", body, got, want)
		}
	}
	if NoSuchChannel(errors.New("connection lost")) {
		t.Error("a transport error read as no such channel")
	}
}
