package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"bgcall/session"
	"bgcall/store"
)

// idRE matches what a session id can be; anything else is not found without
// asking the store.
var idRE = regexp.MustCompile(`^[0-9a-z]{1,64}$`)

// createBody is CreateRequest as read from the wire: the policy is decoded
// on its own so that its field errors carry the "policy." prefix.
type createBody struct {
	Caller         string          `json:"caller"`
	Callee         string          `json:"callee"`
	Source         string          `json:"source"`
	IdempotencyKey string          `json:"idempotency_key"`
	Policy         json.RawMessage `json:"policy"`
	CallbackURL    string          `json:"callback_url"`
}

func (h *Handler) readCreate(w http.ResponseWriter, r *http.Request) (CreateRequest, error) {
	var b createBody
	if err := decode(w, r, h.opt.MaxBody, &b, false); err != nil {
		return CreateRequest{}, err
	}
	out := CreateRequest{Caller: b.Caller, Callee: b.Callee, Source: b.Source, IdempotencyKey: b.IdempotencyKey, CallbackURL: b.CallbackURL}
	if len(b.Policy) > 0 && string(b.Policy) != "null" {
		out.Policy = new(PolicyOverride)
		dec := json.NewDecoder(bytes.NewReader(b.Policy))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out.Policy); err != nil {
			e := jsonError(err)
			if len(e.fields) == 0 {
				e = invalid("policy", "must be a JSON object such as {\"max_attempts\": 5}")
				e.code = "bad_json"
				return out, e
			}
			for i := range e.fields {
				e.fields[i].Field = "policy." + e.fields[i].Field
				e.message = e.fields[i].Field + ": " + e.fields[i].Problem
			}
			return out, e
		}
	}
	return out, nil
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	body, err := h.readCreate(w, r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	req, err := toRequest(body, r.Header.Get("Idempotency-Key"))
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	s, created, err := h.opt.Engine.Create(r.Context(), req)
	if err == nil && !created {
		err = notHonoured(req, s)
	}
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/sessions/"+s.ID)
	}
	writeJSON(w, status, h.withWarnings(h.session(s, nil), s))
}

// session is s as the API shows it, with its effective attempt cap and
// quiet hours.
func (h *Handler) session(s store.Session, tl []store.Entry) Session {
	out := fromStore(s, tl)
	q := h.opt.Engine.QuietHours(s)
	out.QuietHours = q.String()
	out.HeldByQuietHours = s.State == store.Waiting && q.Deferred(s.DueAt)
	out.MaxAttempts = h.opt.MaxAttempts
	if s.Policy != "" {
		var o session.PolicyOverrides
		if json.Unmarshal([]byte(s.Policy), &o) == nil && o.MaxAttempts != nil {
			out.MaxAttempts = *o.MaxAttempts
		}
	}
	describeAll(out, out.Timeline)
	return out
}

// toRequest reads b into a session request and checks it whole: the
// error names every bad field, those the wire format gets wrong (a missing
// number, a duration without its unit) and those the engine refuses.
func toRequest(b CreateRequest, idemHeader string) (session.Request, error) {
	req := session.Request{Caller: b.Caller, Callee: b.Callee, Source: b.Source, IdempotencyKey: b.IdempotencyKey, CallbackURL: b.CallbackURL}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = idemHeader
	}
	var fields []FieldError
	reported := map[string]bool{}
	bad := func(field, problem string) {
		fields = append(fields, FieldError{Field: field, Problem: problem})
		reported[field] = true
	}
	if b.Caller == "" {
		bad("caller", "is required: A's number, e.g. \"1001\"")
	}
	if b.Callee == "" {
		bad("callee", "is required: B's number, e.g. \"1002\"")
	}
	if p := b.Policy; p != nil {
		o := &session.PolicyOverrides{MaxAttempts: p.MaxAttempts, TimeZone: p.TimeZone, Confirm: p.Confirm}
		for _, d := range []struct {
			field string
			text  string
			into  **session.Duration
		}{
			{"policy.ring_time", p.RingTime, &o.RingTime},
			{"policy.first_interval", p.FirstInterval, &o.FirstInterval},
			{"policy.max_total", p.MaxTotal, &o.MaxTotal},
		} {
			if d.text == "" {
				continue
			}
			v, err := time.ParseDuration(d.text)
			if err != nil {
				bad(d.field, strconv.Quote(d.text)+" is not a duration such as \"30s\" or \"2m\"")
				continue
			}
			sd := session.Duration(v)
			*d.into = &sd
		}
		req.Policy = o
	}
	check := req
	for _, ve := range validationErrors(check.Validate()) {
		if !reported[ve.Field] {
			bad(ve.Field, ve.Problem)
		}
	}
	if len(fields) > 0 {
		return req, fieldsError(fields)
	}
	return req, nil
}

// notHonoured says why an existing session returned for req does not do
// what req asks: its idempotency key was used for other parties, or the
// pair's live session runs with another policy or callback URL. nil when
// it does.
func notHonoured(req session.Request, s store.Session) error {
	if req.IdempotencyKey != "" && s.IdempotencyKey == req.IdempotencyKey && (s.Caller != req.Caller || s.Callee != req.Callee) {
		return &requestError{status: http.StatusConflict, code: "idempotency_key_reused",
			message: fmt.Sprintf("idempotency key %q was used for session %s (%s calls %s); use another key for another call", req.IdempotencyKey, s.ID, s.Caller, s.Callee)}
	}
	if req.Policy != nil {
		asked, err := json.Marshal(req.Policy)
		if err == nil && string(asked) != s.Policy {
			return &requestError{status: http.StatusConflict, code: "exists",
				message: fmt.Sprintf("%s already has session %s for %s (%s) with its own policy, which stays; cancel it first to start one with this policy", s.Caller, s.ID, s.Callee, s.State)}
		}
	}
	if req.CallbackURL != "" && req.CallbackURL != s.CallbackURL {
		return &requestError{status: http.StatusConflict, code: "exists",
			message: fmt.Sprintf("%s already has session %s for %s (%s) with its own callback URL, which stays; cancel it first to start one with this callback URL", s.Caller, s.ID, s.Callee, s.State)}
	}
	return nil
}

func (h *Handler) dryRun(w http.ResponseWriter, r *http.Request) {
	body, err := h.readCreate(w, r)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	req, err := toRequest(body, "")
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	cmds, err := h.opt.Engine.DryRun(req)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, DryRunResponse{Commands: cmds})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !idRE.MatchString(id) {
		h.writeErr(w, r, store.ErrNotFound)
		return
	}
	s, tl, err := h.opt.Engine.Get(r.Context(), id)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.withWarnings(h.session(s, tl), s))
}

// withWarnings adds to a live session what keeps it from going on, and
// what in its policy may not do what A expects (a ring long enough for B's
// voicemail to answer, with B not asked to confirm).
func (h *Handler) withWarnings(s Session, st store.Session) Session {
	if s.State == "finished" {
		return s
	}
	if w := h.opt.Engine.RingWarning(st); w != "" {
		s.Warnings = append(s.Warnings, w)
	}
	if h.opt.Nodes == nil {
		return s
	}
	nodes := h.opt.Nodes()
	for _, n := range nodes {
		if n.Connected {
			return s
		}
	}
	s.Warnings = append(s.Warnings, fmt.Sprintf("no FreeSWITCH node is connected (of %d configured): no attempt is made until one is; bgcall top shows the nodes", len(nodes)))
	return s
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body CancelRequest
	if err := decode(w, r, h.opt.MaxBody, &body, true); err != nil {
		h.writeErr(w, r, err)
		return
	}
	if !idRE.MatchString(id) {
		h.writeErr(w, r, store.ErrNotFound)
		return
	}
	by, err := cancelledBy(body.By)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	s, err := h.opt.Engine.CancelBy(r.Context(), id, body.EndBridged, by)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.session(s, nil))
}

// cancelledBy checks the name a client gives itself for a cancel.
func cancelledBy(by string) (string, error) {
	if by == "" {
		return "api", nil
	}
	if len(by) > 64 || strings.IndexFunc(by, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return "", invalid("by", "must be at most 64 characters, without control characters, e.g. \"cli:alice\"")
	}
	return by, nil
}

var listParams = map[string]bool{"caller": true, "callee": true, "node": true, "state": true, "limit": true, "cursor": true}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	sessions, next, err := h.opt.Engine.List(r.Context(), f)
	if errors.Is(err, store.ErrInvalid) && f.Cursor != "" {
		err = invalid("cursor", strconv.Quote(f.Cursor)+" is not a next_cursor a previous page returned; leave it out for the first page")
	}
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	out := ListResponse{Sessions: make([]Session, 0, len(sessions)), NextCursor: next}
	for _, s := range sessions {
		out.Sessions = append(out.Sessions, h.session(s, nil))
	}
	writeJSON(w, http.StatusOK, out)
}

func parseFilter(q url.Values) (store.Filter, error) {
	for k := range q {
		if !listParams[k] {
			return store.Filter{}, invalid(k, "unknown query parameter; use caller, callee, node, state, limit or cursor")
		}
	}
	f := store.Filter{Caller: q.Get("caller"), Callee: q.Get("callee"), Node: q.Get("node"), State: store.State(q.Get("state")), Cursor: q.Get("cursor")}
	if f.State != "" && !validState(f.State) {
		return f, invalid("state", strconv.Quote(string(f.State))+" is not one of waiting, dialing_callee, confirming, callee_hold, bridged, finished")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, invalid("limit", "must be a whole number from 1 to 1000")
		}
		f.Limit = n
	}
	return f, nil
}

func validState(s store.State) bool {
	if s == store.Finished {
		return true
	}
	for _, l := range store.LiveStates {
		if s == l {
			return true
		}
	}
	return false
}

var watchParams = map[string]bool{"session": true, "caller": true, "callee": true, "node": true}

// watch streams changes as newline-delimited JSON until the client goes
// away or the server shuts down. The status line is written only once the
// subscription exists, so a client that reads the session after the
// headers arrive misses no change.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !watchParams[k] {
			h.writeErr(w, r, invalid(k, "unknown query parameter; use session, caller, callee or node"))
			return
		}
	}
	id, caller, callee, node := q.Get("session"), q.Get("caller"), q.Get("callee"), q.Get("node")
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported by this server", nil)
		return
	}
	changes, stop := h.opt.Engine.Watch(r.Context())
	defer stop()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	tick := time.NewTicker(h.opt.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			bw.WriteString("\n")
		case c, ok := <-changes:
			if !ok {
				return
			}
			s := c.Session
			if (id != "" && s.ID != id) || (caller != "" && s.Caller != caller) || (callee != "" && s.Callee != callee) || (node != "" && s.Node != node) {
				continue
			}
			sess := h.session(s, nil)
			entries := fromEntries(c.Entries)
			describeAll(sess, entries)
			if err := enc.Encode(Change{Session: sess, Entries: entries}); err != nil {
				return
			}
		}
		if err := bw.Flush(); err != nil {
			return
		}
		flusher.Flush()
	}
}
