package session_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bgcall/metrics"
	"bgcall/metrics/promtest"
	"bgcall/session"
	"bgcall/store"
)

// sessionKeys lists the keys of h's namespace but the opt-outs and what
// every replica writes by itself (leases, the data set's mark).
func (h *harness) sessionKeys() []string {
	h.t.Helper()
	keys, err := h.client.Keys(context.Background(), "{"+h.ns+"}*").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return slices.DeleteFunc(keys, func(k string) bool {
		return strings.HasSuffix(k, ":replicas") || strings.HasSuffix(k, ":epoch") ||
			strings.Contains(k, ":o:") || strings.HasSuffix(k, ":optouts")
	})
}

// TestOptOutRefusesRequests: a request to a callee who opted out is
// refused with ErrOptedOut, stores no session and dials nobody; an opt-out
// from one caller refuses that caller only; opting in again allows them.
func TestOptOutRefusesRequests(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.BuildInfo{})
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Metrics = m
		o.Policy.FirstInterval, o.Policy.MaxInterval, o.Policy.MaxTotal = time.Hour, time.Hour, 2*time.Hour
	}))
	for _, n := range []string{"3101", "3102", "3103"} {
		h.nodes[0].SetSubscriber(n, noAnswer)
	}
	ctx := context.Background()

	res, err := h.eng.OptOut(ctx, "3102", "", "phone")
	if err != nil || !res.Added || res.OptOut.Caller != "" || res.OptOut.By != "phone" {
		t.Fatalf("opt-out from every caller: %+v, %v", res, err)
	}
	for _, r := range []session.Request{
		{Caller: "3101", Callee: "3102", Source: session.SourceAPI},
		{Caller: "3103", Callee: "3102", Source: session.SourceFeatureCode},
	} {
		_, _, err := h.eng.Create(ctx, r)
		if !errors.Is(err, session.ErrOptedOut) {
			t.Fatalf("%s→%s after B opted out: %v, want ErrOptedOut", r.Caller, r.Callee, err)
		}
		for _, want := range []string{"callee 3102 opted out of background calls from every caller", "by phone", "bgcall optout remove 3102"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal %q does not name %q", err, want)
			}
		}
	}
	if keys := h.sessionKeys(); len(keys) != 0 {
		t.Errorf("refused requests stored keys: %v", keys)
	}
	if got := sessionsRefused(t, reg, "api", "opted_out"); got != 1 {
		t.Errorf("refused (api, opted_out) = %v, want 1", got)
	}
	if got := sessionsRefused(t, reg, "feature_code", "opted_out"); got != 1 {
		t.Errorf("refused (feature_code, opted_out) = %v, want 1", got)
	}

	// Opting in again from every caller, then out from 3101 only.
	if n, err := h.eng.OptIn(ctx, "3102", ""); err != nil || n != 1 {
		t.Fatalf("opt in: removed %d, %v; want 1", n, err)
	}
	if _, err := h.eng.OptOut(ctx, "3102", "3101", "api"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.eng.Create(ctx, session.Request{Caller: "3101", Callee: "3102"}); !errors.Is(err, session.ErrOptedOut) {
		t.Errorf("3101→3102 after B opted out of 3101: %v, want ErrOptedOut", err)
	}
	other := h.create("3103", "3102")
	if n, err := h.eng.OptIn(ctx, "3102", "3101"); err != nil || n != 1 {
		t.Fatalf("opt in for 3101: removed %d, %v; want 1", n, err)
	}
	again := h.create("3101", "3102")
	h.waitLooked(h.eng)
	for _, o := range h.originates("3102") {
		if id := o.Vars[session.VarSession]; id != other.ID && id != again.ID {
			t.Errorf("3102 dialled for %s, no session allowed", id)
		}
	}
}

// TestOptOutValidation: the numbers of an opt-out are checked as a
// request's are, and nothing is stored for a bad one.
func TestOptOutValidation(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, c := range []struct{ callee, caller, field string }{
		{"", "", "callee"},
		{"12a", "", "callee"},
		{"3102", "31 01", "caller"},
		{"3102", "3102", "caller"},
	} {
		_, err := h.eng.OptOut(ctx, c.callee, c.caller, "api")
		var ve *session.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("opt-out %q from %q: %v, want a ValidationError on %s", c.callee, c.caller, err, c.field)
		}
	}
	keys, _ := h.client.Keys(ctx, "{"+h.ns+"}*").Result()
	for _, k := range keys {
		if strings.Contains(k, ":o:") || strings.HasSuffix(k, ":optouts") {
			t.Errorf("a refused opt-out stored %s", k)
		}
	}
}

// TestOptOutCancelsLiveSessions: opting out stops the ringing: the live
// sessions the opt-out covers are cancelled, their timelines name the
// opt-out, a bridged call is left alone and other callees' sessions run on.
func TestOptOutCancelsLiveSessions(t *testing.T) {
	h := newHarness(t, withOptions(func(o *session.Options) {
		o.Policy.MaxTotal = time.Hour
	}))
	h.nodes[0].SetSubscriber("3202", noAnswer)
	h.nodes[0].SetSubscriber("3212", answer)
	h.nodes[0].SetSubscriber("3211", answer)
	h.nodes[0].SetSubscriber("3222", noAnswer)
	ctx := context.Background()

	fromA := h.create("3201", "3202")
	fromC := h.create("3203", "3202")
	bridged := h.create("3211", "3212")
	elsewhere := h.create("3201", "3222")
	h.waitState(fromA.ID, store.DialingCallee)
	h.waitState(bridged.ID, store.Bridged)

	// From one caller: only that caller's session goes.
	res, err := h.eng.OptOut(ctx, "3202", "3201", "phone")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Cancelled, []string{fromA.ID}) {
		t.Errorf("opt-out of 3202 from 3201 cancelled %v, want [%s]", res.Cancelled, fromA.ID)
	}
	got := h.waitOutcome(fromA.ID)
	if got.Outcome != store.Cancelled {
		t.Errorf("3201→3202: %s, want cancelled", got.Outcome)
	}
	tl := h.timeline(fromA.ID)
	if i := slices.IndexFunc(tl, func(e store.Entry) bool { return e.Kind == store.KindCancelled }); i < 0 ||
		!strings.Contains(tl[i].Note, "opt-out of 3202 from 3201 (phone)") {
		t.Errorf("the timeline does not say the opt-out cancelled it:\n%s", formatTimeline(tl))
	}

	// From every caller: the rest of 3202's go; the bridged call of
	// another callee and 3201's session to another callee do not.
	res, err = h.eng.OptOut(ctx, "3202", "", "api")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Cancelled, []string{fromC.ID}) {
		t.Errorf("opt-out of 3202 cancelled %v, want [%s]", res.Cancelled, fromC.ID)
	}
	if got := h.waitOutcome(fromC.ID); got.Outcome != store.Cancelled {
		t.Errorf("3203→3202: %s, want cancelled", got.Outcome)
	}
	for _, id := range []string{bridged.ID, elsewhere.ID} {
		if s, err := h.st.Get(ctx, id); err != nil || !s.State.Live() {
			t.Errorf("session %s of another callee: %+v, %v; want it live", id, s, err)
		}
	}

	// A bridged call to a callee who opts out is left alone.
	res, err = h.eng.OptOut(ctx, "3212", "", "api")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cancelled) != 0 || !slices.Equal(res.Bridged, []string{bridged.ID}) {
		t.Errorf("opt-out of 3212 while bridged: cancelled %v, bridged %v; want none cancelled, [%s] left alone", res.Cancelled, res.Bridged, bridged.ID)
	}
	if s, _ := h.st.Get(ctx, bridged.ID); s.State != store.Bridged {
		t.Errorf("the bridged call is %s after the opt-out, want bridged", s.State)
	}
	// No leg of a cancelled session stays up.
	for _, id := range []string{fromA.ID, fromC.ID} {
		s, _ := h.st.Get(ctx, id)
		h.waitFor(id, "its callee leg gone", func(store.Session) bool {
			_, up := h.nodes[0].Channel(s.CalleeLeg)
			return !up
		})
	}
}

// optOutMidway is a store on which an opt-out lands between the engine's
// check and its creating the session: the race Create closes by checking
// again.
type optOutMidway struct {
	*store.Store
	o store.OptOut
}

func (s optOutMidway) Create(ctx context.Context, sess store.Session, first store.Entry, lim store.Limits, now time.Time) (store.Session, bool, error) {
	if _, _, err := s.AddOptOut(ctx, s.o, now); err != nil {
		return store.Session{}, false, err
	}
	return s.Store.Create(ctx, sess, first, lim, now)
}

func TestOptOutRacingARequest(t *testing.T) {
	h := newHarness(t, withoutEngine())
	h.nodes[0].SetSubscriber("3302", noAnswer)
	opts := h.opts
	opts.Store = optOutMidway{Store: h.st, o: store.OptOut{Callee: "3302", By: "phone"}}
	eng := h.start(opts)
	ctx := context.Background()

	_, _, err := eng.Create(ctx, session.Request{Caller: "3301", Callee: "3302"})
	if !errors.Is(err, session.ErrOptedOut) {
		t.Fatalf("a request the opt-out overtook: %v, want ErrOptedOut", err)
	}
	list, _, err := h.st.List(ctx, store.Filter{Callee: "3302"})
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions to 3302: %v, %v; want the one created before the second check", list, err)
	}
	got := h.waitOutcome(list[0].ID)
	if got.Outcome != store.Cancelled {
		t.Errorf("the session the opt-out overtook: %s, want cancelled", got.Outcome)
	}
	h.waitIdle()
}

// statesFlipping is a store whose listings of one callee's sessions see
// session id in the next of states at each read: a session that moves on
// between two reads of the same opt-out, as one whose attempt went
// unanswered does, from dialing_callee back to waiting.
type statesFlipping struct {
	*store.Store
	callee, id string
	mu         sync.Mutex
	states     []store.State
}

func (s *statesFlipping) List(ctx context.Context, f store.Filter) ([]store.Session, string, error) {
	if f.Callee != s.callee {
		return s.Store.List(ctx, f)
	}
	want := f.State
	f.State = ""
	page, next, err := s.Store.List(ctx, f)
	s.mu.Lock()
	now := s.states[0]
	if len(s.states) > 1 {
		s.states = s.states[1:]
	}
	s.mu.Unlock()
	out := page[:0]
	for _, sess := range page {
		if sess.ID == s.id {
			sess.State = now
		}
		if want == "" || sess.State == want {
			out = append(out, sess)
		}
	}
	return out, next, err
}

// TestOptOutCatchesASessionMovingBetweenStates: the opt-out's look for the
// live sessions it covers cannot miss one that changes state while it
// looks (dialing_callee when one state is read, waiting by the next read):
// that session would ring B again after B opted out.
func TestOptOutCatchesASessionMovingBetweenStates(t *testing.T) {
	h := newHarness(t, withoutEngine())
	h.nodes[0].SetSubscriber("3402", noAnswer)
	flipping := &statesFlipping{Store: h.st, callee: "3402"}
	opts := h.opts
	opts.Store = flipping
	eng := h.start(opts)
	ctx := context.Background()

	s, _, err := eng.Create(ctx, session.Request{Caller: "3401", Callee: "3402"})
	if err != nil {
		t.Fatal(err)
	}
	flipping.mu.Lock()
	flipping.id, flipping.states = s.ID, []store.State{store.DialingCallee, store.Waiting}
	flipping.mu.Unlock()

	res, err := eng.OptOut(ctx, "3402", "", "phone")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Cancelled, []string{s.ID}) {
		t.Fatalf("the opt-out cancelled %v, want [%s]: a session that changed state while listed escaped it", res.Cancelled, s.ID)
	}
	if got := h.waitOutcome(s.ID); got.Outcome != store.Cancelled {
		t.Errorf("the session: %s, want cancelled", got.Outcome)
	}
	h.waitIdle()
}

// recheckFails is a store whose opt-out check fails once a session was
// created: Redis gives no answer to the check after storing.
type recheckFails struct {
	*store.Store
	created atomic.Bool
}

func (s *recheckFails) Create(ctx context.Context, sess store.Session, first store.Entry, lim store.Limits, now time.Time) (store.Session, bool, error) {
	got, created, err := s.Store.Create(ctx, sess, first, lim, now)
	s.created.Store(err == nil)
	return got, created, err
}

func (s *recheckFails) OptedOut(ctx context.Context, callee, caller string) (store.OptOut, bool, error) {
	if s.created.Load() {
		return store.OptOut{}, false, errors.New("i/o timeout")
	}
	return s.Store.OptedOut(ctx, callee, caller)
}

// TestOptOutRecheckFailing: when the check after storing cannot tell
// whether the callee opted out meanwhile, the session is cancelled and the
// request fails, rather than ring a callee who may have refused whom an
// opt-out's own look for live sessions may have missed.
func TestOptOutRecheckFailing(t *testing.T) {
	h := newHarness(t, withoutEngine())
	h.nodes[0].SetSubscriber("3502", noAnswer)
	opts := h.opts
	opts.Store = &recheckFails{Store: h.st}
	eng := h.start(opts)
	ctx := context.Background()

	_, _, err := eng.Create(ctx, session.Request{Caller: "3501", Callee: "3502"})
	if err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("a request whose second check failed: %v, want the check's error", err)
	}
	list, _, err := h.st.List(ctx, store.Filter{Callee: "3502"})
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions to 3502: %v, %v; want the one created before the second check", list, err)
	}
	if got := h.waitOutcome(list[0].ID); got.Outcome != store.Cancelled {
		t.Errorf("the session whose second check failed: %s, want cancelled", got.Outcome)
	}
	h.waitIdle()
}

// sessionsRefused reads bgcall_sessions_refused_total{source, reason}.
func sessionsRefused(t *testing.T, reg *prometheus.Registry, source, reason string) float64 {
	t.Helper()
	return promtest.Counter(t, reg, "bgcall_sessions_refused_total", map[string]string{"source": source, "reason": reason})
}
