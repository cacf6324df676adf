package api

import (
	"time"

	"bgcall/store"
)

// CreateRequest is the body of POST /v1/sessions.
type CreateRequest struct {
	Caller         string          `json:"caller"`
	Callee         string          `json:"callee"`
	Source         string          `json:"source,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Policy         *PolicyOverride `json:"policy,omitempty"`
	// CallbackURL receives this session's lifecycle events too
	// (docs/webhooks.md), where the operator allows it.
	CallbackURL string `json:"callback_url,omitempty"`
}

// PolicyOverride changes the retry policy of one session.
type PolicyOverride struct {
	RingTime      string `json:"ring_time,omitempty"`
	FirstInterval string `json:"first_interval,omitempty"`
	MaxAttempts   *int   `json:"max_attempts,omitempty"`
	MaxTotal      string `json:"max_total,omitempty"`
	TimeZone      string `json:"time_zone,omitempty"`
	// Confirm asks B to press 1 before A is called (confirm.enabled for
	// this session).
	Confirm *bool `json:"confirm,omitempty"`
}

// CancelRequest is the optional body of POST /v1/sessions/{id}/cancel.
type CancelRequest struct {
	EndBridged bool `json:"end_bridged"`
	// By names who asks, for the timeline and the log ("cli:alice",
	// "web"); default "api".
	By string `json:"by,omitempty"`
}

// Session is a session as the API shows it.
type Session struct {
	ID             string     `json:"id"`
	Caller         string     `json:"caller"`
	Callee         string     `json:"callee"`
	Source         string     `json:"source"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
	CallbackURL    string     `json:"callback_url,omitempty"`
	State          string     `json:"state"`
	Outcome        string     `json:"outcome,omitempty"`
	Cause          string     `json:"cause,omitempty"`
	Attempts       int        `json:"attempts"`
	MaxAttempts    int        `json:"max_attempts"` // 0: until B answers (max_total still applies)
	Node           string     `json:"node,omitempty"`
	CalleeLeg      string     `json:"callee_leg,omitempty"`
	CallerLeg      string     `json:"caller_leg,omitempty"`
	Owner          string     `json:"owner,omitempty"`
	Version        int64      `json:"version"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DueAt          *time.Time `json:"due_at,omitempty"`
	// QuietHours are the hours no attempt starts in, in B's time zone
	// ("21:00-08:00 Europe/Berlin"); empty when there are none.
	QuietHours string `json:"quiet_hours,omitempty"`
	// HeldByQuietHours: the session waits for the end of quiet hours.
	HeldByQuietHours bool       `json:"held_by_quiet_hours,omitempty"`
	DeadlineAt       *time.Time `json:"deadline_at,omitempty"`
	AnsweredAt       *time.Time `json:"answered_at,omitempty"`
	BridgedAt        *time.Time `json:"bridged_at,omitempty"`
	FinishedAt       *time.Time `json:"finished_at,omitempty"`
	Timeline         []Entry    `json:"timeline,omitempty"`
	// Warnings say what keeps a live session from going on, such as no
	// FreeSWITCH node connected (in the answers to create and get).
	Warnings []string `json:"warnings,omitempty"`
}

// Entry is one line of a session's timeline.
type Entry struct {
	At      time.Time  `json:"at"`
	Kind    store.Kind `json:"kind"`
	State   string     `json:"state,omitempty"`
	Attempt int        `json:"attempt,omitempty"`
	Leg     string     `json:"leg,omitempty"`
	Node    string     `json:"node,omitempty"`
	UUID    string     `json:"uuid,omitempty"`
	Cause   string     `json:"cause,omitempty"`
	Note    string     `json:"note,omitempty"`
	// Text is the entry in words, as bgcall status prints it (Describe).
	Text string `json:"text,omitempty"`
}

// NodeStatus is one FreeSWITCH node as this replica sees it.
type NodeStatus struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Connected bool   `json:"connected"`
	// Channels is the number of live channels on the node, every call's,
	// not only bgcall's: the node's load.
	Channels      int        `json:"channels"`
	CommandConns  int        `json:"command_connections"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	Reconnects    uint64     `json:"reconnects"`
	LastError     string     `json:"last_error,omitempty"`
	// Paused: no replica starts new calls on the node (maintenance);
	// calls already on it go on.
	Paused      bool       `json:"paused"`
	PausedBy    string     `json:"paused_by,omitempty"`
	PausedSince *time.Time `json:"paused_since,omitempty"`
}

// ListResponse is a page of GET /v1/sessions.
type ListResponse struct {
	Sessions   []Session `json:"sessions"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Change is one line of the GET /v1/watch stream: a session after a change
// and the timeline entries the change added.
type Change struct {
	Session Session `json:"session"`
	Entries []Entry `json:"entries,omitempty"`
}

// DryRunResponse is the answer of POST /v1/dry-run.
type DryRunResponse struct {
	Commands []string `json:"commands"`
}

// ErrorBody is the one shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong; Fields names each bad request field.
type ErrorDetail struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

// FieldError is one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func fromStore(s store.Session, tl []store.Entry) Session {
	out := Session{
		ID: s.ID, Caller: s.Caller, Callee: s.Callee, Source: s.Source,
		IdempotencyKey: s.IdempotencyKey, CallbackURL: s.CallbackURL,
		State: string(s.State), Outcome: string(s.Outcome), Cause: s.Cause,
		Attempts: s.Attempts, Node: s.Node, CalleeLeg: s.CalleeLeg, CallerLeg: s.CallerLeg,
		Owner: s.Owner, Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
		DueAt: optTime(s.DueAt), DeadlineAt: optTime(s.DeadlineAt), AnsweredAt: optTime(s.AnsweredAt),
		BridgedAt: optTime(s.BridgedAt), FinishedAt: optTime(s.FinishedAt),
	}
	out.Timeline = fromEntries(tl)
	return out
}

func fromEntries(tl []store.Entry) []Entry {
	if len(tl) == 0 {
		return nil
	}
	out := make([]Entry, len(tl))
	for i, e := range tl {
		out[i] = Entry{At: e.At, Kind: e.Kind, State: string(e.State), Attempt: e.Attempt,
			Leg: e.Leg, Node: e.Node, UUID: e.UUID, Cause: e.Cause, Note: e.Note}
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
