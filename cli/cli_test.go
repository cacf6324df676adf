package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bgcall/api"
	"bgcall/app"
	"bgcall/cli"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
	"bgcall/session"
	"bgcall/store"
)

var redisAddr string

func TestMain(m *testing.M) {
	os.Exit(redistest.Main(m, func(s *redistest.Server) { redisAddr = s.Addr }))
}

const token = "cli-test-token-0123456789"

var namespaces atomic.Int64

// testConfig is a daemon configuration on sim and the test's redis-server,
// with short timings and no quiet hours.
func testConfig(sim *fssim.Node) config.Config {
	c := config.Defaults()
	c.ReplicaID = fmt.Sprintf("cli-test-%d", namespaces.Add(1))
	c.Namespace = c.ReplicaID
	c.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: sim.Addr(), Password: sim.Password()}}
	c.Redis.Addrs = []string{redisAddr}
	c.API.Listen = "127.0.0.1:0"
	c.API.Token = token
	c.Dial.Domain = "example.com"
	c.Dial.CalleeTemplate = "user/{number}@{domain}"
	c.Dial.CallerTemplate = "user/{number}@{domain}"
	c.Retry.RingTime = 3 * time.Second
	c.Retry.CallerRing = 3 * time.Second
	c.Retry.FirstInterval = 100 * time.Millisecond
	c.Retry.MaxInterval = 200 * time.Millisecond
	c.Retry.Jitter = 0
	c.Retry.QuietStart, c.Retry.QuietEnd = -1, -1
	c.Drain = 0
	return c
}

type daemon struct {
	t   *testing.T
	sim *fssim.Node
	api string
}

func startDaemon(t *testing.T, simOpts fssim.Options, change func(*config.Config)) *daemon {
	t.Helper()
	if simOpts.Second == 0 {
		simOpts.Second = 50 * time.Millisecond
	}
	sim, err := fssim.Start(simOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg := testConfig(sim)
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := app.Start(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engine: func(o *session.Options) { o.ParkTimeout = 10 * time.Second * (time.Second / simOpts.Second) }})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	dm := &daemon{t: t, sim: sim, api: "http://" + d.APIAddr()}
	c := &api.Client{Base: dm.api}
	testutil.WaitFor(t, "the daemon to be ready", func() bool { return c.Ready(context.Background()) == nil })
	return dm
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs bgcall with args against the daemon, as a shell would with
// BGCALL_API_LISTEN and BGCALL_API_TOKEN set.
func (d *daemon) run(args ...string) result {
	d.t.Helper()
	return d.runCtx(context.Background(), args...)
}

func (d *daemon) runCtx(ctx context.Context, args ...string) result {
	var out, errOut testutil.SyncBuffer
	code := cli.Main(ctx, args, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: d.getenv})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func (d *daemon) getenv(k string) string {
	switch k {
	case "BGCALL_API_LISTEN":
		return d.api
	case "BGCALL_API_TOKEN":
		return token
	}
	return ""
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func sessionID(t *testing.T, r result) string {
	t.Helper()
	var s api.Session
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.ID == "" {
		t.Fatalf("not a session (%v): %s %s", err, r.stdout, r.stderr)
	}
	return s.ID
}

func TestUsageAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &errOut}
	if code := cli.Main(context.Background(), nil, env); code != cli.ExitUsage || !strings.Contains(errOut.String(), "watch") {
		t.Errorf("no arguments: exit %d, usage %q", code, errOut.String())
	}
	if code := cli.Main(context.Background(), []string{"frobnicate"}, env); code != cli.ExitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
	out.Reset()
	if code := cli.Main(context.Background(), []string{"version"}, env); code != 0 || !strings.HasPrefix(out.String(), "bgcall ") {
		t.Errorf("version: exit %d, %q", code, out.String())
	}
	out.Reset()
	cli.Main(context.Background(), []string{"version", "--json"}, env)
	var v map[string]string
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v["version"] == "" || v["go_version"] == "" {
		t.Errorf("version --json: %q (%v)", out.String(), err)
	}
}

func TestCallStatusListCancel(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.RingTime = 60 * time.Second // ring until cancelled
	})

	r := d.run("call", "1001", "1002")
	if r.code != 0 {
		t.Fatalf("call: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "call", r.stdout, "created", "1001", "1002")
	r = d.run("call", "--json", "1001", "1002")
	id := sessionID(t, r)
	r = d.run("call", "1001", "1002")
	mustContain(t, "repeated call", r.stdout, "already exists", id)

	r = d.run("call", "1001", "1002,origination_caller_id_number=666")
	if r.code != cli.ExitError {
		t.Errorf("call with an injected callee: exit %d", r.code)
	}
	mustContain(t, "refused call", r.stderr, "callee")
	if r := d.run("call", "1001"); r.code != cli.ExitUsage {
		t.Errorf("call with one number: exit %d", r.code)
	}

	r = d.run("call", "--dry-run", "1003", "1004")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "bgapi originate {") || !strings.Contains(lines[0], "user/1004@example.com") || !strings.Contains(lines[1], "user/1003@example.com") {
		t.Errorf("dry run printed:\n%s", r.stdout)
	}

	r = d.run("status", id)
	if r.code != 0 {
		t.Fatalf("status: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "status", r.stdout, id, "caller (A)", "1001", "timeline:", "requested")
	r = d.run("status", id, "--json")
	if sessionID(t, r) != id {
		t.Errorf("status --json shows another session")
	}
	if r := d.run("status", "0000000000000000000a"); r.code != cli.ExitError || !strings.Contains(r.stderr, "no session") {
		t.Errorf("status of an unknown id: exit %d %q", r.code, r.stderr)
	}

	d.run("call", "1005", "1006")
	r = d.run("list", "--caller", "1001")
	if r.code != 0 {
		t.Fatalf("list: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "list", r.stdout, "ID", id)
	if strings.Contains(r.stdout, "1005") {
		t.Errorf("list --caller 1001 shows 1005:\n%s", r.stdout)
	}
	r = d.run("list", "--json", "--limit", "1", "--all")
	var lr api.ListResponse
	if err := json.Unmarshal([]byte(r.stdout), &lr); err != nil || len(lr.Sessions) != 2 {
		t.Errorf("list --all --json: %d sessions (%v)\n%s", len(lr.Sessions), err, r.stdout)
	}
	if r := d.run("list", "--state", "ringing"); r.code != cli.ExitError || !strings.Contains(r.stderr, "state") {
		t.Errorf("list with a bad state: exit %d %q", r.code, r.stderr)
	}

	r = d.run("cancel", id)
	if r.code != 0 {
		t.Fatalf("cancel: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "cancel", r.stdout, id, "finished", "cancelled")
	if r := d.run("cancel", id); r.code != cli.ExitError || !strings.Contains(r.stderr, "finished") {
		t.Errorf("second cancel: exit %d %q", r.code, r.stderr)
	}
	r = d.run("list", "--state", "finished", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &lr); err != nil || len(lr.Sessions) != 1 || lr.Sessions[0].Outcome != "cancelled" {
		t.Errorf("finished sessions: %s", r.stdout)
	}
}

func TestCallWaitShowsProgress(t *testing.T) {
	d := startDaemon(t, fssim.Options{Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer, Ring: 50 * time.Millisecond}},
		"1002": {{Action: fssim.NoAnswer}, {Action: fssim.Answer, Ring: 50 * time.Millisecond, Talk: 2 * time.Second}},
		"1003": {{Action: fssim.NoAnswer}},
	}}, func(c *config.Config) {
		// 3 simulated seconds of ringing: far ends answer after one.
		c.Retry.RingTime = 3 * time.Second
		c.Retry.MaxAttempts = 2
	})

	r := d.run("call", "--wait", "--max-attempts", "3", "1001", "1002")
	if r.code != 0 {
		t.Fatalf("call --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "call --wait", r.stdout,
		"attempt 1 of 3: ringing B (1002)", "B did not answer (NO_ANSWER)", "attempt 2 of 3",
		"B answered; B on hold", "ringing A (1001)", "bridged", "outcome: completed")
	for _, once := range []string{"requested", "attempt 1 of 3", "attempt 2 of 3", "B answered", "bridged", "outcome:"} {
		if n := strings.Count(r.stdout, once); n != 1 {
			t.Errorf("%q printed %d times:\n%s", once, n, r.stdout)
		}
	}
	order := []string{"attempt 1 of 3", "attempt 2 of 3", "B answered", "ringing A", "bridged", "outcome: completed"}
	last := -1
	for _, w := range order {
		i := strings.Index(r.stdout, w)
		if i < last {
			t.Errorf("%q printed out of order:\n%s", w, r.stdout)
		}
		last = i
	}

	// Without an override the daemon's retry.max_attempts applies.
	r = d.run("call", "--wait", "1004", "1003")
	if r.code != cli.ExitOutcome {
		t.Errorf("call --wait that expires: exit %d, want %d\n%s", r.code, cli.ExitOutcome, r.stdout)
	}
	mustContain(t, "expired call", r.stdout, "attempt 2 of 2", "outcome: expired")
}

func TestWatch(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.RingTime = 60 * time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"watch", "--caller", "1001"}, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: d.getenv})
	}()
	testutil.WaitFor(t, "watch to subscribe", func() bool { return strings.Contains(errOut.String(), "watching") })
	id := sessionID(t, d.run("call", "--json", "1001", "1002"))
	d.run("call", "1009", "1002")
	testutil.WaitFor(t, "the first attempt", func() bool { return strings.Contains(out.String(), "attempt 1") })
	d.run("cancel", id)
	testutil.WaitFor(t, "the cancel", func() bool { return strings.Contains(out.String(), "outcome: cancelled") })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("watch: exit %d %s", code, errOut.String())
	}
	mustContain(t, "watch", out.String(), id, "1001→1002", "attempt 1", "cancelled")

	// --json: one object per line.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var jsonOut, jsonErr testutil.SyncBuffer
	go func() {
		done <- cli.Main(ctx, []string{"watch", "--json"}, cli.Env{Stdout: &jsonOut, Stderr: &jsonErr, Getenv: d.getenv})
	}()
	// A new session each round, until the stream (subscribed at some
	// point) has shown two changes.
	n := 0
	testutil.WaitFor(t, "JSON changes", func() bool {
		n++
		d.run("call", fmt.Sprint(2000+n), fmt.Sprint(3000+n))
		return strings.Count(jsonOut.String(), "\n") >= 2
	})
	cancel()
	<-done
	for _, line := range strings.Split(strings.TrimSpace(jsonOut.String()), "\n") {
		var ch api.Change
		if err := json.Unmarshal([]byte(line), &ch); err != nil || ch.Session.ID == "" {
			t.Errorf("watch --json line %q is not one change (%v)", line, err)
		}
	}
	if strings.Contains(out.String(), "1009") {
		t.Errorf("watch --caller 1001 printed 1009's session:\n%s", out.String())
	}
}

func TestSim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--password", "s3cret"}, cli.Env{Stdout: &out, Stderr: &errOut})
	}()
	var addr string
	deadline := time.Now().Add(5 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if _, rest, ok := strings.Cut(out.String(), "listening on "); ok {
			addr, _, _ = strings.Cut(rest, " ")
		}
	}
	if addr == "" {
		t.Fatalf("sim printed no address: %q %q", out.String(), errOut.String())
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	greeting := make([]byte, 64)
	n, _ := conn.Read(greeting)
	conn.Close()
	if !strings.Contains(string(greeting[:n]), "auth/request") {
		t.Errorf("sim greeting %q", greeting[:n])
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("sim exit %d: %s", code, errOut.String())
	}
}

func TestServe(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()

	var out, errOut testutil.SyncBuffer
	env := cli.Env{Stdout: &out, Stderr: &errOut, Environ: []string{
		"BGCALL_REDIS_ADDRS=" + redisAddr,
		"BGCALL_FREESWITCH_NODES=fs1=" + sim.Password() + "@" + sim.Addr(),
		"BGCALL_API_TOKEN=" + token,
		"BGCALL_NAMESPACE=serve-test",
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"serve", "--api-listen", listen, "--log-format", "json", "--drain-timeout", "0s"}, env)
	}()
	c := &api.Client{Base: "http://" + listen, Token: token}
	deadline := time.Now().Add(10 * time.Second)
	for c.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve not ready: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.List(context.Background(), api.ListFilter{}); err != nil {
		t.Errorf("list through serve: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d: %s", code, errOut.String())
	}
	// JSON logs: every line parses.
	for _, line := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	mustContain(t, "serve log", errOut.String(), `"msg":"bgcall started"`, `"quiet_hours":"21:00-08:00 UTC"`, `"msg":"bgcall stopped"`)
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), []string{"serve", "--retry-backoff", "0.5", "--api-listen", "0.0.0.0:8080"},
		cli.Env{Stdout: &out, Stderr: &errOut})
	if code != cli.ExitUsage {
		t.Errorf("exit %d, want %d", code, cli.ExitUsage)
	}
	mustContain(t, "serve error", errOut.String(), "retry.backoff", "BGCALL_RETRY_BACKOFF", "api.token", "openssl rand")
}

func TestServePrintConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), []string{"serve", "--print-config", "--retry-ring-time", "45s"},
		cli.Env{Stdout: &out, Stderr: &errOut, Environ: []string{"BGCALL_API_TOKEN=0123456789abcdef0123", "BGCALL_LIMITS_PER_CALLER=7"}})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	mustContain(t, "printed config", out.String(), `retry.ring_time = "45s"`, `limits.per_caller = "7"`, `api.token = "<redacted>"`)
	if strings.Contains(out.String(), "0123456789abcdef0123") {
		t.Errorf("printed the token:\n%s", out.String())
	}
}

func TestClientErrors(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	var out, errOut bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		return map[string]string{"BGCALL_API": dead, "BGCALL_TOKEN": "secret-token-value-123"}[k]
	}}
	if code := cli.Main(context.Background(), []string{"list"}, env); code != cli.ExitError {
		t.Errorf("list with no daemon: exit %d", code)
	}
	mustContain(t, "no-daemon error", errOut.String(), "bgcall serve", "BGCALL_API")
	errOut.Reset()
	cli.Main(context.Background(), []string{"call", "-h"}, env)
	if strings.Contains(errOut.String(), "secret-token-value-123") {
		t.Errorf("help prints the token from the environment:\n%s", errOut.String())
	}

	d := startDaemon(t, fssim.Options{}, nil)
	errOut.Reset()
	code := cli.Main(context.Background(), []string{"list", "--api", d.api, "--token", "wrong-token-0123456789"}, cli.Env{Stdout: &out, Stderr: &errOut})
	if code != cli.ExitError || !strings.Contains(errOut.String(), "bearer token") {
		t.Errorf("wrong token: exit %d %q", code, errOut.String())
	}
}

func TestBenchFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), []string{"bench", "--rates", "500,fast"}, cli.Env{Stdout: &out, Stderr: &errOut})
	if code != cli.ExitUsage || !strings.Contains(errOut.String(), `"fast" is not a whole number`) {
		t.Errorf("bench with a bad rate: exit %d %q", code, errOut.String())
	}
}

// TestCallWaitSurvivesADaemonRestart: `call --wait` keeps following when
// the daemon behind --api stops and comes back, and prints each step once.
func TestCallWaitSurvivesADaemonRestart(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer, Ring: 50 * time.Millisecond}},
		"1002": {{Action: fssim.NoAnswer}, {Action: fssim.NoAnswer}, {Action: fssim.Answer, Ring: 50 * time.Millisecond, Talk: time.Second}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	cfg := testConfig(sim)
	cfg.API.Listen = listen
	cfg.Retry.FirstInterval = 500 * time.Millisecond
	cfg.Retry.MaxInterval = 500 * time.Millisecond
	start := func() (*app.Daemon, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		d, err := app.Start(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Engine: func(o *session.Options) { o.ParkTimeout = 200 * time.Second }})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		return d, cancel
	}
	d1, stop1 := start()
	dm := &daemon{t: t, sim: sim, api: "http://" + listen}
	testutil.WaitFor(t, "ready", func() bool { return (&api.Client{Base: dm.api}).Ready(context.Background()) == nil })

	var out, errOut testutil.SyncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(context.Background(), []string{"call", "--wait", "1001", "1002"}, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: dm.getenv})
	}()
	testutil.WaitFor(t, "the first attempt to end", func() bool { return strings.Contains(out.String(), "attempt 1: B did not answer") })
	stop1()
	d1.Wait()
	testutil.WaitFor(t, "the client to notice", func() bool { return strings.Contains(errOut.String(), "lost the daemon") })
	d2, stop2 := start() // same replica id: it resumes the sessions it owned
	defer func() { stop2(); d2.Wait() }()

	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("call --wait: exit %d\n%s\n%s", code, out.String(), errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("call --wait did not finish:\n%s\n%s", out.String(), errOut.String())
	}
	text := out.String()
	mustContain(t, "call --wait across a restart", text, "attempt 3", "bridged", "outcome: completed")
	for _, once := range []string{"attempt 1 of", "attempt 1: B did not answer", "requested"} {
		if n := strings.Count(text, once); n != 1 {
			t.Errorf("%q printed %d times:\n%s", once, n, text)
		}
	}
}

func TestWatchSurvivesADaemonRestart(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Default: fssim.Behavior{Action: fssim.NoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	cfg := testConfig(sim)
	cfg.API.Listen = listen
	start := func() (*app.Daemon, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		d, err := app.Start(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		return d, cancel
	}
	d1, stop1 := start()
	dm := &daemon{t: t, sim: sim, api: "http://" + listen}
	testutil.WaitFor(t, "ready", func() bool { return (&api.Client{Base: dm.api}).Ready(context.Background()) == nil })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"watch", "--caller", "1001"}, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: dm.getenv})
	}()
	testutil.WaitFor(t, "watch to subscribe", func() bool { return strings.Contains(errOut.String(), "watching") })
	stop1()
	d1.Wait()
	testutil.WaitFor(t, "watch to notice", func() bool { return strings.Contains(errOut.String(), "watching again") })
	d2, stop2 := start()
	defer func() { stop2(); d2.Wait() }()
	testutil.WaitFor(t, "ready again", func() bool { return (&api.Client{Base: dm.api}).Ready(context.Background()) == nil })
	// The new stream may open a moment after readiness: call until watch shows it.
	id := sessionID(t, dm.run("call", "--json", "1001", "1002"))
	testutil.WaitFor(t, "the session on the reopened stream", func() bool { return strings.Contains(out.String(), id) })
	dm.run("cancel", id)
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("watch: exit %d %s", code, errOut.String())
	}
}

// TestQuietHoursShown: a request made in quiet hours says when its first
// attempt comes, and status and list show that quiet hours hold it.
func TestQuietHoursShown(t *testing.T) {
	now := time.Now().UTC()
	minute := config.Clock(now.Hour()*60 + now.Minute())
	d := startDaemon(t, fssim.Options{}, func(c *config.Config) {
		c.Retry.QuietStart = (minute + 24*60 - 60) % (24 * 60)
		c.Retry.QuietEnd = (minute + 60) % (24 * 60)
	})
	r := d.run("call", "1001", "1002")
	if r.code != 0 {
		t.Fatalf("call: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "call in quiet hours", r.stdout, "quiet hours", "first attempt at")
	id := sessionID(t, d.run("status", "--json", strings.Fields(r.stdout)[1]))
	r = d.run("status", id)
	mustContain(t, "status", r.stdout, "quiet hours", " UTC", "held by quiet hours")
	r = d.run("list")
	mustContain(t, "list", r.stdout, "NEXT", "quiet hours")
}

// TestHealthyCallCountsNoCommandError: a call that completes normally
// leaves bgcall_esl_command_errors_total at zero. The far end's leg is
// often gone by the time bgcall hangs it up; FreeSWITCH's "-ERR No such
// channel!" then is the expected answer, not an error.
func TestHealthyCallCountsNoCommandError(t *testing.T) {
	d := startDaemon(t, fssim.Options{Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer, Ring: 50 * time.Millisecond}},
		"1002": {{Action: fssim.Answer, Ring: 50 * time.Millisecond, Talk: 2 * time.Second}}, // long enough to be bridged on a loaded machine
	}}, nil)
	for _, pair := range [][2]string{{"1001", "1002"}, {"1001", "1002"}} {
		if r := d.run("call", "--wait", pair[0], pair[1]); r.code != 0 {
			t.Fatalf("call --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
	// The closing commands go out after the outcome is stored: wait until
	// the node has no channel left.
	testutil.WaitFor(t, "every leg to be gone", func() bool { return len(d.sim.Channels()) == 0 })
	metrics := d.scrape()
	var errs float64
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "bgcall_esl_command_errors_total{") {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			errs += v
		}
	}
	if !strings.Contains(metrics, "bgcall_esl_command_duration_seconds_count") {
		t.Fatalf("no ESL command metrics scraped:\n%s", metrics)
	}
	if errs != 0 {
		t.Errorf("healthy calls counted %v ESL command errors", errs)
	}
	// The API counts its requests by route and status class.
	if !strings.Contains(metrics, `bgcall_http_requests_total{code="2xx",route="POST /v1/sessions"} 2`) {
		t.Errorf("the two calls' requests are not counted:\n%s", grepLines(metrics, "bgcall_http_requests_total"))
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// scrape returns the daemon's /metrics text.
func (d *daemon) scrape() string {
	d.t.Helper()
	resp, err := http.Get(d.api + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(data)
}

// TestPrintedConfigLoadsBack: what serve --print-config prints is a file
// serve --config reads. A secret it does not print is a placeholder that
// stops the daemon with the fix, never a password sent to FreeSWITCH.
func TestPrintedConfigLoadsBack(t *testing.T) {
	environ := []string{"BGCALL_API_TOKEN=0123456789abcdef0123", "BGCALL_LIMITS_PER_CALLER=7",
		"BGCALL_FREESWITCH_NODES=fs1=s3cret@10.0.0.11:8021,fs2=10.0.0.12:8021", "BGCALL_REPLICA_ID=r1"}
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), []string{"serve", "--print-config"}, cli.Env{Stdout: &out, Stderr: &errOut, Environ: environ}); code != 0 {
		t.Fatalf("print-config: exit %d: %s", code, errOut.String())
	}
	printed := out.String()
	for _, secret := range []string{"0123456789abcdef0123", "s3cret"} {
		if strings.Contains(printed, secret) {
			t.Errorf("printed the secret %q:\n%s", secret, printed)
		}
	}
	file := filepath.Join(t.TempDir(), "bgcall.conf")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	errOut.Reset()
	code := cli.Main(context.Background(), []string{"serve", "--config", file}, cli.Env{Stdout: &out, Stderr: &errOut})
	if code != cli.ExitUsage {
		t.Fatalf("serve --config with placeholders: exit %d, want %d\n%s", code, cli.ExitUsage, errOut.String())
	}
	mustContain(t, "placeholder refusal", errOut.String(), "api.token", "BGCALL_API_TOKEN", "freeswitch.nodes", "fs1")

	// With the secrets given again, the file loads to what was printed.
	out.Reset()
	errOut.Reset()
	code = cli.Main(context.Background(), []string{"serve", "--config", file, "--print-config"}, cli.Env{Stdout: &out, Stderr: &errOut,
		Environ: []string{"BGCALL_API_TOKEN=0123456789abcdef0123", "BGCALL_FREESWITCH_NODES=fs1=s3cret@10.0.0.11:8021,fs2=10.0.0.12:8021"}})
	if code != 0 {
		t.Fatalf("serve --config with the secrets: exit %d: %s", code, errOut.String())
	}
	if out.String() != printed {
		t.Errorf("loaded back differently:\n%s\nwant:\n%s", out.String(), printed)
	}
}

// TestClientFindsTheDaemonLikeTheDaemon: the client reads the daemon's own
// names: BGCALL_API_LISTEN (a host:port as the daemon takes it, or a URL)
// and BGCALL_API_TOKEN, or the daemon's configuration file.
func TestClientFindsTheDaemonLikeTheDaemon(t *testing.T) {
	d := startDaemon(t, fssim.Options{}, nil)
	hostPort := strings.TrimPrefix(d.api, "http://")
	_, port, _ := net.SplitHostPort(hostPort)
	run := func(env map[string]string, args ...string) result {
		t.Helper()
		var out, errOut testutil.SyncBuffer
		code := cli.Main(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
		return result{code: code, stdout: out.String(), stderr: errOut.String()}
	}
	for name, env := range map[string]map[string]string{
		"host:port":       {"BGCALL_API_LISTEN": hostPort, "BGCALL_API_TOKEN": token},
		"every address":   {"BGCALL_API_LISTEN": "0.0.0.0:" + port, "BGCALL_API_TOKEN": token},
		"URL":             {"BGCALL_API_LISTEN": d.api, "BGCALL_API_TOKEN": token},
		"older names":     {"BGCALL_API": d.api, "BGCALL_TOKEN": token},
		"older host:port": {"BGCALL_API": hostPort, "BGCALL_TOKEN": token},
	} {
		if r := run(env, "list"); r.code != 0 {
			t.Errorf("%s: list: exit %d %s", name, r.code, r.stderr)
		}
	}
	if r := run(nil, "list", "--api", hostPort, "--token", token); r.code != 0 {
		t.Errorf("--api host:port: exit %d %s", r.code, r.stderr)
	}

	file := filepath.Join(t.TempDir(), "bgcall.conf")
	conf := "[api]\nlisten = \":" + port + "\"\ntoken = \"" + token + "\"\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(nil, "list", "--config", file); r.code != 0 {
		t.Errorf("--config: exit %d %s", r.code, r.stderr)
	}
	if r := run(map[string]string{"BGCALL_CONFIG": file}, "list"); r.code != 0 {
		t.Errorf("BGCALL_CONFIG: exit %d %s", r.code, r.stderr)
	}
	// A printed configuration has no token in it: say so.
	if err := os.WriteFile(file, []byte("api.listen = \"127.0.0.1:"+port+"\"\napi.token = \"<redacted>\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(nil, "list", "--config", file)
	if r.code != cli.ExitUsage {
		t.Errorf("--config with a redacted token: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "redacted token", r.stderr, "api.token", "BGCALL_API_TOKEN")
	if r := run(nil, "list", "--api", "not a place"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "host:port") {
		t.Errorf("--api with garbage: exit %d %s", r.code, r.stderr)
	}
}

// TestCallWaitLiveLine: between steps, call --wait keeps a live line on a
// terminal (the next attempt's countdown, how long B has rung) and prints
// plain lines when its output is piped.
func TestCallWaitLiveLine(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.MaxAttempts = 2
		c.Retry.FirstInterval = 1500 * time.Millisecond
		c.Retry.MaxInterval = 1500 * time.Millisecond
	})
	var out, errOut testutil.SyncBuffer
	code := cli.Main(context.Background(), []string{"call", "--wait", "1001", "1002"},
		cli.Env{Stdout: &out, Stderr: &errOut, Getenv: d.getenv, Terminal: true})
	if code != cli.ExitOutcome {
		t.Fatalf("call --wait: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	text := out.String()
	mustContain(t, "terminal output", text, "\r\x1b[K", "next attempt in 00:0", "ringing B (1002) for ", "outcome: expired")
	if strings.Count(text, "next attempt in") < 1 {
		t.Errorf("no countdown on the terminal:\n%q", text)
	}

	r := d.run("call", "--wait", "1003", "1004")
	if r.code != cli.ExitOutcome {
		t.Fatalf("piped call --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "piped output", r.stdout, "attempt 2 scheduled: retry in 1.5s (at ")
	if strings.Contains(r.stdout, "\r") || strings.Contains(r.stdout, "\x1b") {
		t.Errorf("piped output redraws a line:\n%q", r.stdout)
	}
}

// TestWatchUnknownSession: watch --session with an id no session has says
// so instead of waiting forever; with a finished one it says that.
func TestWatchUnknownSession(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, nil)
	r := d.run("watch", "--session", "0000000000000000000a")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "no session 0000000000000000000a") {
		t.Errorf("watch an unknown session: exit %d %q", r.code, r.stderr)
	}
	id := sessionID(t, d.run("call", "--json", "1001", "1002"))
	d.run("cancel", id)
	r = d.run("watch", "--session", id)
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "already finished") {
		t.Errorf("watch a finished session: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestCausesReadAsTheyMean: each attempt's end says what FreeSWITCH's
// cause means (busy, rejected, not registered, does not exist), and a
// cancel before any leg names no cause.
func TestCausesReadAsTheyMean(t *testing.T) {
	d := startDaemon(t, fssim.Options{Subscribers: map[string][]fssim.Behavior{
		"1002": {{Action: fssim.Busy, Ring: 50 * time.Millisecond}, {Action: fssim.Reject, Ring: 50 * time.Millisecond},
			{Action: fssim.NotRegistered}, {Action: fssim.Unallocated, Ring: 50 * time.Millisecond}},
		"1004": {{Action: fssim.NoAnswer}},
	}}, func(c *config.Config) {
		c.Retry.Causes = []config.CauseRule{
			{Cause: "USER_BUSY", Action: config.ActionRetry},
			{Cause: "UNALLOCATED_NUMBER", Action: config.ActionFail},
		}
	})
	r := d.run("call", "--wait", "1001", "1002")
	if r.code != cli.ExitOutcome {
		t.Fatalf("call --wait: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, "causes", r.stdout,
		"attempt 1: B was busy (USER_BUSY)",
		"attempt 2: B rejected the call (CALL_REJECTED)",
		"attempt 3: B's phone is not registered (USER_NOT_REGISTERED)",
		"attempt 4: B's number does not exist (UNALLOCATED_NUMBER)",
		"outcome: failed")
	if strings.Contains(r.stdout, "did not answer") {
		t.Errorf("an attempt that was not left unanswered reads as one:\n%s", r.stdout)
	}

	id := sessionID(t, d.run("call", "--json", "--first-interval", "1h", "1003", "1004"))
	testutil.WaitFor(t, "the first attempt to end", func() bool {
		var s api.Session
		json.Unmarshal([]byte(d.run("status", "--json", id).stdout), &s)
		return s.State == "waiting" && s.Attempts == 1
	})
	d.run("cancel", id)
	r = d.run("status", id)
	mustContain(t, "status of a cancelled session", r.stdout, "outcome: cancelled", "by cli")
	if strings.Contains(r.stdout, "ORIGINATOR_CANCEL") {
		t.Errorf("a session cancelled before any leg names a hangup cause:\n%s", r.stdout)
	}
}

// TestErrorsSpeakCommandLine: errors name the command line's own flags and
// arguments, not the HTTP request behind them, and a bad flag value gets
// one line, not the whole usage.
func TestErrorsSpeakCommandLine(t *testing.T) {
	d := startDaemon(t, fssim.Options{Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer, Ring: 50 * time.Millisecond}},
		"1002": {{Action: fssim.Answer, Ring: 50 * time.Millisecond}},
	}}, nil)
	id := sessionID(t, d.run("call", "--json", "1001", "1002"))
	testutil.WaitFor(t, "the bridge", func() bool {
		var s api.Session
		json.Unmarshal([]byte(d.run("status", "--json", id).stdout), &s)
		return s.State == "bridged"
	})
	r := d.run("cancel", id)
	if r.code != cli.ExitError || !strings.Contains(r.stderr, "--end-bridged") || strings.Contains(r.stderr, "{") {
		t.Errorf("cancel of a bridged call: exit %d %q; want a hint at --end-bridged", r.code, r.stderr)
	}
	for _, args := range [][]string{{"cancel", ""}, {"status", ""}, {"cancel", " "}} {
		r := d.run(args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "session id") || strings.Contains(r.stderr, "POST") || strings.Contains(r.stderr, "GET") {
			t.Errorf("%q: exit %d %q; want a usage error about the session id", args, r.code, r.stderr)
		}
	}
	r = d.run("call", "--ring-time", "90", "1001", "1003")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "90s") || strings.Contains(r.stderr, "Usage:") || strings.Count(r.stderr, "\n") > 2 {
		t.Errorf("--ring-time 90: exit %d %q; want one line suggesting 90s", r.code, r.stderr)
	}
	r = d.run("list", "--limit", "many")
	if r.code != cli.ExitUsage || strings.Contains(r.stderr, "Usage:") {
		t.Errorf("--limit many: exit %d %q", r.code, r.stderr)
	}
}

// TestCallOverrideOnExistingSession: an override that the pair's live
// session would ignore is refused, naming that session.
func TestCallOverrideOnExistingSession(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, nil)
	id := sessionID(t, d.run("call", "--json", "1001", "1002"))
	r := d.run("call", "--max-attempts", "2", "1001", "1002")
	if r.code != cli.ExitError || !strings.Contains(r.stderr, id) || !strings.Contains(r.stderr, "policy") {
		t.Errorf("override on an existing session: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestCallWithoutNode: with no FreeSWITCH node connected a request is
// still accepted, and the reply and status say that nothing is dialled
// until a node is back.
func TestCallWithoutNode(t *testing.T) {
	d := startDaemon(t, fssim.Options{}, nil)
	d.sim.Close()
	c := &api.Client{Base: d.api}
	testutil.WaitFor(t, "the daemon to lose its node", func() bool { return c.Ready(context.Background()) != nil })
	r := d.run("call", "1001", "1002")
	if r.code != 0 {
		t.Fatalf("call: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "call without a node", r.stdout+r.stderr, "created", "no FreeSWITCH node is connected")
	id := strings.Fields(r.stdout)[1]
	mustContain(t, "status without a node", d.run("status", id).stdout, "no FreeSWITCH node is connected")
	var s api.Session
	json.Unmarshal([]byte(d.run("status", "--json", id).stdout), &s)
	if len(s.Warnings) == 0 {
		t.Errorf("status --json has no warning: %+v", s)
	}
}

// TestTop: top prints the whole system once when piped, as JSON with
// --json, and redraws a terminal until interrupted.
func TestTop(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.RingTime = 60 * time.Second
	})
	d.run("call", "1001", "1002")
	testutil.WaitFor(t, "the first attempt", func() bool {
		var o api.Overview
		json.Unmarshal([]byte(d.run("top", "--json").stdout), &o)
		return o.Live["dialing_callee"] == 1
	})
	r := d.run("top")
	if r.code != 0 {
		t.Fatalf("top: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "top", r.stdout, "1 live", "dialing_callee 1", "finished   last 1h", "quiet      none",
		"fs1", "up", "REPLICA", "holds it", "notify     backlog 0")
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("piped top draws on a terminal:\n%q", r.stdout)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Main(ctx, []string{"top", "--interval", "100ms"}, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: d.getenv, Terminal: true})
	}()
	testutil.WaitFor(t, "three screens", func() bool { return strings.Count(out.String(), "\x1b[H\x1b[2J") >= 3 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("top on a terminal: exit %d %s", code, errOut.String())
	}
}

// TestFindAndLegsInStatus: status shows each attempt's leg UUID, and find
// goes from a leg UUID back to its session.
func TestFindAndLegsInStatus(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.MaxAttempts = 2
	})
	r := d.run("call", "--wait", "1001", "1002")
	if r.code != cli.ExitOutcome {
		t.Fatalf("call --wait: exit %d %s", r.code, r.stderr)
	}
	id := strings.Fields(r.stdout)[1]
	var s api.Session
	json.Unmarshal([]byte(d.run("status", "--json", id).stdout), &s)
	var legs []string
	for _, e := range s.Timeline {
		if e.Kind == store.KindAttemptEnded && e.UUID != "" {
			legs = append(legs, e.UUID)
		}
	}
	if len(legs) != 2 || legs[0] == legs[1] {
		t.Fatalf("legs of the two attempts: %v", legs)
	}
	text := d.run("status", id).stdout
	mustContain(t, "status", text, "B's leg "+legs[0], "B's leg "+legs[1])
	r = d.run("find", legs[0])
	if r.code != 0 {
		t.Fatalf("find: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "find", r.stdout, id, "1001", "1002")
	if r := d.run("find", "00000000-0000-4000-8000-000000000000"); r.code != cli.ExitError || !strings.Contains(r.stderr, "no session") {
		t.Errorf("find an unknown leg: exit %d %q", r.code, r.stderr)
	}
}

// TestOperatorActions: list by node, a bulk cancel that counts first and
// cancels with --yes, and dial now for a waiting session.
func TestOperatorActions(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.RingTime = 60 * time.Second
	})
	for _, b := range []string{"1002", "1003"} {
		d.run("call", "1001", b)
	}
	testutil.WaitFor(t, "both attempts on fs1", func() bool {
		return strings.Count(d.run("list", "--node", "fs1", "--state", "dialing_callee").stdout, "\n") == 3
	})
	if out := d.run("list", "--node", "fs9").stdout; strings.Contains(out, "1001") {
		t.Errorf("list --node fs9 shows fs1's sessions:\n%s", out)
	}
	r := d.run("cancel", "--node", "fs1")
	if r.code != 0 {
		t.Fatalf("bulk cancel dry run: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "dry run", r.stdout, "2 live session(s) match", "add --yes")
	if strings.Contains(d.run("list", "--state", "finished").stdout, "1001") {
		t.Fatal("the dry run cancelled something")
	}
	r = d.run("cancel", "--node", "fs1", "--yes")
	mustContain(t, "bulk cancel", r.stdout, "cancelled 2 of 2")
	if r := d.run("cancel", "--caller", "1001", "1002"); r.code != cli.ExitUsage {
		t.Errorf("an ID with a filter: exit %d %s", r.code, r.stderr)
	}

	// Dial now: a session waiting an hour for its next attempt.
	id := sessionID(t, d.run("call", "--json", "--ring-time", "1s", "--first-interval", "1h", "1005", "1006"))
	testutil.WaitFor(t, "the first attempt to end", func() bool {
		var s api.Session
		json.Unmarshal([]byte(d.run("status", "--json", id).stdout), &s)
		return s.State == "waiting" && s.Attempts == 1
	})
	r = d.run("dial-now", id)
	if r.code != 0 {
		t.Fatalf("dial-now: exit %d %s", r.code, r.stderr)
	}
	testutil.WaitFor(t, "the second attempt", func() bool {
		var s api.Session
		json.Unmarshal([]byte(d.run("status", "--json", id).stdout), &s)
		return s.Attempts == 2
	})
	mustContain(t, "status after dial-now", d.run("status", id).stdout, "attempt 2 to be dialled now: next attempt brought forward", "by cli")
}

// TestPauseNode: a paused node gets no new call until it is resumed, and
// top says it is paused.
func TestPauseNode(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}}, func(c *config.Config) {
		c.Retry.RingTime = 60 * time.Second
	})
	r := d.run("pause", "fs1")
	if r.code != 0 {
		t.Fatalf("pause: exit %d %s", r.code, r.stderr)
	}
	mustContain(t, "pause", r.stdout, "node fs1 paused")
	mustContain(t, "top", d.run("top").stdout, "up, paused by cli")
	id := sessionID(t, d.run("call", "--json", "1001", "1002"))
	testutil.WaitFor(t, "the attempt put off", func() bool { return strings.Contains(d.run("status", id).stdout, "not paused") })
	if n := len(d.sim.Originates()); n != 0 {
		t.Fatalf("%d originates to a paused node", n)
	}
	if r := d.run("resume", "fs1"); r.code != 0 || !strings.Contains(r.stdout, "takes new calls again") {
		t.Fatalf("resume: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	testutil.WaitFor(t, "the attempt once resumed", func() bool { return len(d.sim.Originates()) == 1 })
	if r := d.run("pause", "fs9"); r.code != cli.ExitError || !strings.Contains(r.stderr, "no FreeSWITCH node") {
		t.Errorf("pause an unknown node: exit %d %q", r.code, r.stderr)
	}
}

// TestPauseReachesEveryReplica: a pause asked of one replica is applied by
// the others sharing its store.
func TestPauseReachesEveryReplica(t *testing.T) {
	var namespace string
	first := startDaemon(t, fssim.Options{}, func(c *config.Config) { namespace = c.Namespace })
	second := startDaemon(t, fssim.Options{}, func(c *config.Config) {
		c.Namespace = namespace
		c.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: first.sim.Addr(), Password: first.sim.Password()}}
	})
	if r := first.run("pause", "fs1"); r.code != 0 {
		t.Fatalf("pause through the first replica: exit %d %s", r.code, r.stderr)
	}
	paused := func(d *daemon) bool {
		var o api.Overview
		json.Unmarshal([]byte(d.run("top", "--json").stdout), &o)
		return len(o.Nodes) == 1 && o.Nodes[0].Paused
	}
	testutil.WaitFor(t, "the second replica to pause fs1", func() bool { return paused(second) })
	if r := second.run("resume", "fs1"); r.code != 0 {
		t.Fatalf("resume through the second replica: exit %d %s", r.code, r.stderr)
	}
	testutil.WaitFor(t, "the first replica to resume fs1", func() bool { return !paused(first) })
}

// TestCallConfirm: --confirm asks for confirmation mode, which silences the
// warning that B rings long enough for B's voicemail to answer; without it
// the reply carries that warning.
func TestCallConfirm(t *testing.T) {
	d := startDaemon(t, fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}},
		func(c *config.Config) { c.Retry.VoicemailAfter = 20 * time.Second })
	r := d.run("call", "--ring-time", "25s", "1001", "1002")
	mustContain(t, "call without --confirm", r.stdout+r.stderr, "retry.voicemail_after")
	r = d.run("call", "--ring-time", "25s", "--confirm", "1003", "1004")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "voicemail") {
		t.Errorf("call --confirm: exit %d %q %q; want no voicemail warning", r.code, r.stdout, r.stderr)
	}
}
