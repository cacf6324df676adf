package api

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"bgcall/freeswitch"
	"bgcall/session"
	"bgcall/store"
)

// Stats is what the overview reads of the shared store.
type Stats interface {
	LiveCounts(ctx context.Context) (map[store.State]int64, error)
	FinishedSince(ctx context.Context, since time.Time, limit int) (map[store.Outcome]int, int64, error)
	DueBetween(ctx context.Context, from, to time.Time, limit int) ([]store.Session, int64, error)
	Replicas(ctx context.Context) ([]store.Replica, error)
	FindLeg(ctx context.Context, uuid string, since time.Time, limit int) (store.Session, error)
	OptOutCount(ctx context.Context) (int64, error)
}

// Overview is the whole system at a glance: GET /v1/overview, bgcall top
// and the web page show it.
type Overview struct {
	At      time.Time `json:"at"`
	Replica string    `json:"replica"` // the replica that answered
	// Live counts the sessions not finished, by state, across replicas.
	Live map[string]int64 `json:"live"`
	// Finished counts the sessions finished in the last hour and day.
	Finished []FinishedWindow `json:"finished"`
	DueSoon  DueSoon          `json:"due_soon"`
	Quiet    QuietStatus      `json:"quiet_hours"`
	// Nodes are the FreeSWITCH nodes as the answering replica sees them.
	Nodes    []NodeStatus    `json:"nodes"`
	Replicas []ReplicaStatus `json:"replicas"`
	// NotificationBacklog is the number of messages to callers the
	// answering replica has yet to deliver.
	NotificationBacklog int `json:"notification_backlog"`
	// OptedOut is the number of callees who refuse background calls, from
	// every caller or from some.
	OptedOut int64 `json:"opted_out_callees"`
}

// FinishedWindow counts the sessions finished within a window. Outcomes
// are counted over the latest Counted of them (all, unless the window holds
// more than the overview reads).
type FinishedWindow struct {
	Window    string         `json:"window"` // "1h", "24h"
	Total     int64          `json:"total"`
	Counted   int            `json:"counted"`
	ByOutcome map[string]int `json:"by_outcome"`
}

// DueSoon is what is dialled next.
type DueSoon struct {
	Within string    `json:"within"`
	Count  int64     `json:"count"`
	Next   []Session `json:"next"`
}

// QuietStatus says how quiet hours hold sessions back, in the operator's
// zone (a session may name its own).
type QuietStatus struct {
	Hours string     `json:"hours,omitempty"` // "" when there are none
	Now   bool       `json:"now"`             // the quiet hours are on now
	Until *time.Time `json:"until,omitempty"` // the end of the current or next window
	Held  int64      `json:"held"`            // waiting sessions due then
}

// ReplicaStatus is one replica's lease and the live sessions it steers.
type ReplicaStatus struct {
	ID         string    `json:"id"`
	LeaseUntil time.Time `json:"lease_until"`
	Lost       bool      `json:"lost"` // its lease ran out: its sessions go to another replica
	Owned      int64     `json:"owned"`
}

// overviewRead bounds how many finished sessions a window reads for its
// outcomes, and dueSoon how far ahead and how many due sessions it lists.
const (
	overviewRead  = 20000
	dueSoonWithin = 5 * time.Minute
	dueSoonList   = 10
)

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	if h.opt.Stats == nil {
		writeError(w, http.StatusNotFound, "not_found", "this daemon has no overview", nil)
		return
	}
	o, err := h.readOverview(r.Context())
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (h *Handler) readOverview(ctx context.Context) (Overview, error) {
	st, now := h.opt.Stats, h.now()
	o := Overview{At: now, Replica: h.opt.Replica, Live: map[string]int64{}, Nodes: []NodeStatus{}, Replicas: []ReplicaStatus{}}
	live, err := st.LiveCounts(ctx)
	if err != nil {
		return o, err
	}
	for state, n := range live {
		o.Live[string(state)] = n
	}
	for _, win := range []struct {
		name string
		d    time.Duration
	}{{"1h", time.Hour}, {"24h", 24 * time.Hour}} {
		counts, total, err := st.FinishedSince(ctx, now.Add(-win.d), overviewRead)
		if err != nil {
			return o, err
		}
		fw := FinishedWindow{Window: win.name, Total: total, ByOutcome: map[string]int{}}
		for outcome, n := range counts {
			fw.ByOutcome[string(outcome)] = n
			fw.Counted += n
		}
		o.Finished = append(o.Finished, fw)
	}
	due, n, err := st.DueBetween(ctx, now.Add(-24*time.Hour), now.Add(dueSoonWithin), dueSoonList)
	if err != nil {
		return o, err
	}
	o.DueSoon = DueSoon{Within: dueSoonWithin.String(), Count: n, Next: make([]Session, 0, len(due))}
	for _, s := range due {
		o.DueSoon.Next = append(o.DueSoon.Next, h.session(s, nil))
	}
	q := h.opt.Engine.DefaultQuietHours()
	o.Quiet.Hours = q.String()
	if end, ok := nextQuietEnd(q, now); ok {
		o.Quiet.Now = !q.Defer(now).Equal(now)
		o.Quiet.Until = &end
		if _, o.Quiet.Held, err = st.DueBetween(ctx, end, end, 0); err != nil {
			return o, err
		}
	}
	if h.opt.Nodes != nil {
		o.Nodes = h.opt.Nodes()
	}
	reps, err := st.Replicas(ctx)
	if err != nil {
		return o, err
	}
	for _, rep := range reps {
		o.Replicas = append(o.Replicas, ReplicaStatus{ID: rep.ID, LeaseUntil: rep.LeaseUntil, Lost: !rep.LeaseUntil.After(now), Owned: rep.Owned})
	}
	sort.Slice(o.Replicas, func(i, j int) bool { return o.Replicas[i].ID < o.Replicas[j].ID })
	if h.opt.NotificationBacklog != nil {
		o.NotificationBacklog = h.opt.NotificationBacklog()
	}
	if o.OptedOut, err = st.OptOutCount(ctx); err != nil {
		return o, err
	}
	return o, nil
}

// nextQuietEnd returns the end of the quiet window now is in, or else of
// the next one; false when there are no quiet hours.
func nextQuietEnd(q session.QuietHours, now time.Time) (time.Time, bool) {
	if q.Start == q.End {
		return time.Time{}, false
	}
	if end := q.Defer(now); !end.Equal(now) {
		return end, true
	}
	// Outside quiet hours: step to the next minute they cover.
	t := now.Truncate(time.Minute)
	for range 25 * 60 {
		t = t.Add(time.Minute)
		if end := q.Defer(t); !end.Equal(t) {
			return end, true
		}
	}
	return time.Time{}, false
}

func (h *Handler) now() time.Time {
	if h.opt.Clock != nil {
		return h.opt.Clock()
	}
	return time.Now()
}

// How far back and how many sessions GET /v1/legs/{uuid} searches.
const (
	findWithin = 7 * 24 * time.Hour
	findLimit  = 100000
)

// leg finds the session one of whose legs has the UUID in the path, the
// one fs_cli or a FreeSWITCH log shows.
func (h *Handler) leg(w http.ResponseWriter, r *http.Request) {
	uuid := strings.ToLower(r.PathValue("uuid"))
	if err := freeswitch.ValidUUID(uuid); err != nil {
		h.writeErr(w, r, invalid("uuid", strconv.Quote(uuid)+" is not a leg UUID such as 8d0e1b9c-3f4a-4b7e-9c2d-1a2b3c4d5e6f"))
		return
	}
	if h.opt.Stats == nil {
		writeError(w, http.StatusNotFound, "not_found", "this daemon cannot search legs", nil)
		return
	}
	found, err := h.opt.Stats.FindLeg(r.Context(), uuid, h.now().Add(-findWithin), findLimit)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no session had a leg "+uuid+" in the last 7 days (or among the latest 100000 sessions)", nil)
		return
	}
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	s, tl, err := h.opt.Engine.Get(r.Context(), found.ID)
	if err != nil {
		h.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.withWarnings(h.session(s, tl), s))
}
