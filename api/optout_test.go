package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"bgcall/api"
)

// TestOptOuts: a callee's opt-out refuses requests with 409 opted_out and
// cancels the live sessions it covers; listing shows it; removing it
// allows requests again; bad numbers are named.
func TestOptOuts(t *testing.T) {
	e := newEnv(t, envOptions{})
	live := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`)
	if live.status != http.StatusCreated {
		t.Fatalf("create: %d %s", live.status, live.body)
	}
	liveID := live.session(t).ID

	a := e.call("POST", "/v1/optouts/1002", `{"caller":"1001","by":"ops"}`)
	var res api.OptOutResponse
	if err := json.Unmarshal(a.body, &res); err != nil || a.status != http.StatusCreated || !res.Added {
		t.Fatalf("opt-out of 1002 from 1001: %d %s", a.status, a.body)
	}
	if res.OptOut.Callee != "1002" || res.OptOut.Caller != "1001" || res.OptOut.By != "ops" || res.OptOut.Since.IsZero() {
		t.Errorf("opt-out as stored: %+v", res.OptOut)
	}
	if !slices.Equal(res.Cancelled, []string{liveID}) {
		t.Errorf("cancelled %v, want the live session %s", res.Cancelled, liveID)
	}
	if s := e.call("GET", "/v1/sessions/"+liveID, "").session(t); s.Outcome != "cancelled" {
		t.Errorf("the live session after the opt-out: %s %s, want cancelled", s.State, s.Outcome)
	}
	a = e.call("POST", "/v1/optouts/1002", `{"caller":"1001"}`)
	if err := json.Unmarshal(a.body, &res); err != nil || a.status != http.StatusOK || res.Added || res.OptOut.By != "ops" {
		t.Errorf("the same opt-out again: %d %s; want 200, the first one kept", a.status, a.body)
	}

	a = e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`)
	if d := a.err(t); a.status != http.StatusConflict || d.Code != "opted_out" || !strings.Contains(d.Message, "1002") {
		t.Errorf("request to an opted-out callee: %d %s, want 409 opted_out naming 1002", a.status, a.body)
	}
	if a := e.call("POST", "/v1/sessions", `{"caller":"1003","callee":"1002"}`); a.status != http.StatusCreated {
		t.Errorf("another caller's request: %d %s, want 201", a.status, a.body)
	}

	if a := e.call("POST", "/v1/optouts/1002", ""); a.status != http.StatusCreated {
		t.Errorf("opt-out from every caller: %d %s", a.status, a.body)
	}
	var list api.OptOutsResponse
	a = e.call("GET", "/v1/optouts/1002", "")
	if err := json.Unmarshal(a.body, &list); err != nil || a.status != http.StatusOK || len(list.OptOuts) != 2 ||
		list.OptOuts[0].Caller != "" || list.OptOuts[1].Caller != "1001" {
		t.Errorf("list: %d %s; want the opt-out from every caller, then 1001's", a.status, a.body)
	}

	var o api.Overview
	a = e.call("GET", "/v1/overview", "")
	if err := json.Unmarshal(a.body, &o); err != nil || o.OptedOut != 1 {
		t.Errorf("overview: opted out %d, %v (%s); want 1 callee", o.OptedOut, err, a.body)
	}

	var removed api.OptInResponse
	a = e.call("POST", "/v1/optouts/1002/remove", `{"caller":"1001"}`)
	if err := json.Unmarshal(a.body, &removed); err != nil || a.status != http.StatusOK || removed.Removed != 1 {
		t.Errorf("remove 1001's: %d %s", a.status, a.body)
	}
	a = e.call("POST", "/v1/optouts/1002/remove", "")
	if err := json.Unmarshal(a.body, &removed); err != nil || a.status != http.StatusOK || removed.Removed != 1 {
		t.Errorf("remove the rest: %d %s", a.status, a.body)
	}
	if a := e.call("POST", "/v1/sessions", `{"caller":"1001","callee":"1002"}`); a.status != http.StatusCreated {
		t.Errorf("after opting in again: %d %s, want 201", a.status, a.body)
	}
	a = e.call("GET", "/v1/optouts/1002", "")
	if err := json.Unmarshal(a.body, &list); err != nil || a.status != http.StatusOK || list.OptOuts == nil || len(list.OptOuts) != 0 {
		t.Errorf("list after removing all: %d %s; want an empty list", a.status, a.body)
	}

	for _, c := range []struct{ method, path, body, field string }{
		{"POST", "/v1/optouts/12a", "", "callee"},
		{"POST", "/v1/optouts/1002", `{"caller":"1002"}`, "caller"},
		{"POST", "/v1/optouts/1002", `{"by":"a\u0001b"}`, "by"},
		{"POST", "/v1/optouts/1002", `{"who":"x"}`, "who"},
		{"GET", "/v1/optouts/x", "", "callee"},
		{"POST", "/v1/optouts/1002/remove", `{"caller":"x"}`, "caller"},
	} {
		a := e.call(c.method, c.path, c.body)
		d := a.err(t)
		if a.status != http.StatusBadRequest || len(d.Fields) == 0 || d.Fields[0].Field != c.field {
			t.Errorf("%s %s %s: %d %s; want 400 naming %s", c.method, c.path, c.body, a.status, a.body, c.field)
		}
	}
}

// TestOptOutBodies: the optional bodies of adding and removing an opt-out
// are refused as every other body is: too large (413), not JSON (415).
func TestOptOutBodies(t *testing.T) {
	e := newEnv(t, envOptions{maxBody: 1024})
	for _, path := range []string{"/v1/optouts/1002", "/v1/optouts/1002/remove"} {
		for _, tc := range []struct {
			name, body, ctype string
			status            int
		}{
			{"oversized", `{"caller":"1001","x":"` + strings.Repeat("x", 2048) + `"}`, "", http.StatusRequestEntityTooLarge},
			{"text body", `1001`, "text/plain", http.StatusUnsupportedMediaType},
		} {
			var hdr []string
			if tc.ctype != "" {
				hdr = []string{"Content-Type", tc.ctype}
			}
			if a := e.call("POST", path, tc.body, hdr...); a.status != tc.status {
				t.Errorf("%s with %s: %d %s, want %d", path, tc.name, a.status, a.body, tc.status)
			} else {
				a.err(t)
			}
		}
	}
	var list api.OptOutsResponse
	if a := e.call("GET", "/v1/optouts/1002", ""); json.Unmarshal(a.body, &list) != nil || len(list.OptOuts) != 0 {
		t.Errorf("after refused bodies: %d %s, want no opt-out stored", a.status, a.body)
	}
}
