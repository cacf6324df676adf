package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args, env []string) (Config, error) {
	t.Helper()
	return Load(args, env, io.Discard)
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if c.ReplicaID == "" {
		t.Error("replica id not defaulted to the host name")
	}
	if !c.Redis.Embedded() {
		t.Error("default Redis is not the embedded store")
	}
}

func TestPrecedenceFlagsEnvFileDefaults(t *testing.T) {
	file := writeFile(t, "bgcall.conf", `
# the file sets all three
[retry]
ring_time = 11s
first_interval = "11s"
max_interval = 11m
`)
	env := []string{
		"BGCALL_CONFIG=" + file,
		"BGCALL_RETRY_FIRST_INTERVAL=22s",
		"BGCALL_RETRY_MAX_INTERVAL=22m",
		"PATH=/bin",
	}
	c, err := load(t, []string{"--retry-max-interval", "33m"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Retry.RingTime != 11*time.Second {
		t.Errorf("ring time %v, want the file's 11s", c.Retry.RingTime)
	}
	if c.Retry.FirstInterval != 22*time.Second {
		t.Errorf("first interval %v, want the environment's 22s", c.Retry.FirstInterval)
	}
	if c.Retry.MaxInterval != 33*time.Minute {
		t.Errorf("max interval %v, want the flag's 33m", c.Retry.MaxInterval)
	}
	if c.Retry.Backoff != Defaults().Retry.Backoff {
		t.Errorf("backoff %v, want the default", c.Retry.Backoff)
	}
}

func TestConfigFlagBeatsEnvironmentFile(t *testing.T) {
	a := writeFile(t, "a.conf", "namespace = from-a\n")
	b := writeFile(t, "b.conf", "namespace = from-b\n")
	c, err := load(t, []string{"--config", b}, []string{"BGCALL_CONFIG=" + a})
	if err != nil {
		t.Fatal(err)
	}
	if c.Namespace != "from-b" {
		t.Errorf("namespace %q, want from-b (the --config file)", c.Namespace)
	}
}

func TestFileFormats(t *testing.T) {
	kv := `
freeswitch.nodes = ["edge1=secret@10.0.0.1:8021", "10.0.0.2:8021"]
redis.addrs = "10.0.0.9:6379" # trailing comment
redis.tls = true
api.token = "0123456789abcdef#not-a-comment"
[limits]
per_caller = 2
`
	js := `{
  "freeswitch": {"nodes": ["edge1=secret@10.0.0.1:8021", "10.0.0.2:8021"]},
  "redis": {"addrs": ["10.0.0.9:6379"], "tls": true},
  "api.token": "0123456789abcdef#not-a-comment",
  "limits": {"per_caller": 2}
}`
	for name, text := range map[string]string{"kv.conf": kv, "c.json": js} {
		t.Run(name, func(t *testing.T) {
			c, err := load(t, []string{"--config", writeFile(t, name, text)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantNodes := []Node{{Name: "edge1", Addr: "10.0.0.1:8021", Password: "secret"}, {Name: "fs2", Addr: "10.0.0.2:8021"}}
			if !reflect.DeepEqual(c.FreeSWITCH.Nodes, wantNodes) {
				t.Errorf("nodes %+v, want %+v", c.FreeSWITCH.Nodes, wantNodes)
			}
			if !reflect.DeepEqual(c.Redis.Addrs, []string{"10.0.0.9:6379"}) || !c.Redis.TLS {
				t.Errorf("redis %+v", c.Redis)
			}
			if c.API.Token != "0123456789abcdef#not-a-comment" {
				t.Errorf("token %q", c.API.Token)
			}
			if c.Limits.PerCaller != 2 {
				t.Errorf("per caller %d", c.Limits.PerCaller)
			}
		})
	}
}

func TestUnknownFileKeyNamesKeyAndLine(t *testing.T) {
	f := writeFile(t, "bad.conf", "namespace = x\nretry.ringtime = 3s\n")
	_, err := load(t, []string{"--config", f}, nil)
	if err == nil || !strings.Contains(err.Error(), `"retry.ringtime"`) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v, want one naming retry.ringtime on line 2", err)
	}
}

func TestBadValuesNameTheirSource(t *testing.T) {
	for _, tc := range []struct {
		args, env []string
		want      string
	}{
		{env: []string{"BGCALL_RETRY_RING_TIME=30"}, want: "BGCALL_RETRY_RING_TIME"},
		{args: []string{"--limits-per-caller", "many"}, want: "limits-per-caller"},
		{args: []string{"--retry-quiet-start", "25:00"}, want: "retry-quiet-start"},
		{args: []string{"--retry-causes", "USER_BUSY=maybe"}, want: "action must be fail or retry"},
		{args: []string{"stray"}, want: `unexpected argument "stray"`},
	} {
		_, err := load(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %v env %v: error %v, want it to mention %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := Load([]string{"-h"}, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-retry-ring-time") || !strings.Contains(out.String(), "BGCALL_RETRY_RING_TIME") {
		t.Errorf("usage lacks a setting:\n%s", out.String())
	}
}

func TestBoolFlagWithoutValue(t *testing.T) {
	c, err := load(t, []string{"--redis-tls", "--redis-addrs", "r:6379"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Redis.TLS {
		t.Error("--redis-tls did not turn TLS on")
	}
}

func TestValidateNamesSettingAndFix(t *testing.T) {
	for _, tc := range []struct {
		key    string
		change func(*Config)
	}{
		{"freeswitch.nodes", func(c *Config) { c.FreeSWITCH.Nodes = nil }},
		{"freeswitch.nodes", func(c *Config) { c.FreeSWITCH.Nodes = []Node{{Name: "a", Addr: "nohost"}} }},
		{"freeswitch.nodes", func(c *Config) { c.FreeSWITCH.Nodes = []Node{{Name: "a", Addr: "h:1"}, {Name: "a", Addr: "h:2"}} }},
		{"freeswitch.password", func(c *Config) { c.FreeSWITCH.Password = "" }},
		{"freeswitch.command_connections", func(c *Config) { c.FreeSWITCH.CommandConnections = 0 }},
		{"freeswitch.command_connections", func(c *Config) { c.FreeSWITCH.CommandConnections = 65 }},
		{"dial.callee_template", func(c *Config) { c.Dial.CalleeTemplate = "user/1000" }},
		{"dial.caller_template", func(c *Config) { c.Dial.CallerTemplate = "user/{number},x" }},
		{"dial.caller_template", func(c *Config) { c.Dial.CallerTemplate = "user/{number}@{host}" }},
		{"dial.callee_template", func(c *Config) { c.Dial.CalleeTemplate = "user/{number}|user/2" }},
		{"dial.callee_template", func(c *Config) {
			c.Dial.Domain = "example.com"
			c.Dial.CalleeTemplate = "user/{number}@{domain}&bridge(user/1)"
		}},
		{"dial.domain", func(c *Config) { c.Dial.CalleeTemplate = "user/{number}@{domain}" }},
		{"dial.domain", func(c *Config) { c.Notify.Mode = "chat" }},
		{"redis.cluster", func(c *Config) { c.Redis.Addrs = []string{"r:1"}; c.Redis.Master = "m"; c.Redis.Cluster = true }},
		{"redis.addrs", func(c *Config) { c.Redis.Master = "m" }},
		{"redis.addrs", func(c *Config) { c.Redis.Addrs = []string{"r:1", "r:2"} }},
		{"redis.db", func(c *Config) { c.Redis.Addrs = []string{"r:1"}; c.Redis.Cluster = true; c.Redis.DB = 2 }},
		{"redis.tls_ca", func(c *Config) { c.Redis.TLS = true; c.Redis.TLSCA = "/nonexistent/ca.pem" }},
		{"namespace", func(c *Config) { c.Namespace = "{x}" }},
		{"retry.ring_time", func(c *Config) { c.Retry.RingTime = 0 }},
		{"retry.backoff", func(c *Config) { c.Retry.Backoff = 0.5 }},
		{"retry.jitter", func(c *Config) { c.Retry.Jitter = 2 }},
		{"retry.max_interval", func(c *Config) { c.Retry.MaxInterval = time.Second }},
		{"retry.max_total", func(c *Config) { c.Retry.MaxTotal = 0 }},
		{"retry.quiet_start", func(c *Config) { c.Retry.QuietEnd = -1 }},
		{"retry.quiet_end", func(c *Config) { c.Retry.QuietEnd = c.Retry.QuietStart }},
		{"retry.timezone", func(c *Config) { c.Retry.Timezone = "Mars/Olympus" }},
		{"retry.causes", func(c *Config) {
			c.Retry.Causes = append(c.Retry.Causes, CauseRule{Cause: "USER_BUSY", Action: ActionFail})
		}},
		{"prompts.hold", func(c *Config) { c.Prompts.Hold = "" }},
		{"caller_busy.check", func(c *Config) { c.CallerBusy.Check = "presence" }},
		{"caller_busy.command", func(c *Config) { c.CallerBusy.Check = "command" }},
		{"caller_busy.command", func(c *Config) { c.CallerBusy.Check, c.CallerBusy.Command = "command", "hash select/busy/1001" }},
		{"caller_busy.command", func(c *Config) {
			c.CallerBusy.Check, c.CallerBusy.Command = "command", "hash select/busy/{number}|fsctl shutdown"
		}},
		{"caller_busy.command", func(c *Config) { c.CallerBusy.Check, c.CallerBusy.Command = "command", "eval ${number}" }},
		{"caller_busy.busy_reply", func(c *Config) {
			c.CallerBusy.Check, c.CallerBusy.Command, c.CallerBusy.BusyReply = "command", "hash select/busy/{number}", "(true"
		}},
		{"caller_busy.wait", func(c *Config) { c.CallerBusy.Wait = -time.Second }},
		{"caller_busy.wait", func(c *Config) { c.CallerBusy.Wait = time.Hour }},
		{"caller_busy.interval", func(c *Config) { c.CallerBusy.Interval = 0 }},
		{"caller_busy.interval", func(c *Config) { c.CallerBusy.Interval = time.Minute }},
		{"caller_busy.defer", func(c *Config) { c.CallerBusy.BeforeCallee, c.CallerBusy.Defer = true, 0 }},
		{"prompts.confirm", func(c *Config) { c.Prompts.Confirm = "" }},
		{"prompts.confirm", func(c *Config) { c.Prompts.Confirm = "phrase::confirm:${caller_id_number}" }},
		{"prompts.confirm", func(c *Config) { c.Prompts.Confirm = "say::{callee}" }},
		{"retry.voicemail_after", func(c *Config) { c.Retry.VoicemailAfter = -time.Second }},
		{"confirm.timeout", func(c *Config) { c.Confirm.Timeout = 0 }},
		{"confirm.timeout", func(c *Config) { c.Confirm.Timeout = time.Hour }},
		{"notify.mode", func(c *Config) { c.Notify.Mode = "sms" }},
		{"notify.webhook_url", func(c *Config) { c.Notify.Mode = "webhook"; c.Notify.WebhookURL = "ftp://x" }},
		{"limits.per_callee", func(c *Config) { c.Limits.PerCallee = 0 }},
		{"webhooks.url", func(c *Config) { c.Webhooks.URL, c.Webhooks.Secret = "ftp://hooks.example.com/", "0123456789abcdef" }},
		{"webhooks.url", func(c *Config) { c.Webhooks.URL, c.Webhooks.Secret = "https:///no-host", "0123456789abcdef" }},
		{"webhooks.secret", func(c *Config) { c.Webhooks.URL = "https://hooks.example.com/" }},
		{"webhooks.secret", func(c *Config) { c.Webhooks.AllowRequestURL = true }},
		{"webhooks.secret", func(c *Config) { c.Webhooks.URL, c.Webhooks.Secret = "https://hooks.example.com/", "short" }},
		{"webhooks.allowed_prefixes", func(c *Config) { c.Webhooks.AllowedPrefixes = []string{"https://hooks.example.com/"} }},
		{"webhooks.allowed_prefixes", func(c *Config) {
			c.Webhooks.AllowRequestURL, c.Webhooks.Secret, c.Webhooks.AllowedPrefixes = true, "0123456789abcdef", []string{"hooks.example.com"}
		}},
		{"webhooks.allowed_prefixes", func(c *Config) {
			c.Webhooks.AllowRequestURL, c.Webhooks.Secret, c.Webhooks.AllowedPrefixes = true, "0123456789abcdef", []string{"https://crm.example.com"}
		}},
		{"webhooks.timeout", func(c *Config) { c.Webhooks.Timeout = 0 }},
		{"webhooks.timeout", func(c *Config) { c.Webhooks.Timeout = 20 * time.Second }},
		{"webhooks.max_attempts", func(c *Config) { c.Webhooks.MaxAttempts = 0 }},
		{"webhooks.first_retry", func(c *Config) { c.Webhooks.FirstRetry = 0 }},
		{"webhooks.max_retry_interval", func(c *Config) { c.Webhooks.MaxRetry = 100 * time.Millisecond }},
		{"webhooks.claim_idle", func(c *Config) { c.Webhooks.ClaimIdle = time.Second }},
		{"webhooks.max_backlog", func(c *Config) { c.Webhooks.MaxBacklog = 10 }},
		{"api.listen", func(c *Config) { c.API.Listen = "8080" }},
		{"api.token", func(c *Config) { c.API.Listen = ":8080" }},
		{"api.token", func(c *Config) { c.API.Token = "short" }},
		{"pprof.listen", func(c *Config) { c.Metrics.PprofListen = "6060" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
		{"log.level", func(c *Config) { c.Log.Level = "loud" }},
		{"replica.id", func(c *Config) { c.ReplicaID = "a b" }},
		{"drain.timeout", func(c *Config) { c.Drain = -time.Second }},
		{"replica.lease_ttl", func(c *Config) { c.LeaseTTL = 0 }},
		{"phone.optout_prefix", func(c *Config) { c.Phone.Enabled = true; c.Phone.OptOutPrefix = "*8a" }},
		{"phone.optout_prefix", func(c *Config) { c.Phone.Enabled = true; c.Phone.OptOutPrefix = c.Phone.OnPrefix }},
		{"phone.optin_prefix", func(c *Config) { c.Phone.Enabled = true; c.Phone.OptInPrefix = c.Phone.OptOutPrefix }},
	} {
		c := Defaults()
		tc.change(&c)
		err := c.Validate()
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: Validate() = %v, want *Error", tc.key, err)
			continue
		}
		found := false
		for _, p := range ce.Problems {
			found = found || p.Key == tc.key
		}
		if !found {
			t.Errorf("%s: problems %+v do not name it", tc.key, ce.Problems)
		}
		s, _ := lookup(tc.key)
		if !strings.Contains(err.Error(), s.env()) || !strings.Contains(err.Error(), "--"+s.flag()) {
			t.Errorf("%s: message does not say how to set it:\n%v", tc.key, err)
		}
	}
}

func TestEverySettingRoundTrips(t *testing.T) {
	// Each setting's default, printed and read back, is the default again:
	// the reference shows values an operator can paste.
	def := Defaults()
	for _, s := range settings {
		if s.key == "freeswitch.nodes" {
			continue // passwords are masked when printed
		}
		c := Defaults()
		if err := s.set(&c, s.get(&def)); err != nil {
			t.Errorf("%s: default %q does not parse: %v", s.key, s.get(&def), err)
			continue
		}
		if !reflect.DeepEqual(c, def) {
			t.Errorf("%s: %q read back changes the configuration", s.key, s.get(&def))
		}
	}
}

func TestKeysAreUniqueAndDerivedNamesToo(t *testing.T) {
	envs, flags := map[string]string{}, map[string]string{}
	for _, s := range settings {
		if k, dup := envs[s.env()]; dup {
			t.Errorf("%s and %s share %s", k, s.key, s.env())
		}
		if k, dup := flags[s.flag()]; dup {
			t.Errorf("%s and %s share --%s", k, s.key, s.flag())
		}
		envs[s.env()], flags[s.flag()] = s.key, s.key
	}
}

func TestParseCauseRules(t *testing.T) {
	got, err := ParseCauseRules("user_busy=retry:90s:max=4, CALL_REJECTED=retry:max=2,UNALLOCATED_NUMBER=fail")
	if err != nil {
		t.Fatal(err)
	}
	want := []CauseRule{
		{Cause: "USER_BUSY", Action: ActionRetry, Delay: 90 * time.Second, GiveUpAfter: 4},
		{Cause: "CALL_REJECTED", Action: ActionRetry, GiveUpAfter: 2},
		{Cause: "UNALLOCATED_NUMBER", Action: ActionFail},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"USER_BUSY", "USER_BUSY=fail:1m", "USER_BUSY=retry:soon", "USER_BUSY=retry:max=0"} {
		if _, err := ParseCauseRules(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the configuration reference in docs/operations.md")

const (
	refStart = "<!-- config-reference:start (generated by `go test ./config -update`) -->\n"
	refEnd   = "<!-- config-reference:end -->"
)

// TestReferenceMatchesDocs keeps the documented table, defaults included,
// equal to the code.
func TestReferenceMatchesDocs(t *testing.T) {
	path := filepath.Join("..", "docs", "operations.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, refStart), strings.Index(doc, refEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the reference markers %q ... %q", path, refStart, refEnd)
	}
	want := Reference()
	got := doc[i+len(refStart) : j]
	if got == want {
		return
	}
	if *update {
		doc = doc[:i+len(refStart)] + want + doc[j:]
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the code; run `go test ./config -update`.\nwant:\n%s", path, want)
}

func TestFormatReadsBackAndHidesSecrets(t *testing.T) {
	c := Defaults()
	c.API.Token = "0123456789abcdef0123"
	c.Redis.Password = "hunter2hunter2"
	c.Redis.Addrs = []string{"10.1.1.1:6379"}
	c.Retry.MaxAttempts = 4
	text := Format(c)
	for _, secret := range []string{c.API.Token, c.Redis.Password, "ClueCon"} {
		if strings.Contains(text, secret) {
			t.Errorf("Format shows the secret %q:\n%s", secret, text)
		}
	}
	// Without the secrets the printed file loads back to the same configuration.
	var kept []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, "<redacted>") {
			kept = append(kept, line)
		}
	}
	got, err := load(t, []string{"--config", writeFile(t, "printed.conf", strings.Join(kept, "\n")),
		"--api-token", c.API.Token, "--redis-password", c.Redis.Password, "--freeswitch-password", "ClueCon"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got.ReplicaID = c.ReplicaID
	if !reflect.DeepEqual(got, c) {
		t.Errorf("read back:\n%+v\nwant:\n%+v", got, c)
	}
}

// TestWebhookRequestURLCheck: a request's callback URL is refused unless
// allowed, and then must start with an allowed prefix when there are any.
func TestWebhookRequestURLCheck(t *testing.T) {
	w := Defaults().Webhooks
	if w.RequestURLCheck() != nil {
		t.Fatal("request URLs allowed by default")
	}
	w.AllowRequestURL = true
	if err := w.RequestURLCheck()("https://anything.example.com/"); err != nil {
		t.Errorf("no prefixes: %v", err)
	}
	w.AllowedPrefixes = []string{"https://crm.example.com/hooks/", "https://ops.example.com/"}
	check := w.RequestURLCheck()
	if err := check("https://ops.example.com/bgcall"); err != nil {
		t.Errorf("an allowed prefix: %v", err)
	}
	for _, u := range []string{"https://crm.example.com/other", "https://ops.example.com.evil.net/", "http://ops.example.com/"} {
		if err := check(u); err == nil || !strings.Contains(err.Error(), "https://crm.example.com/hooks/") {
			t.Errorf("%s: %v; want refused, naming the allowed prefixes", u, err)
		}
	}
	// A URL that starts with a prefix but whose path climbs out of it
	// once the endpoint's server resolves it: the prefix would not limit
	// where bgcall posts.
	for _, u := range []string{
		"https://crm.example.com/hooks/../admin/reset",
		"https://crm.example.com/hooks/./../admin",
		"https://crm.example.com/hooks/%2e%2e/admin",
		"https://crm.example.com/hooks/%2E./admin",
		"https://crm.example.com/hooks/..%2fadmin",
		"https://crm.example.com/hooks/..%5cadmin",
		"https://crm.example.com/hooks/..;/admin",
		"https://crm.example.com/hooks/..",
	} {
		if err := check(u); err == nil || !strings.Contains(err.Error(), "..") {
			t.Errorf("%s: %v; want refused, naming the dot segments", u, err)
		}
	}
	for _, u := range []string{"https://crm.example.com/hooks/a..b", "https://crm.example.com/hooks/x?next=../y", "https://crm.example.com/hooks/.well"} {
		if err := check(u); err != nil {
			t.Errorf("%s: %v; want allowed", u, err)
		}
	}
	c := Defaults()
	c.Webhooks = w
	c.Webhooks.Secret = "0123456789abcdef"
	if err := c.Validate(); err != nil {
		t.Errorf("a valid webhooks section: %v", err)
	}
}

// TestWarnings: a ring time that reaches the network's voicemail delay
// without confirmation is warned about, naming the setting and the fixes,
// and is no error; confirmation, a shorter ring or an unknown delay
// silence it.
func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string // keys warned about
	}{
		{"defaults: the delay is unknown", func(*Config) {}, nil},
		{"30s rings past a 20s network", func(c *Config) { c.Retry.VoicemailAfter = 20 * time.Second }, []string{"retry.ring_time"}},
		{"ring time equal to the delay", func(c *Config) {
			c.Retry.RingTime, c.Retry.VoicemailAfter = 20*time.Second, 20*time.Second
		}, []string{"retry.ring_time"}},
		{"ring time below the delay", func(c *Config) {
			c.Retry.RingTime, c.Retry.VoicemailAfter = 15*time.Second, 20*time.Second
		}, nil},
		{"confirmation on", func(c *Config) { c.Confirm.Enabled, c.Retry.VoicemailAfter = true, 20*time.Second }, nil},
		{"machine detection without confirmation", func(c *Config) {
			c.Retry.RingTime = 15 * time.Second
			c.Confirm.MachineDetection = true
		}, []string{"confirm.machine_detection"}},
		{"callback URLs per request to any host", func(c *Config) {
			c.Retry.RingTime = 15 * time.Second
			c.Webhooks.AllowRequestURL, c.Webhooks.Secret = true, "0123456789abcdef"
		}, []string{"webhooks.allowed_prefixes"}},
		{"callback URLs per request under prefixes", func(c *Config) {
			c.Retry.RingTime = 15 * time.Second
			c.Webhooks.AllowRequestURL, c.Webhooks.Secret = true, "0123456789abcdef"
			c.Webhooks.AllowedPrefixes = []string{"https://crm.example.com/hooks/"}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.change(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("a warning must not be an error: %v", err)
			}
			var keys []string
			for _, w := range c.Warnings() {
				keys = append(keys, w.Key)
				if w.Key == "retry.ring_time" && (!strings.Contains(w.Problem, "retry.voicemail_after") || !strings.Contains(w.Problem, "confirm.enabled")) {
					t.Errorf("warning %q does not name the delay and the fix", w.Problem)
				}
				if w.Key == "webhooks.allowed_prefixes" && !strings.Contains(w.Problem, "https://crm.example.com/hooks/") {
					t.Errorf("warning %q does not show the fix", w.Problem)
				}
			}
			if !slices.Equal(keys, tc.want) {
				t.Errorf("warnings about %v, want %v", keys, tc.want)
			}
		})
	}
}
