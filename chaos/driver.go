package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"bgcall/api"
)

// requestsSent counts the creates and cancels asked for (each may be sent
// more than once).
const requestsSent = "requests"

// runName is who the run's cancels say asked for them.
const runName = "chaos"

// driver plays the callers: it asks for every planned session through the
// API of a running replica, and cancels some of them at their planned
// moment. A request that fails on its way (a replica killed or paused
// under it) is sent again to another replica; creates carry an
// idempotency key, so one A's request is one session however often it is
// sent.
type driver struct {
	c *cluster

	mu       sync.Mutex
	created  map[int]string       // plan index → session id
	cancels  map[string]cancelAck // session id → cancel acknowledged
	counts   map[string]int       // what the requests met
	problems []string             // answers a correct daemon never gives
}

func newDriver(c *cluster) *driver {
	return &driver{c: c, created: map[int]string{}, cancels: map[string]cancelAck{}, counts: map[string]int{}}
}

// run sends every plan's requests at its moment after start and returns
// once all were answered or given up on.
func (d *driver) run(ctx context.Context, plans []*sessionPlan, start time.Time) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range plans {
		if !sleepUntil(ctx, start.Add(p.createAt)) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.session(ctx, p)
		}()
	}
}

func (d *driver) session(ctx context.Context, p *sessionPlan) {
	id, ok := d.create(ctx, p)
	if !ok || p.cancelAfter == 0 {
		return
	}
	if sleepUntil(ctx, time.Now().Add(p.cancelAfter)) {
		d.cancel(ctx, p, id)
	}
}

// giveUp bounds the tries of one request; every replica is back well
// before it.
const giveUp = 30 * time.Second

func (d *driver) create(ctx context.Context, p *sessionPlan) (string, bool) {
	req := api.CreateRequest{Caller: p.caller, Callee: p.callee, IdempotencyKey: fmt.Sprintf("%s-%d", runName, p.index)}
	deadline := time.Now().Add(giveUp)
	d.count(requestsSent)
	for try := 0; ; try++ {
		if try > 0 {
			d.count("create sent again")
		}
		cl, err := d.c.client()
		if err == nil {
			var s api.Session
			if s, _, err = cl.Create(ctx, req); err == nil {
				d.mu.Lock()
				d.created[p.index] = s.ID
				d.mu.Unlock()
				d.count("created")
				return s.ID, true
			}
			if refused(err) {
				d.problem("create %s→%s: %v", p.caller, p.callee, err)
				return "", false
			}
		}
		if time.Now().After(deadline) || !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			d.count("create never answered")
			return "", false
		}
	}
}

func (d *driver) cancel(ctx context.Context, p *sessionPlan, id string) {
	deadline := time.Now().Add(giveUp)
	d.count(requestsSent)
	for try := 0; ; try++ {
		if try > 0 {
			d.count("cancel sent again")
		}
		cl, err := d.c.client()
		if err == nil {
			_, err = cl.Cancel(ctx, id, p.endBridged)
			now := time.Now()
			var ae *api.Error
			switch {
			case err == nil:
				d.acked(id, cancelAck{at: now, endBridged: p.endBridged})
				d.count("cancel acknowledged")
				return
			case errors.As(err, &ae) && ae.Code == "finished":
				if try > 0 { // an earlier try may have landed
					d.acked(id, cancelAck{at: now, endBridged: p.endBridged, uncertain: true})
				}
				d.count("cancel: already finished")
				return
			case errors.As(err, &ae) && ae.Code == "bridged":
				d.count("cancel: bridged, left alone")
				return
			case refused(err):
				d.problem("cancel %s: %v", id, err)
				return
			}
		}
		if time.Now().After(deadline) || !sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) {
			d.count("cancel never answered")
			return
		}
	}
}

// refused reports an answer that sending again cannot change: the request
// itself was refused. A 5xx or a failure on the way may pass on another try.
func refused(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status < http.StatusInternalServerError
}

func (d *driver) acked(id string, a cancelAck) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cancels[id] = a
}

func (d *driver) count(what string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[what]++
}

func (d *driver) problem(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
