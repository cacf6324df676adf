package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"bgcall/api"
	"bgcall/app"
	"bgcall/config"
	"bgcall/fssim"
	"bgcall/internal/redistest"
	"bgcall/internal/testutil"
	"bgcall/notify"
	"bgcall/session"
	"bgcall/store"
)

var redisAddr string

func TestMain(m *testing.M) {
	os.Exit(redistest.Main(m, func(s *redistest.Server) { redisAddr = s.Addr }))
}

var replicas atomic.Int64

func testConfig(sim *fssim.Node) config.Config {
	c := config.Defaults()
	c.ReplicaID = fmt.Sprintf("app-test-%d", replicas.Add(1))
	c.Namespace = c.ReplicaID
	c.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: sim.Addr(), Password: sim.Password()}}
	c.Redis.Addrs = []string{redisAddr}
	c.API.Listen = "127.0.0.1:0"
	c.Retry.RingTime = 3 * time.Second
	c.Retry.FirstInterval = 100 * time.Millisecond
	c.Retry.QuietStart, c.Retry.QuietEnd = -1, -1
	return c
}

// scaleParkTimeout keeps park_timeout, counted in the simulator's short
// seconds, at ten real seconds, so a loaded machine cannot trip it.
func scaleParkTimeout(simSecond time.Duration) func(*session.Options) {
	return func(o *session.Options) { o.ParkTimeout = 10 * time.Second * (time.Second / simSecond) }
}

func readyz(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDefaultsAreTheEngineDefaults keeps the documented defaults and the
// engine's own defaults one and the same.
func TestDefaultsAreTheEngineDefaults(t *testing.T) {
	got, err := app.Policy(config.Defaults().Retry, config.Defaults().Confirm)
	if err != nil {
		t.Fatal(err)
	}
	want := session.DefaultPolicy()
	if got.Quiet.Location.String() != "UTC" || (want.Quiet.Location != nil && want.Quiet.Location.String() != "UTC") {
		t.Errorf("quiet hours zone %v, engine %v", got.Quiet.Location, want.Quiet.Location)
	}
	got.Quiet.Location, want.Quiet.Location = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("retry policy from config defaults:\n%+v\nengine default:\n%+v", got, want)
	}
	if d := config.Defaults().Notify.SMSTemplate; d != notify.DefaultTemplate {
		t.Errorf("notify.sms_template default %q, notifier default %q", d, notify.DefaultTemplate)
	}
	if d := config.Defaults().Notify.DeclinedTemplate; d != notify.DefaultDeclinedTemplate {
		t.Errorf("notify.declined_template default %q, notifier default %q", d, notify.DefaultDeclinedTemplate)
	}
	if d := config.Defaults().Prompts.Confirm; d != session.DefaultPrompts().Confirm {
		t.Errorf("prompts.confirm default %q, engine default %q", d, session.DefaultPrompts().Confirm)
	}
}

// TestDrain: on shutdown the daemon stops claiming, flips /readyz, lets the
// bridged call finish, and only then exits.
func TestDrain(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer}},
		"1002": {{Action: fssim.Answer, Talk: 5 * time.Second}}, // still talking while the test checks the drain on a loaded machine
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Drain = 30 * time.Second
	var logs testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: &logs, Engine: scaleParkTimeout(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "ready", func() bool { code, _ := readyz(d.APIAddr()); return code == 200 })
	c := &api.Client{Base: "http://" + d.APIAddr()}
	s, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "bridge", func() bool { got, err := c.Get(ctx, s.ID); return err == nil && got.State == "bridged" })

	stop() // what SIGTERM does through signal.NotifyContext
	testutil.WaitFor(t, "/readyz to flip", func() bool {
		code, body := readyz(d.APIAddr())
		return code == http.StatusServiceUnavailable && strings.Contains(body, "draining")
	})
	// The API still answers while the call drains.
	if got, err := c.Get(context.Background(), s.ID); err != nil || got.State != "bridged" {
		t.Errorf("during drain: %+v, %v", got.State, err)
	}
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	final, err := store.New(rdb, store.Options{Namespace: cfg.Namespace}).Get(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != store.Finished || final.Outcome != store.Completed {
		t.Errorf("after drain: state %s outcome %s, want the call completed before exit", final.State, final.Outcome)
	}
	for _, want := range []string{"draining", "drained", "bgcall stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestDrainTimeout: a call that outlasts drain.timeout does not hold the
// daemon; the session stays live in Redis for a replica to resume.
func TestDrainTimeout(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Default: fssim.Behavior{Action: fssim.Answer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Drain = 200 * time.Millisecond
	var logs testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: &logs, Engine: scaleParkTimeout(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "ready", func() bool { code, _ := readyz(d.APIAddr()); return code == 200 })
	c := &api.Client{Base: "http://" + d.APIAddr()}
	s, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "bridge", func() bool { got, err := c.Get(ctx, s.ID); return err == nil && got.State == "bridged" })
	stop()
	if err := d.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "drain timeout") {
		t.Errorf("log lacks the drain timeout:\n%s", logs.String())
	}
}

func TestPprofIsOptIn(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	for _, on := range []bool{false, true} {
		cfg := testConfig(sim)
		if on {
			cfg.Metrics.PprofListen = "127.0.0.1:0"
		}
		ctx, stop := context.WithCancel(context.Background())
		d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := http.Get("http://" + d.APIAddr() + "/debug/pprof/"); err == nil {
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("pprof served on the API listener: %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		if on {
			resp, err := http.Get("http://" + d.PprofAddr() + "/debug/pprof/")
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("pprof on: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
		} else if d.PprofAddr() != "" {
			t.Errorf("pprof listening at %s while off", d.PprofAddr())
		}
		stop()
		d.Wait()
	}
}

func TestEmbeddedStoreWarnsAndWorks(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Default: fssim.Behavior{Action: fssim.NoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Redis.Addrs = nil
	var logs testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	c := &api.Client{Base: "http://" + d.APIAddr()}
	if _, created, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"}); err != nil || !created {
		t.Errorf("create on the embedded store: %v", err)
	}
	stop()
	d.Wait()
	if !strings.Contains(logs.String(), "NO REDIS CONFIGURED") {
		t.Errorf("no loud warning about the embedded store:\n%s", logs.String())
	}
}

func TestNotReadyWithoutFreeSWITCH(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	cfg := config.Defaults()
	cfg.ReplicaID = "no-fs"
	cfg.Namespace = "no-fs"
	cfg.FreeSWITCH.Nodes = []config.Node{{Name: "fs1", Addr: dead}}
	cfg.Redis.Addrs = []string{redisAddr}
	cfg.API.Listen = "127.0.0.1:0"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	code, body := readyz(d.APIAddr())
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no FreeSWITCH node connected") {
		t.Errorf("/readyz %d %s", code, body)
	}
	if resp, err := http.Get("http://" + d.APIAddr() + "/livez"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/livez: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	stop()
	d.Wait()
}

func TestUnreachableRedisStopsStartup(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	cfg := config.Defaults()
	cfg.Redis.Addrs = []string{dead}
	cfg.API.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "redis.addrs") {
		t.Errorf("error %v, want one naming redis.addrs", err)
	}
}

// TestTwoReplicasShareSessions: two daemons on one Redis serve the same
// sessions, and when the one steering a session stops, the other carries it
// on (its lease is replica.lease_ttl).
func TestTwoReplicasShareSessions(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Default: fssim.Behavior{Action: fssim.NoAnswer}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	type replica struct {
		id     string
		daemon *app.Daemon
		stop   context.CancelFunc
		client *api.Client
	}
	start := func(id string) *replica {
		cfg := testConfig(sim)
		cfg.ReplicaID = id
		cfg.Namespace = "two-replicas"
		cfg.LeaseTTL = time.Second
		cfg.Drain = 0
		cfg.Retry.MaxAttempts = 0
		ctx, stop := context.WithCancel(context.Background())
		d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, id+" ready", func() bool { code, _ := readyz(d.APIAddr()); return code == 200 })
		r := &replica{id: id, daemon: d, stop: stop, client: &api.Client{Base: "http://" + d.APIAddr()}}
		t.Cleanup(func() { r.stop(); r.daemon.Wait() })
		return r
	}
	one, two := start("replica-one"), start("replica-two")

	ctx := context.Background()
	s, _, err := one.client.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	var owner string
	testutil.WaitFor(t, "an owner", func() bool {
		got, err := two.client.Get(ctx, s.ID) // the other replica's API sees it too
		owner = got.Owner
		return err == nil && owner != ""
	})
	gone, survivor := one, two
	if owner == two.id {
		gone, survivor = two, one
	}
	gone.stop()
	gone.daemon.Wait()
	before, err := survivor.client.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, survivor.id+" to carry the session on", func() bool {
		got, err := survivor.client.Get(ctx, s.ID)
		return err == nil && got.Owner == survivor.id && got.Attempts > before.Attempts
	})
	if got, err := survivor.client.Cancel(ctx, s.ID, false); err != nil || got.Outcome != "cancelled" {
		t.Errorf("cancel through the survivor: %+v %v", got.Outcome, err)
	}
}

func TestNotReadyWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	sim, err := fssim.Start(fssim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Redis.Addrs = []string{srv.Addr}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "ready", func() bool { code, _ := readyz(d.APIAddr()); return code == 200 })
	srv.Stop()
	testutil.WaitFor(t, "not ready", func() bool {
		code, body := readyz(d.APIAddr())
		return code == http.StatusServiceUnavailable && strings.Contains(body, "redis")
	})
	if resp, err := http.Get("http://" + d.APIAddr() + "/livez"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/livez with Redis down: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	stop()
	d.Wait()
}

// TestCallerMissedNotifiesBothWays: with notify.mode = both, A hears of
// the missed call back by FreeSWITCH chat and through the SMS webhook.
func TestCallerMissedNotifiesBothWays(t *testing.T) {
	got := make(chan map[string]string, 4)
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		got <- m
	}))
	defer gateway.Close()
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.NoAnswer}},
		"1002": {{Action: fssim.Answer}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Notify.Mode = "both"
	cfg.Notify.WebhookURL = gateway.URL + "/sms"
	cfg.Dial.Domain = "pbx.example.com"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: io.Discard, Engine: scaleParkTimeout(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	c := &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })
	s, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m["to"] != "1001" || m["from"] != "1002" || m["session_id"] != s.ID || !strings.Contains(m["text"], "1002") {
			t.Errorf("webhook got %v", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call")
	}
	testutil.WaitFor(t, "the chat message", func() bool {
		for _, m := range sim.Chats() {
			if m.To == "1001@pbx.example.com" && m.From == "bgcall@pbx.example.com" && strings.Contains(m.Body, "1002") {
				return true
			}
		}
		return false
	})
	final, _ := c.Get(ctx, s.ID)
	if final.Outcome != "caller_missed" {
		t.Errorf("outcome %q, want caller_missed", final.Outcome)
	}
	stop()
	d.Wait()
}

// TestTransitionLogs: with log.format = json every transition of a session
// is one line naming the session, its legs, the node and the cause.
func TestTransitionLogs(t *testing.T) {
	sim, err := fssim.Start(fssim.Options{Second: 50 * time.Millisecond, Subscribers: map[string][]fssim.Behavior{
		"1001": {{Action: fssim.Answer}},
		"1002": {{Action: fssim.NoAnswer}, {Action: fssim.Answer, Talk: 2 * time.Second}}, // long enough to be bridged on a loaded machine
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := testConfig(sim)
	cfg.Log.Format = "json"
	var logs testutil.SyncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	d, err := app.Start(ctx, app.Options{Config: cfg, LogOutput: &logs, Engine: scaleParkTimeout(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	c := &api.Client{Base: "http://" + d.APIAddr()}
	testutil.WaitFor(t, "ready", func() bool { return c.Ready(ctx) == nil })
	s, _, err := c.Create(ctx, api.CreateRequest{Caller: "1001", Callee: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the outcome", func() bool { got, err := c.Get(ctx, s.ID); return err == nil && got.State == "finished" })
	final, _ := c.Get(ctx, s.ID)
	stop()
	d.Wait()

	var transitions []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["session"] == s.ID && m["msg"] == "transition" {
			transitions = append(transitions, m)
		}
	}
	// Every timeline step that changed the state has its log line.
	states := 0
	for i, e := range final.Timeline {
		if i > 0 && e.State != "" && e.State != final.Timeline[i-1].State {
			states++
		}
	}
	if len(transitions) < 4 || len(transitions) < states {
		t.Fatalf("%d transition lines for %d state changes:\n%s", len(transitions), states, logs.String())
	}
	sawLegs, sawCause := false, false
	for _, m := range transitions {
		// Empty fields are left out (a waiting session has no legs, an
		// answer no cause); the checks below find the filled ones.
		for _, k := range []string{"session", "caller", "callee", "from", "to"} {
			if _, ok := m[k]; !ok {
				t.Errorf("transition line without %q: %v", k, m)
			}
		}
		sawLegs = sawLegs || (m["callee_leg"] == final.CalleeLeg && m["caller_leg"] == final.CallerLeg && m["node"] == "fs1")
		sawCause = sawCause || (m["to"] == "finished" && m["cause"] == final.Cause && final.Cause != "")
	}
	if !sawLegs || !sawCause {
		for _, m := range transitions {
			t.Log(m)
		}
		t.Errorf("no line with both legs and the node (%v), or no final line with the outcome's cause %q (%v)", sawLegs, final.Cause, sawCause)
	}
}
