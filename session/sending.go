package session

import (
	"context"
	"sync"
	"time"

	"bgcall/esl"
)

// sendingHold is how long the store's mark that a leg's originate is on
// its way lasts unless renewed. It outlives a lost reply of the marking
// script (go-redis sends it again after its read timeout, 5 s by default),
// so that the retry's mark still covers the write. It is also the longest
// a cancel waits for a replica that died holding a mark.
const sendingHold = 10 * time.Second

// sending is a leg's originate marked in the store as on its way
// (store.BeginSending): a cancel from any replica waits until end. The
// mark is renewed while the originate waits for its turn and its reply,
// so that a slow node does not outlast it; the originate's gate closes
// before the mark could lapse unrenewed (a paused process, Redis gone).
type sending struct {
	e       *Engine
	id, leg string
	hold    time.Duration
	stop    chan struct{}
	done    chan struct{}

	mu    sync.Mutex
	until time.Time // on the monotonic clock: the mark is held in Redis until then
}

// beginSending asks the store, just before a leg's originate leaves,
// whether session id still waits for the leg, and marks the originate as
// on its way if so. The attempt (or A's leg) was stored before the
// originate was queued, and the originate may have waited seconds since (a
// worker held up by a slow Redis call for another session, a slow node's
// queue): a plain read of the session would leave a gap between the read
// and the write, in which another replica could acknowledge a cancel and
// the leg still be dialled. It reports false when the session waits for
// the leg no more: a cancel or another step came first.
//
// A store that cannot answer (go-redis already sent the script again) does
// not stop the call: the originate goes unmarked (nil), guarded by the
// lease's gate alone. Redis that does not answer this replica answers a
// cancel from another rarely, and one that stalls every write (a failover,
// CLIENT PAUSE) holds the cancel back too; B left on hold because A's
// originate waited for Redis would be a certain loss for a rare one.
func (e *Engine) beginSending(ctx context.Context, id, leg string) (*sending, bool) {
	start := time.Now()
	waits, err := e.opt.Store.BeginSending(ctx, id, leg, e.sendingHold)
	if err != nil {
		e.opt.Metrics.RedisError("sending")
		e.log.Warn("could not mark an originate as on its way: sending it unmarked", "session", id, "leg", leg, "err", err)
		// A run whose reply was lost may have set it.
		(&sending{e: e, id: id, leg: leg}).release(ctx)
		return nil, true
	}
	if !waits {
		return nil, false
	}
	m := &sending{e: e, id: id, leg: leg, hold: e.sendingHold, stop: make(chan struct{}), done: make(chan struct{})}
	m.held(start)
	go m.keep(ctx)
	return m, true
}

// held records a mark set (or renewed) by a call made at start: Redis
// began the hold after start. The margin covers the drift between this
// clock and Redis's over the hold.
func (m *sending) held(start time.Time) {
	m.mu.Lock()
	m.until = start.Add(m.hold * 9 / 10)
	m.mu.Unlock()
}

func (m *sending) holds() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Now().Before(m.until)
}

// gate returns ctx whose commands go only while the mark holds, and
// ctx's own gate (the lease) is open; ctx itself when unmarked (nil).
func (m *sending) gate(ctx context.Context) context.Context {
	if m == nil {
		return ctx
	}
	return esl.WithGate(ctx, func() bool { return m.holds() && esl.GateOpen(ctx) })
}

// keep renews the mark until end; it stops renewing when the session no
// longer waits for the leg (its own worker moved on: B answered) or the
// store fails, and the gate then closes with the last mark.
func (m *sending) keep(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(m.hold / 4)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		waits, err := m.e.opt.Store.BeginSending(ctx, m.id, m.leg, m.hold)
		if err != nil || !waits {
			return
		}
		m.held(start)
	}
}

// end stops the renewals and takes the mark away: the originate was
// written (or withheld). Nothing to do when unmarked (nil).
func (m *sending) end(ctx context.Context) {
	if m == nil {
		return
	}
	close(m.stop)
	m.release(ctx)
}

// release takes the mark away, once the renewals stopped, off the
// session's lane: the session's next command (the bridge, a prompt) must
// not wait for Redis, nor for a renewal whose reply was lost. It goes on
// even when ctx ended, since a cancel waits for it; the engine's Run waits
// for it. A mark left behind lapses after its hold.
func (m *sending) release(ctx context.Context) {
	m.e.marks.Add(1)
	go func() {
		defer m.e.marks.Done()
		if m.done != nil {
			<-m.done
		}
		m.unmark(ctx)
	}()
}

func (m *sending) unmark(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := m.e.opt.Store.EndSending(ctx, m.id, m.leg); err != nil {
		m.e.opt.Metrics.RedisError("sending")
		m.e.log.Warn("could not take away an originate's mark: a cancel of the session waits for it to lapse", "session", m.id, "leg", m.leg, "lapse", m.e.sendingHold, "err", err)
	}
}
