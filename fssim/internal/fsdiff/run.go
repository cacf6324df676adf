package fsdiff

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"bgcall/esl"
	"bgcall/internal/uuid"
)

// Target is the event socket a flow runs on.
type Target struct {
	Addr, Password string
	// Real says the target is a real FreeSWITCH: pause steps are kept, and
	// once a run has ended the runner waits Settle for late events.
	Real   bool
	Settle time.Duration
}

// Outcome is what one run of a flow gave, normalised: the replies to its
// commands in order, and the labels of the events it caused in the order
// they came.
type Outcome struct {
	Count   int      `json:"count,omitempty"` // runs that gave this outcome (recordings)
	Replies []string `json:"replies"`
	Events  []string `json:"events"`
}

// FlowResult is a flow's recording: every distinct outcome it had.
type FlowResult struct {
	Name     string    `json:"name"`
	Runs     int       `json:"runs"`
	Outcomes []Outcome `json:"outcomes"`
}

// Sought reports whether a run of r showed what f seeks (if anything).
func (r *FlowResult) Sought(f Flow) bool {
	if f.Seek == "" {
		return true
	}
	for _, o := range r.Outcomes {
		for _, l := range o.Events {
			if strings.HasPrefix(l, f.Seek) {
				return true
			}
		}
	}
	return false
}

// Add counts o in r.
func (r *FlowResult) Add(o Outcome) {
	r.Runs++
	for i := range r.Outcomes {
		if equal(r.Outcomes[i].Replies, o.Replies) && equal(r.Outcomes[i].Events, o.Events) {
			r.Outcomes[i].Count++
			return
		}
	}
	o.Count = 1
	r.Outcomes = append(r.Outcomes, o)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// run is one run of a flow in progress.
type run struct {
	t     Target
	f     Flow
	uuids map[string]string // role → Unique-ID
	jobs  map[string]string // Job-UUID → role, or the command word of a bgapi
	cmd   *conn

	mu      sync.Mutex
	changed chan struct{}
	events  []esl.Event
	labels  []string
	err     error // the event connection's end
}

// RunFlow runs f once on t.
func RunFlow(ctx context.Context, t Target, f Flow) (Outcome, error) {
	r := &run{t: t, f: f, uuids: map[string]string{}, jobs: map[string]string{}, changed: make(chan struct{}, 1)}
	for role := range f.Legs {
		r.uuids[role] = uuid.New()
	}
	deadline := ctxDeadline(ctx, 30*time.Second)
	ev, err := r.login(ctx, deadline)
	if err != nil {
		return Outcome{}, fmt.Errorf("event connection: %w", err)
	}
	defer ev.close()
	if err := ev.command(string(esl.Wire("event plain "+strings.Join(flowEvents, " "))), deadline); err != nil {
		return Outcome{}, err
	}
	go r.read(ev)
	if r.cmd, err = r.login(ctx, deadline); err != nil {
		return Outcome{}, fmt.Errorf("command connection: %w", err)
	}
	defer r.cmd.close()
	var out Outcome
	for i, s := range f.Steps {
		if err := r.wait(deadline, s.On); err != nil {
			return out, fmt.Errorf("step %d (%s): %w", i+1, s.Cmd, err)
		}
		if d, ok := pause(s.Cmd); ok {
			if t.Real {
				time.Sleep(d)
			}
			continue
		}
		reply, err := r.send(s.Cmd, deadline)
		if err != nil {
			return out, fmt.Errorf("step %d (%s): %w", i+1, s.Cmd, err)
		}
		out.Replies = append(out.Replies, reply)
	}
	if err := r.waitEnd(deadline); err != nil {
		return out, err
	}
	if t.Real && t.Settle > 0 {
		time.Sleep(t.Settle)
	}
	r.mu.Lock()
	out.Events = append([]string(nil), r.labels...)
	r.mu.Unlock()
	return out, nil
}

// login dials the target and authenticates as esl does.
func (r *run) login(ctx context.Context, deadline time.Time) (*conn, error) {
	c, err := dial(ctx, r.t.Addr)
	if err != nil {
		return nil, err
	}
	if f, err := c.read(deadline); err != nil || f.Type != "auth/request" {
		c.close()
		return nil, fmt.Errorf("greeting %q: %v", f.Raw, err)
	}
	if err := c.command(string(esl.Wire("auth "+r.t.Password)), deadline); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// read takes in the events of the flow's event connection.
func (r *run) read(c *conn) {
	for {
		f, err := c.read(time.Time{})
		if err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			r.signal()
			return
		}
		if f.Type != "text/event-plain" {
			continue
		}
		ev, err := esl.ParseEvent("fsdiff", f.Body)
		if err != nil {
			continue
		}
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.labels = append(r.labels, r.label(ev))
		r.mu.Unlock()
		r.signal()
	}
}

func (r *run) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// until waits until cond, called with r.mu held, holds.
func (r *run) until(deadline time.Time, what string, cond func() bool) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		r.mu.Lock()
		ok, err := cond(), r.err
		r.mu.Unlock()
		if ok {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: event connection: %w", what, err)
		}
		select {
		case <-r.changed:
		case <-timer.C:
			r.mu.Lock()
			seen := strings.Join(r.labels, " ")
			r.mu.Unlock()
			return fmt.Errorf("no %s in time; events: %s", what, seen)
		}
	}
}

// seen reports whether an event label starts with prefix; r.mu held.
func (r *run) seen(prefix string) bool {
	for _, l := range r.labels {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func (r *run) wait(deadline time.Time, on []string) error {
	return r.until(deadline, strings.Join(on, " and "), func() bool {
		for _, p := range on {
			if !r.seen(p) {
				return false
			}
		}
		return true
	})
}

// waitEnd waits until every channel created was destroyed, every job
// reported and every End label came.
func (r *run) waitEnd(deadline time.Time) error {
	return r.until(deadline, "the end of the flow", func() bool {
		live := map[string]bool{}
		jobs := map[string]bool{}
		for _, ev := range r.events {
			switch ev.Name {
			case "CHANNEL_CREATE":
				live[ev.UniqueID] = true
			case "CHANNEL_DESTROY":
				delete(live, ev.UniqueID)
			case "BACKGROUND_JOB":
				jobs[ev.JobUUID] = true
			}
		}
		for id := range r.jobs {
			if !jobs[id] {
				return false
			}
		}
		for _, p := range r.f.End {
			if !r.seen(p) {
				return false
			}
		}
		return len(live) == 0
	})
}

// send sends one command as bgcall's esl does and returns its normalised
// reply.
func (r *run) send(cmd string, deadline time.Time) (string, error) {
	var line, job string
	switch {
	case strings.HasPrefix(cmd, "originate "):
		role := strings.TrimPrefix(cmd, "originate ")
		o, err := originateLine(role, r.uuids[role], r.f.Number(role), r.f.Vars[role])
		if err != nil {
			return "", err
		}
		job = uuid.New()
		r.mu.Lock()
		r.jobs[job] = role
		r.mu.Unlock()
		line = "bgapi " + o + "\nJob-UUID: " + job
	case strings.HasPrefix(cmd, "bgapi "):
		job = uuid.New()
		word, _, _ := strings.Cut(strings.TrimPrefix(cmd, "bgapi "), " ")
		r.mu.Lock()
		r.jobs[job] = word
		r.mu.Unlock()
		line = bind(r.f.numbered(cmd), r.uuids) + "\nJob-UUID: " + job
	case strings.HasPrefix(cmd, "api "):
		line = bind(r.f.numbered(cmd), r.uuids)
	default:
		return "", fmt.Errorf("unknown step %q", cmd)
	}
	if err := r.cmd.write(esl.Wire(line)); err != nil {
		return "", err
	}
	f, err := r.cmd.read(deadline)
	if err != nil {
		return "", err
	}
	reply := f.Header["Reply-Text"]
	if f.Type == "api/response" {
		reply = string(f.Body)
	}
	return r.normalReply(cmd, reply), nil
}
