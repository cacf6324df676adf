package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"bgcall/session"
	"bgcall/store"
)

// OptOut is a callee's refusal of background calls: from every caller
// (caller empty) or from one.
type OptOut struct {
	Callee string    `json:"callee"`
	Caller string    `json:"caller,omitempty"`
	By     string    `json:"by,omitempty"`
	Since  time.Time `json:"since"`
}

// OptOutRequest is the optional body of POST /v1/optouts/{callee}: the
// opt-out is from caller alone, or from every caller when it is empty.
type OptOutRequest struct {
	Caller string `json:"caller,omitempty"`
	By     string `json:"by,omitempty"`
}

// OptOutResponse says what POST /v1/optouts/{callee} did.
type OptOutResponse struct {
	OptOut OptOut `json:"optout"` // as stored: an earlier one is kept as it was
	Added  bool   `json:"added"`
	// Cancelled are the live sessions the opt-out covers that it
	// cancelled; Bridged those left alone because A and B are talking.
	Cancelled []string `json:"cancelled"`
	Bridged   []string `json:"bridged,omitempty"`
}

// OptOutsResponse lists a callee's opt-outs, the one from every caller
// first.
type OptOutsResponse struct {
	Callee  string   `json:"callee"`
	OptOuts []OptOut `json:"optouts"`
}

// OptInRequest is the optional body of POST /v1/optouts/{callee}/remove:
// the opt-out from caller goes, or every opt-out of the callee when caller
// is empty.
type OptInRequest struct {
	Caller string `json:"caller,omitempty"`
}

// OptInResponse says how many opt-outs POST /v1/optouts/{callee}/remove
// removed.
type OptInResponse struct {
	Removed int `json:"removed"`
}

// OptOuts is what the API needs of the engine for opt-outs.
type OptOuts interface {
	OptOut(ctx context.Context, callee, caller, by string) (session.OptOutResult, error)
	OptIn(ctx context.Context, callee, caller string) (int, error)
	OptOuts(ctx context.Context, callee string) ([]store.OptOut, error)
}

func optOutOf(o store.OptOut) OptOut {
	return OptOut{Callee: o.Callee, Caller: o.Caller, By: o.By, Since: o.Since}
}

func (h *Handler) listOptOuts(w http.ResponseWriter, r *http.Request) {
	callee := r.PathValue("callee")
	list, err := h.opt.Engine.OptOuts(r.Context(), callee)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	out := OptOutsResponse{Callee: callee, OptOuts: []OptOut{}}
	for _, o := range list {
		out.OptOuts = append(out.OptOuts, optOutOf(o))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) addOptOut(w http.ResponseWriter, r *http.Request) {
	var body OptOutRequest
	if err := decode(w, r, h.opt.MaxBody, &body, true); err != nil {
		h.writeErr(w, r, err)
		return
	}
	by, err := cancelledBy(body.By)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	res, err := h.opt.Engine.OptOut(r.Context(), r.PathValue("callee"), body.Caller, by)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	out := OptOutResponse{OptOut: optOutOf(res.OptOut), Added: res.Added, Cancelled: res.Cancelled, Bridged: res.Bridged}
	if out.Cancelled == nil {
		out.Cancelled = []string{}
	}
	status := http.StatusOK
	if res.Added {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

func (h *Handler) removeOptOut(w http.ResponseWriter, r *http.Request) {
	var body OptInRequest
	if err := decode(w, r, h.opt.MaxBody, &body, true); err != nil {
		h.writeErr(w, r, err)
		return
	}
	n, err := h.opt.Engine.OptIn(r.Context(), r.PathValue("callee"), body.Caller)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, OptInResponse{Removed: n})
}

// OptOut records that callee refuses background calls from caller (every
// caller when empty) and cancels the live sessions it covers.
func (c *Client) OptOut(ctx context.Context, callee, caller string) (OptOutResponse, error) {
	var out OptOutResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/optouts/"+url.PathEscape(callee), OptOutRequest{Caller: caller, By: c.Name}, &out)
	return out, err
}

// OptIn removes callee's opt-out from caller, or every opt-out of callee
// when caller is empty, and returns how many it removed.
func (c *Client) OptIn(ctx context.Context, callee, caller string) (int, error) {
	var out OptInResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/optouts/"+url.PathEscape(callee)+"/remove", OptInRequest{Caller: caller}, &out)
	return out.Removed, err
}

// OptOuts returns callee's opt-outs.
func (c *Client) OptOuts(ctx context.Context, callee string) ([]OptOut, error) {
	var out OptOutsResponse
	_, err := c.do(ctx, http.MethodGet, "/v1/optouts/"+url.PathEscape(callee), nil, &out)
	return out.OptOuts, err
}
