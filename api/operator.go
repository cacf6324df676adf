package api

import (
	"errors"
	"fmt"
	"net/http"

	"bgcall/session"
	"bgcall/store"
)

// BulkCancelRequest is the body of POST /v1/cancel: every live session of
// a caller, a callee or a node (all the given filters must match).
type BulkCancelRequest struct {
	Caller     string `json:"caller,omitempty"`
	Callee     string `json:"callee,omitempty"`
	Node       string `json:"node,omitempty"`
	EndBridged bool   `json:"end_bridged,omitempty"` // also hang up calls A and B are in
	DryRun     bool   `json:"dry_run,omitempty"`     // count and list, cancel nothing
	By         string `json:"by,omitempty"`
}

// BulkCancelResponse says what a bulk cancel matched and did.
type BulkCancelResponse struct {
	DryRun    bool     `json:"dry_run"`
	Matched   []string `json:"matched"`   // live sessions the filters match
	Cancelled []string `json:"cancelled"` // empty on a dry run
	// Bridged are matched sessions left alone: A and B are talking and
	// end_bridged was not set.
	Bridged []string       `json:"bridged,omitempty"`
	Failed  []BulkCancelID `json:"failed,omitempty"`
}

// BulkCancelID is a session a bulk cancel could not cancel, and why.
type BulkCancelID struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// DialNowRequest is the optional body of POST /v1/sessions/{id}/dial-now.
type DialNowRequest struct {
	By string `json:"by,omitempty"`
}

// bulkLimit bounds the sessions one bulk cancel touches.
const bulkLimit = 10000

func (h *Handler) bulkCancel(w http.ResponseWriter, r *http.Request) {
	var body BulkCancelRequest
	if err := decode(w, r, h.opt.MaxBody, &body, false); err != nil {
		h.writeErr(w, r, err)
		return
	}
	if body.Caller == "" && body.Callee == "" && body.Node == "" {
		h.writeErr(w, r, invalid("caller", "name a caller, a callee or a node (or several): a bulk cancel never takes every session"))
		return
	}
	by, err := cancelledBy(body.By)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	out := BulkCancelResponse{DryRun: body.DryRun, Matched: []string{}, Cancelled: []string{}}
	var matched []store.Session
	for _, st := range store.LiveStates {
		f := store.Filter{Caller: body.Caller, Callee: body.Callee, Node: body.Node, State: st, Limit: 1000}
		for len(matched) < bulkLimit {
			page, next, err := h.opt.Engine.List(r.Context(), f)
			if err != nil {
				h.writeErr(w, r, err)
				return
			}
			matched = append(matched, page...)
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	for _, s := range matched {
		out.Matched = append(out.Matched, s.ID)
		switch {
		case s.State == store.Bridged && !body.EndBridged:
			out.Bridged = append(out.Bridged, s.ID)
		case body.DryRun:
		default:
			_, err := h.opt.Engine.CancelBy(r.Context(), s.ID, body.EndBridged, by)
			switch {
			case err == nil:
				out.Cancelled = append(out.Cancelled, s.ID)
			case errors.Is(err, session.ErrFinished), errors.Is(err, store.ErrNotFound):
				// It ended by itself meanwhile.
			case errors.Is(err, session.ErrBridged):
				out.Bridged = append(out.Bridged, s.ID)
			default:
				out.Failed = append(out.Failed, BulkCancelID{ID: s.ID, Error: err.Error()})
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) dialNow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body DialNowRequest
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
	s, err := h.opt.Engine.DialNow(r.Context(), id, by)
	if errors.Is(err, session.ErrNotWaiting) {
		writeError(w, http.StatusConflict, "not_waiting", fmt.Sprintf("session %s is %s, not waiting for its next attempt; nothing to bring forward", id, s.State), nil)
		return
	}
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.session(s, nil))
}

// ErrUnknownNode is what Options.PauseNode returns for a node the daemon
// is not configured with.
var ErrUnknownNode = errors.New("no such FreeSWITCH node")

// NodeRequest is the optional body of POST /v1/nodes/{node}/pause and
// /resume.
type NodeRequest struct {
	By string `json:"by,omitempty"`
}

// pauseNode pauses or resumes new calls on the node in the path, for every
// replica.
func (h *Handler) pauseNode(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		node := r.PathValue("node")
		var body NodeRequest
		if err := decode(w, r, h.opt.MaxBody, &body, true); err != nil {
			h.writeErr(w, r, err)
			return
		}
		by, err := cancelledBy(body.By)
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		if h.opt.PauseNode == nil || h.opt.Nodes == nil {
			writeError(w, http.StatusNotFound, "not_found", "this daemon cannot pause nodes", nil)
			return
		}
		err = h.opt.PauseNode(r.Context(), node, pause, by)
		if errors.Is(err, ErrUnknownNode) {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no FreeSWITCH node %q; freeswitch.nodes names them (bgcall top lists them)", node), nil)
			return
		}
		if err != nil {
			h.writeErr(w, r, err)
			return
		}
		for _, n := range h.opt.Nodes() {
			if n.Name == node {
				writeJSON(w, http.StatusOK, n)
				return
			}
		}
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no FreeSWITCH node %q", node), nil)
	}
}
