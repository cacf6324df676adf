package session_test

import (
	"bytes"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bgcall/fssim"
	"bgcall/session"
	"bgcall/store"
)

// lineWatch collects a child's log and signals when a line with want shows.
type lineWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestPausedReplicaDoesNotCutTheCallItLost: a replica paused (SIGSTOP)
// while B rings loses the session to another replica, which bridges A and
// B. When the paused one wakes, its ring timer is long due; it must ask
// the store before acting, find the session gone, and leave the bridged
// call alone, instead of hanging up B's leg as its timer says.
func TestPausedReplicaDoesNotCutTheCallItLost(t *testing.T) {
	h := newHarness(t, withoutEngine(), withRealTimeNode())
	const a, b = "1901", "1902"
	// B rings 2.5 s of its 3 s: r1 takes over (lease 1 s) while B rings.
	ring := session.Duration(3 * time.Second)
	h.nodes[0].SetSubscriber(b, fssim.Behavior{Action: fssim.Answer, Ring: 2500 * time.Millisecond})
	h.nodes[0].SetSubscriber(a, fssim.Behavior{Action: fssim.Answer, Ring: 100 * time.Millisecond})
	logs := &lineWatch{want: "lease regained", seen: make(chan struct{})}
	child := startChildLogging(t, h, "r2", logs)

	// r1 takes the request but runs only once r2 is paused.
	opts := replicaOptions(h.st, h.pool, "r1")
	opts.Logger = testLogger(t)
	r1, err := session.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := r1.Create(t.Context(), session.Request{Caller: a, Callee: b,
		Policy: &session.PolicyOverrides{RingTime: &ring}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor(s.ID, "B ringing, steered by r2", func(s store.Session) bool {
		return s.State == store.DialingCallee && s.Owner == "r2"
	})
	// Stop r2 once its originate reached the node. Stopped between its
	// lease check and writing the originate, r2 would send it on waking:
	// no check can close that window, and the leg is hung up on sight
	// (docs/reliability.md); this test is about what r2 does on waking.
	for len(h.originates(b)) == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	h.start(opts)

	bridged := h.waitFor(s.ID, "bridged by r1", func(s store.Session) bool {
		return s.State == store.Bridged && s.Owner == "r1"
	})
	// Wake r2 only once its ring timer (ring time plus grace) is due.
	time.Sleep(time.Until(stopped.Add(time.Duration(ring) + opts.LegGrace)))
	if err := child.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-logs.seen:
	case <-time.After(10 * time.Second):
		t.Errorf("r2 woke without checking its sessions again; its log:\n%s", logs)
	}
	got, err := h.st.Get(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.Bridged {
		t.Errorf("session %s after r2 woke: %s %s, want still bridged\n%s", s.ID, got.State, got.Outcome, formatTimeline(h.timeline(s.ID)))
	}
	// r2 may be stopped before or after it sent its originate: r1 then
	// bridges a leg of its own, or r2's.
	for _, leg := range []string{bridged.CalleeLeg, bridged.CallerLeg} {
		if ch, ok := h.nodes[0].Channel(leg); !ok || ch.AnswerState != "answered" {
			t.Errorf("leg %s of the bridged call is gone after r2 woke (%+v); r2 logged:\n%s", leg, ch, logs)
		}
	}
	for _, c := range h.nodes[0].Commands() {
		if strings.Contains(c, "uuid_kill "+bridged.CalleeLeg) || strings.Contains(c, "uuid_kill "+bridged.CallerLeg) {
			t.Errorf("someone sent %q to the bridged call", c)
		}
	}
	checkNoOverlap(t, h)
}
