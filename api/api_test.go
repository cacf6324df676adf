package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bgcall/api"
	"bgcall/fssim"
	"bgcall/internal/testutil"
	"bgcall/session"
	"bgcall/store"
)

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) err(t *testing.T) api.ErrorDetail {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(a.body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("status %d body %q is not the API's error shape (%v)", a.status, a.body, err)
	}
	return eb.Error
}

func (a answer) session(t *testing.T) api.Session {
	t.Helper()
	var s api.Session
	if err := json.Unmarshal(a.body, &s); err != nil || s.ID == "" {
		t.Fatalf("status %d body %q is not a session (%v)", a.status, a.body, err)
	}
	return s
}

func (e *env) call(method, path, body string, hdr ...string) answer {
	e.t.Helper()
	return e.callToken(testToken, method, path, body, hdr...)
}

func (e *env) callToken(token, method, path, body string, hdr ...string) answer {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, r := range api.Routes {
		path := strings.ReplaceAll(r.Pattern, "{id}", "0000000000000000000a")
		for name, hdr := range map[string][]string{
			"missing":      {"Authorization", ""},
			"wrong":        {"Authorization", "Bearer " + testToken + "x"},
			"prefix":       {"Authorization", "Bearer " + testToken[:10]},
			"other scheme": {"Authorization", "Basic " + testToken},
			"empty bearer": {"Authorization", "Bearer "},
		} {
			a := e.callToken("", r.Method, path, "", hdr...)
			if !r.Auth {
				if a.status == http.StatusUnauthorized {
					t.Errorf("%s %s is open but answered 401 with a %s token", r.Method, path, name)
				}
				continue
			}
			if a.status != http.StatusUnauthorized {
				t.Errorf("%s %s with a %s token: status %d, want 401", r.Method, path, name, a.status)
				continue
			}
			if d := a.err(t); d.Code != "unauthorized" {
				t.Errorf("code %q, want unauthorized", d.Code)
			}
			if a.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", r.Method, path)
			}
		}
	}
	// Case of the scheme does not matter (RFC 7235).
	if a := e.callToken("", "GET", "/v1/sessions", "", "Authorization", "bearer "+testToken); a.status != http.StatusOK {
		t.Errorf("lower-case bearer: status %d", a.status)
	}
}

func TestOpenRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "bgcall_test_total", Help: "test"}))
	e := newEnv(t, envOptions{metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	if a := e.callToken("", "GET", "/livez", ""); a.status != 200 {
		t.Errorf("/livez: %d", a.status)
	}
	if a := e.callToken("", "GET", "/readyz", ""); a.status != 200 {
		t.Errorf("/readyz: %d %s", a.status, a.body)
	}
	if a := e.callToken("", "GET", "/metrics", ""); a.status != 200 || !strings.Contains(string(a.body), "bgcall_test_total") {
		t.Errorf("/metrics: %d %s", a.status, a.body)
	}

	notReady := newEnv(t, envOptions{ready: func(context.Context) error { return errors.New("no FreeSWITCH node connected") }})
	a := notReady.callToken("", "GET", "/readyz", "")
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.err(t).Message, "no FreeSWITCH node") {
		t.Errorf("/readyz not ready: %d %s", a.status, a.body)
	}
	if a := notReady.callToken("", "GET", "/metrics", ""); a.status != http.StatusNotFound {
		t.Errorf("/metrics without a handler: %d, want 404", a.status)
	} else {
		a.err(t)
	}
}

func TestCreateAndDuplicate(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	s := a.session(t)
	if s.Caller != "1001" || s.Callee != "1002" || s.Source != "api" || s.State == "" {
		t.Errorf("created session %+v", s)
	}
	if loc := a.header.Get("Location"); loc != "/v1/sessions/"+s.ID {
		t.Errorf("Location %q", loc)
	}
	again := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`)
	if again.status != http.StatusOK || again.session(t).ID != s.ID {
		t.Errorf("duplicate: %d %s, want 200 with %s", again.status, again.body, s.ID)
	}

	// An idempotency key (header or body) returns the session it created.
	k1 := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004"}`, "Idempotency-Key", "req-7")
	k2 := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004","idempotency_key":"req-7"}`)
	if k1.status != http.StatusCreated || k2.status != http.StatusOK || k1.session(t).ID != k2.session(t).ID {
		t.Errorf("idempotent create: %d then %d", k1.status, k2.status)
	}

	p := e.call("POST", "/v1/sessions", `{"caller":"1005","callee":"1006","policy":{"ring_time":"20s","max_attempts":2}}`)
	if p.status != http.StatusCreated {
		t.Errorf("with policy: %d %s", p.status, p.body)
	}
}

func TestCreateRejectsBadBodies(t *testing.T) {
	e := newEnv(t, envOptions{maxBody: 2048})
	for _, tc := range []struct {
		name, body, ctype string
		status            int
		code, field       string
	}{
		{"malformed", `{"caller":"1001",`, "", 400, "bad_json", ""},
		{"not JSON", `caller=1001`, "", 400, "bad_json", ""},
		{"empty", ` `, "", 400, "bad_json", ""},
		{"array", `[{"caller":"1001","callee":"1002"}]`, "", 400, "bad_json", ""},
		{"two values", `{"caller":"1001","callee":"1002"} {}`, "", 400, "bad_json", ""},
		{"unknown field", `{"caller":"1001","callee":"1002","priority":9}`, "", 400, "bad_json", "priority"},
		{"policy not an object", `{"caller":"1001","callee":"1002","policy":"fast"}`, "", 400, "bad_json", "policy"},
		{"policy attempts not a number", `{"caller":"1001","callee":"1002","policy":{"max_attempts":"5"}}`, "", 400, "bad_json", "policy.max_attempts"},
		{"unknown nested field", `{"caller":"1001","callee":"1002","policy":{"ring":"3s"}}`, "", 400, "bad_json", "policy.ring"},
		{"number not string", `{"caller":1001,"callee":"1002"}`, "", 400, "bad_json", "caller"},
		{"missing callee", `{"caller":"1001"}`, "", 400, "invalid_request", "callee"},
		{"bad duration", `{"caller":"1001","callee":"1002","policy":{"ring_time":"soon"}}`, "", 400, "invalid_request", "policy.ring_time"},
		{"ring time too long", `{"caller":"1001","callee":"1002","policy":{"ring_time":"1h"}}`, "", 400, "invalid_request", "policy.ring_time"},
		{"bad zone", `{"caller":"1001","callee":"1002","policy":{"time_zone":"Mars/Base"}}`, "", 400, "invalid_request", "policy.time_zone"},
		{"bad source", `{"caller":"1001","callee":"1002","source":"fax"}`, "", 400, "invalid_request", "source"},
		{"oversized", `{"caller":"1001","callee":"1002","idempotency_key":"` + strings.Repeat("k", 4096) + `"}`, "", 413, "body_too_large", ""},
		{"form content type", `{"caller":"1001","callee":"1002"}`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
	} {
		var hdr []string
		if tc.ctype != "" {
			hdr = []string{"Content-Type", tc.ctype}
		}
		a := e.call("POST", "/v1/sessions", tc.body, hdr...)
		if a.status != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.name, a.status, a.body, tc.status)
			continue
		}
		d := a.err(t)
		if d.Code != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, d.Code, tc.code)
		}
		if tc.field != "" && (len(d.Fields) != 1 || d.Fields[0].Field != tc.field || d.Fields[0].Problem == "") {
			t.Errorf("%s: fields %+v, want one naming %s", tc.name, d.Fields, tc.field)
		}
	}
	assertNoSessions(t, e)
}

// TestCreateRejectsInvalidNumbers sends numbers that are wrong, and numbers
// built to inject into the originate command or its dial string; each must
// be refused with a field error and leave nothing stored or dialled.
func TestCreateRejectsInvalidNumbers(t *testing.T) {
	e := newEnv(t, envOptions{})
	bad := []string{
		"", "1", "abc", "+", "10 02", "1002\r\nbgapi hupall", "1002\nauth ClueCon",
		"1002,origination_caller_id_number=666", "1002}user/666", "{ignore_early_media=true}1002",
		"[leg_timeout=1]1002", "user/1002@evil.example", "1002@evil.example", "1002|sofia/gateway/x/666",
		"1002 &bridge(sofia/gateway/x/666)", "${sip_from_user}", "$${domain}", "1002'", `1002"`,
		"1002\\", "1002;transport=tcp", "１００２", "1002\x00", strings.Repeat("9", 33), "*881002", "#1002",
	}
	for _, n := range bad {
		for _, field := range []string{"caller", "callee"} {
			body := map[string]string{"caller": "1001", "callee": "1002"}
			body[field] = n
			data, _ := json.Marshal(body)
			a := e.call("POST", "/v1/sessions", string(data))
			if a.status != http.StatusBadRequest {
				t.Errorf("%s %q: status %d %s, want 400", field, n, a.status, a.body)
				continue
			}
			d := a.err(t)
			if len(d.Fields) != 1 || d.Fields[0].Field != field {
				t.Errorf("%s %q: fields %+v, want one naming %s", field, n, d.Fields, field)
			}
		}
	}
	a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1001"}`)
	if a.status != http.StatusBadRequest || a.err(t).Fields[0].Field != "callee" {
		t.Errorf("caller == callee: %d %s", a.status, a.body)
	}
	// A dry run validates the same way.
	if a := e.call("POST", "/v1/dry-run", `{"caller":"1001","callee":"1002,x=y"}`); a.status != http.StatusBadRequest {
		t.Errorf("dry run with injection: %d %s", a.status, a.body)
	}
	assertNoSessions(t, e)
	if n := len(e.sim.Originates()); n != 0 {
		t.Errorf("the simulator saw %d originates", n)
	}
}

func assertNoSessions(t *testing.T, e *env) {
	t.Helper()
	list, _, err := e.store.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("%d sessions stored, want none", len(list))
	}
}

func TestLimit(t *testing.T) {
	e := newEnv(t, envOptions{limits: store.Limits{PerCaller: 1, PerCallee: 5}})
	if a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`); a.status != http.StatusCreated {
		t.Fatalf("first: %d %s", a.status, a.body)
	}
	a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1003"}`)
	if a.status != http.StatusTooManyRequests || a.err(t).Code != "limit_reached" {
		t.Errorf("over the caller limit: %d %s, want 429 limit_reached", a.status, a.body)
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t, envOptions{})
	s := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`).session(t)
	a := e.call("GET", "/v1/sessions/"+s.ID, "")
	if a.status != http.StatusOK {
		t.Fatalf("get: %d %s", a.status, a.body)
	}
	got := a.session(t)
	if got.ID != s.ID || len(got.Timeline) == 0 || got.Timeline[0].Kind != store.KindCreated {
		t.Errorf("get %+v, want the session with a timeline starting at created", got)
	}
	for _, en := range got.Timeline {
		if en.Text != api.Describe(got, en) || en.Text == "" {
			t.Errorf("entry %+v: text %q, want %q", en, en.Text, api.Describe(got, en))
		}
	}
	for _, id := range []string{"0000000000000000000a", "NOT-AN-ID", "..%2f..%2fetc"} {
		a := e.call("GET", "/v1/sessions/"+id, "")
		if a.status != http.StatusNotFound || a.err(t).Code != "not_found" {
			t.Errorf("get %s: %d %s, want 404 not_found", id, a.status, a.body)
		}
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, b := range []string{"1002", "1003", "1004"} {
		if a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"`+b+`"}`); a.status != http.StatusCreated {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
	}
	e.call("POST", "/v1/sessions", `{"caller":"1009","callee":"1002"}`)

	list := func(q string) api.ListResponse {
		t.Helper()
		a := e.call("GET", "/v1/sessions"+q, "")
		if a.status != http.StatusOK {
			t.Fatalf("list %s: %d %s", q, a.status, a.body)
		}
		var lr api.ListResponse
		if err := json.Unmarshal(a.body, &lr); err != nil {
			t.Fatal(err)
		}
		return lr
	}
	if got := list("?caller=1001"); len(got.Sessions) != 3 {
		t.Errorf("caller=1001: %d sessions, want 3", len(got.Sessions))
	}
	if got := list("?callee=1002"); len(got.Sessions) != 2 {
		t.Errorf("callee=1002: %d sessions, want 2", len(got.Sessions))
	}
	if got := list("?state=finished"); len(got.Sessions) != 0 {
		t.Errorf("state=finished: %d sessions, want 0", len(got.Sessions))
	}
	first := list("?caller=1001&limit=2")
	if len(first.Sessions) != 2 || first.NextCursor == "" {
		t.Fatalf("page 1: %d sessions, cursor %q", len(first.Sessions), first.NextCursor)
	}
	second := list("?caller=1001&limit=2&cursor=" + first.NextCursor)
	if len(second.Sessions) != 1 || second.NextCursor != "" {
		t.Errorf("page 2: %d sessions, cursor %q", len(second.Sessions), second.NextCursor)
	}
	seen := map[string]bool{}
	for _, s := range append(first.Sessions, second.Sessions...) {
		if seen[s.ID] {
			t.Errorf("%s on both pages", s.ID)
		}
		seen[s.ID] = true
	}
	for _, q := range []string{"?state=ringing", "?limit=0", "?limit=1001", "?limit=x", "?calller=1001", "?cursor=garbage", "?caller=1001&cursor=garbage"} {
		a := e.call("GET", "/v1/sessions"+q, "")
		if a.status != http.StatusBadRequest || len(a.err(t).Fields) != 1 {
			t.Errorf("list %s: %d %s, want 400 with a field", q, a.status, a.body)
		}
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, envOptions{maxBody: 1024})
	s := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`).session(t)
	for _, tc := range []struct {
		name, body, ctype string
		status            int
	}{
		{"unknown field", `{"end_bridge":true}`, "", 400},
		{"wrong type", `{"end_bridged":"yes"}`, "", 400},
		{"oversized", `{"end_bridged":false,"x":"` + strings.Repeat("x", 2048) + `"}`, "", 413},
		{"text body", `end`, "text/plain", 415},
	} {
		var hdr []string
		if tc.ctype != "" {
			hdr = []string{"Content-Type", tc.ctype}
		}
		if a := e.call("POST", "/v1/sessions/"+s.ID+"/cancel", tc.body, hdr...); a.status != tc.status {
			t.Errorf("cancel with %s: %d %s, want %d", tc.name, a.status, a.body, tc.status)
		} else {
			a.err(t)
		}
	}
	a := e.call("POST", "/v1/sessions/"+s.ID+"/cancel", "")
	if a.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", a.status, a.body)
	}
	if got := a.session(t); got.State != "finished" || got.Outcome != "cancelled" {
		t.Errorf("after cancel: state %s outcome %s", got.State, got.Outcome)
	}
	// Who cancelled is on the timeline: the client's name for itself, or api.
	if tl := e.call("GET", "/v1/sessions/"+s.ID, "").session(t).Timeline; !strings.Contains(tl[len(tl)-2].Note, "by api") {
		t.Errorf("cancel without by: timeline %+v", tl)
	}
	other := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004"}`).session(t)
	if a := e.call("POST", "/v1/sessions/"+other.ID+"/cancel", `{"by":"cli:bob"}`); a.status != http.StatusOK {
		t.Fatalf("cancel by: %d %s", a.status, a.body)
	}
	if tl := e.call("GET", "/v1/sessions/"+other.ID, "").session(t).Timeline; !strings.Contains(tl[len(tl)-2].Note, "by cli:bob") {
		t.Errorf("cancel by cli:bob: timeline %+v", tl)
	}
	if a := e.call("POST", "/v1/sessions/"+other.ID+"/cancel", `{"by":"a\nb"}`); a.status != http.StatusBadRequest {
		t.Errorf("cancel by a name with a line break: %d %s", a.status, a.body)
	}
	again := e.call("POST", "/v1/sessions/"+s.ID+"/cancel", `{"end_bridged":true}`)
	if again.status != http.StatusConflict || again.err(t).Code != "finished" {
		t.Errorf("second cancel: %d %s, want 409 finished", again.status, again.body)
	}
	if a := e.call("POST", "/v1/sessions/0000000000000000000a/cancel", ""); a.status != http.StatusNotFound {
		t.Errorf("cancel unknown: %d %s", a.status, a.body)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t, envOptions{maxBody: 1024})
	a := e.call("POST", "/v1/dry-run", `{"caller":"1001","callee":"1002"}`)
	if a.status != http.StatusOK {
		t.Fatalf("dry run: %d %s", a.status, a.body)
	}
	var dr api.DryRunResponse
	json.Unmarshal(a.body, &dr)
	if len(dr.Commands) != 2 || !strings.HasPrefix(dr.Commands[0], "bgapi originate ") || !strings.Contains(dr.Commands[0], "user/1002@example.com") {
		t.Errorf("commands %q", dr.Commands)
	}
	if a := e.call("POST", "/v1/dry-run", `{"caller":"1001","callee":"1002","x":1}`); a.status != 400 {
		t.Errorf("unknown field: %d", a.status)
	}
	if a := e.call("POST", "/v1/dry-run", `{"caller":"`+strings.Repeat("1", 2000)+`","callee":"1002"}`); a.status != 413 {
		t.Errorf("oversized: %d", a.status)
	}
	if a := e.call("POST", "/v1/dry-run", `{}`, "Content-Type", "text/xml"); a.status != 415 {
		t.Errorf("xml: %d", a.status)
	}
	assertNoSessions(t, e)
}

func TestWatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	if a := e.call("GET", "/v1/watch?sesion=x", ""); a.status != http.StatusBadRequest {
		t.Errorf("unknown parameter: %d", a.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/v1/watch?caller=1001", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	other := e.call("POST", "/v1/sessions", `{"caller":"1005","callee":"1002"}`).session(t)
	s := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`).session(t)
	e.call("POST", "/v1/sessions/"+s.ID+"/cancel", "")
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var c api.Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if c.Session.ID == other.ID {
			t.Fatalf("filter caller=1001 let through %s's change", other.Caller)
		}
		if c.Session.ID == s.ID && c.Session.Outcome == "cancelled" {
			return
		}
	}
	t.Fatalf("stream ended without the cancel: %v", sc.Err())
}

func TestErrorShapeForUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.call("DELETE", "/v1/sessions", "")
	if a.status != http.StatusMethodNotAllowed || a.err(t).Code != "method_not_allowed" || !strings.Contains(a.header.Get("Allow"), "POST") {
		t.Errorf("DELETE /v1/sessions: %d %s allow %q", a.status, a.body, a.header.Get("Allow"))
	}
	a = e.call("GET", "/v2/things", "")
	if a.status != http.StatusNotFound || a.err(t).Code != "not_found" {
		t.Errorf("unknown route: %d %s", a.status, a.body)
	}
}

func TestCancelBridged(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.sim.SetSubscriber("2001", fssim.Behavior{Action: fssim.Answer})
	e.sim.SetSubscriber("2002", fssim.Behavior{Action: fssim.Answer})
	s := e.call("POST", "/v1/sessions", `{"caller":"2001","callee":"2002"}`).session(t)
	testutil.WaitFor(t, "the call to be bridged", func() bool {
		return e.call("GET", "/v1/sessions/"+s.ID, "").session(t).State == "bridged"
	})
	a := e.call("POST", "/v1/sessions/"+s.ID+"/cancel", `{}`)
	if a.status != http.StatusConflict || a.err(t).Code != "bridged" {
		t.Fatalf("cancel of a bridged call: %d %s, want 409 bridged", a.status, a.body)
	}
	a = e.call("POST", "/v1/sessions/"+s.ID+"/cancel", `{"end_bridged":true}`)
	if a.status != http.StatusOK {
		t.Fatalf("cancel with end_bridged: %d %s", a.status, a.body)
	}
	testutil.WaitFor(t, "the bridged call to end", func() bool {
		return e.call("GET", "/v1/sessions/"+s.ID, "").session(t).State == "finished"
	})
}

// TestCreateSaysWhatItDidNotDo: a request the existing session cannot
// honour is a 409 that says why, never another session's 200.
func TestCreateSaysWhatItDidNotDo(t *testing.T) {
	e := newEnv(t, envOptions{engine: func(o *session.Options) { o.CallbackURL = func(string) error { return nil } }})
	s := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`).session(t)
	a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002","policy":{"max_attempts":2}}`)
	if a.status != http.StatusConflict || !strings.Contains(a.err(t).Message, s.ID) || a.err(t).Code != "exists" {
		t.Errorf("same pair with another policy: %d %s, want 409 exists naming %s", a.status, a.body, s.ID)
	}
	p := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004","policy":{"max_attempts":2}}`)
	if p.status != http.StatusCreated {
		t.Fatalf("with policy: %d %s", p.status, p.body)
	}
	if a := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004","policy":{"max_attempts":2}}`); a.status != http.StatusOK {
		t.Errorf("the same request again: %d %s, want 200", a.status, a.body)
	}
	if a := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1004"}`); a.status != http.StatusOK {
		t.Errorf("the same pair without a policy: %d %s, want 200", a.status, a.body)
	}

	u := e.call("POST", "/v1/sessions", `{"caller":"1009","callee":"1010","callback_url":"https://crm.example.com/hooks/a"}`)
	if u.status != http.StatusCreated {
		t.Fatalf("with a callback URL: %d %s", u.status, u.body)
	}
	a = e.call("POST", "/v1/sessions", `{"caller":"1009","callee":"1010","callback_url":"https://crm.example.com/hooks/b"}`)
	if a.status != http.StatusConflict || a.err(t).Code != "exists" || !strings.Contains(a.err(t).Message, "callback URL") {
		t.Errorf("same pair with another callback URL: %d %s, want 409 exists naming the callback URL", a.status, a.body)
	}
	if a := e.call("POST", "/v1/sessions", `{"caller":"1009","callee":"1010","callback_url":"https://crm.example.com/hooks/a"}`); a.status != http.StatusOK {
		t.Errorf("the same callback URL again: %d %s, want 200", a.status, a.body)
	}

	k := e.call("POST", "/v1/sessions", `{"caller":"1005","callee":"1006"}`, "Idempotency-Key", "req-9")
	if k.status != http.StatusCreated {
		t.Fatalf("keyed create: %d %s", k.status, k.body)
	}
	a = e.call("POST", "/v1/sessions", `{"caller":"1007","callee":"1008"}`, "Idempotency-Key", "req-9")
	if a.status != http.StatusConflict || a.err(t).Code != "idempotency_key_reused" || !strings.Contains(a.err(t).Message, k.session(t).ID) {
		t.Errorf("key reused for other parties: %d %s, want 409 idempotency_key_reused", a.status, a.body)
	}
}

// TestCreateNamesEveryBadField: every bad field of a request is named at
// once, not only the first.
func TestCreateNamesEveryBadField(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.call("POST", "/v1/sessions", `{"caller":"10x1","callee":"","policy":{"ring_time":"90","max_attempts":-1,"time_zone":"Mars/Base"}}`)
	if a.status != http.StatusBadRequest {
		t.Fatalf("status %d %s", a.status, a.body)
	}
	got := map[string]bool{}
	for _, f := range a.err(t).Fields {
		got[f.Field] = true
	}
	for _, want := range []string{"caller", "callee", "policy.ring_time", "policy.max_attempts", "policy.time_zone"} {
		if !got[want] {
			t.Errorf("field %s not named: %s", want, a.body)
		}
	}
}

// TestRingWarning: a request whose ring time reaches the network's
// voicemail delay (20s here) without confirmation is created, and its
// answer warns, naming the setting and the fix; a shorter ring or
// confirmation leaves the warning out, and a bad confirm is refused.
func TestRingWarning(t *testing.T) {
	e := newEnv(t, envOptions{engine: func(o *session.Options) { o.Policy.VoicemailAfter = 20 * time.Second }})
	for i, c := range []struct {
		policy string
		warn   bool
	}{
		{`{"ring_time":"25s"}`, true},
		{`{"ring_time":"20s"}`, true},
		{`{"ring_time":"15s"}`, false},
		{`{"ring_time":"25s","confirm":true}`, false},
	} {
		a := e.call("POST", "/v1/sessions", fmt.Sprintf(`{"caller":"20%02d","callee":"30%02d","policy":%s}`, i, i, c.policy))
		if a.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", c.policy, a.status, a.body)
		}
		s := a.session(t)
		warned := slices.ContainsFunc(s.Warnings, func(w string) bool {
			return strings.Contains(w, "retry.voicemail_after") && strings.Contains(w, "confirm")
		})
		if warned != c.warn {
			t.Errorf("%s: warnings %q, want the voicemail warning: %v", c.policy, s.Warnings, c.warn)
		}
		if got := e.call("GET", "/v1/sessions/"+s.ID, "").session(t); !slices.Equal(got.Warnings, s.Warnings) {
			t.Errorf("%s: get warns %q, create %q", c.policy, got.Warnings, s.Warnings)
		}
	}
	if a := e.call("POST", "/v1/sessions", `{"caller":"2099","callee":"3099","policy":{"confirm":"yes"}}`); a.status != http.StatusBadRequest {
		t.Errorf("confirm \"yes\": %d %s, want 400", a.status, a.body)
	}
}
