package session

import (
	"context"
	"strings"
	"sync"
	"time"

	"bgcall/esl"
	"bgcall/freeswitch"
	"bgcall/internal/uuid"
	"bgcall/store"
)

// fakeStore keeps sessions in memory with the store's version check, for
// tests of the engine's decisions that need no Redis.
type fakeStore struct {
	mu        sync.Mutex
	now       time.Time
	sessions  map[string]store.Session
	timelines map[string][]store.Entry
	optOuts   []store.OptOut
	takeOver  func(ctx context.Context) error // TakeOver's answer, when set
	sending   map[string]string               // session id → the leg marked as on its way (BeginSending)
	// refusedSending gets a value (if it has room) each time ApplyCancel
	// is refused because a leg's originate is on its way.
	refusedSending chan struct{}
	sendingErr     error  // BeginSending's error, when set
	noRenewal      bool   // BeginSending marks a leg once; a renewal is refused
	marks          int    // BeginSending calls that marked
	endSending     func() // runs as EndSending begins, when set: a slow Redis
}

func newFakeStore(now time.Time) *fakeStore {
	return &fakeStore{now: now, sessions: map[string]store.Session{}, timelines: map[string][]store.Entry{},
		sending: map[string]string{}, refusedSending: make(chan struct{}, 1)}
}

func (f *fakeStore) put(s store.Session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[s.ID] = s
}

func (f *fakeStore) Now() time.Time { return f.now }

func (f *fakeStore) Create(context.Context, store.Session, store.Entry, store.Limits, time.Time) (store.Session, bool, error) {
	return store.Session{}, false, store.ErrInvalid
}

func (f *fakeStore) Get(_ context.Context, id string) (store.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	return s, nil
}

func (f *fakeStore) Timeline(_ context.Context, id string) ([]store.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.Entry(nil), f.timelines[id]...), nil
}

func (f *fakeStore) List(context.Context, store.Filter) ([]store.Session, string, error) {
	return nil, "", nil
}

func (f *fakeStore) Subscribe(context.Context) (<-chan store.Change, func()) { return nil, func() {} }

func (f *fakeStore) LiveCounts(context.Context) (map[store.State]int64, error) { return nil, nil }

func (f *fakeStore) OptedOut(context.Context, string, string) (store.OptOut, bool, error) {
	return store.OptOut{}, false, nil
}

// AddOptOut records o, for a test to read in optOuts.
func (f *fakeStore) AddOptOut(_ context.Context, o store.OptOut, now time.Time) (store.OptOut, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o.Since = now
	f.optOuts = append(f.optOuts, o)
	return o, true, nil
}
func (f *fakeStore) RemoveOptOut(context.Context, string, string) (bool, error) { return false, nil }
func (f *fakeStore) RemoveOptOuts(context.Context, string) (int, error)         { return 0, nil }
func (f *fakeStore) OptOuts(context.Context, string) ([]store.OptOut, error)    { return nil, nil }

// Apply stores next if the session is at expVersion and, unless next
// finishes it, still steered under next's fence.
func (f *fakeStore) Apply(_ context.Context, next store.Session, expVersion int64, entries []store.Entry, _ time.Time) (store.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.sessions[next.ID]
	switch {
	case !ok:
		return store.Session{}, store.ErrNotFound
	case cur.Version != expVersion:
		return store.Session{}, store.ErrStale
	case next.Owner != "" && next.Fence != cur.Fence:
		return store.Session{}, store.ErrFenced
	}
	next.Version = cur.Version + 1
	f.sessions[next.ID] = next
	f.timelines[next.ID] = append(f.timelines[next.ID], entries...)
	return next, nil
}

// ApplyCancel is Apply, refused while a leg's originate is on its way,
// as the store refuses it.
func (f *fakeStore) ApplyCancel(ctx context.Context, next store.Session, expVersion int64, entries []store.Entry, now time.Time) (store.Session, error) {
	f.mu.Lock()
	sending := f.sending[next.ID] != ""
	f.mu.Unlock()
	if sending {
		select {
		case f.refusedSending <- struct{}{}:
		default:
		}
		return store.Session{}, store.ErrSending
	}
	return f.Apply(ctx, next, expVersion, entries, now)
}

// BeginSending marks leg as on its way if the session waits for it, as
// the store does; the mark does not lapse here.
func (f *fakeStore) BeginSending(_ context.Context, id, leg string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendingErr != nil {
		return false, f.sendingErr
	}
	s, ok := f.sessions[id]
	if !ok || !(s.State == store.DialingCallee && s.CalleeLeg == leg || s.State == store.CalleeHold && s.CallerLeg == leg) {
		return false, nil
	}
	if f.noRenewal && f.sending[id] == leg {
		return false, nil
	}
	f.sending[id] = leg
	f.marks++
	return true, nil
}

func (f *fakeStore) marked(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sending[id]
}

func (f *fakeStore) EndSending(_ context.Context, id, leg string) error {
	if f.endSending != nil {
		f.endSending()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sending[id] == leg {
		delete(f.sending, id)
	}
	return nil
}

func (f *fakeStore) ClaimAndStart(context.Context, string, time.Time, int, []string) ([]store.Session, time.Time, error) {
	return nil, time.Time{}, nil
}

// BeginAttempt begins the attempt as the store does: the next attempt
// number, a new callee leg, no caller leg, under the version and fence
// checks of Apply.
func (f *fakeStore) BeginAttempt(ctx context.Context, s store.Session, node string, now time.Time) (store.Session, error) {
	next := s
	next.State, next.Attempts, next.Node, next.CalleeLeg, next.CallerLeg = store.DialingCallee, s.Attempts+1, node, uuid.New(), ""
	next.UpdatedAt = now
	entry := store.Entry{At: now, Kind: store.KindAttempt, State: store.DialingCallee, Leg: "callee", Attempt: next.Attempts, Node: node, UUID: next.CalleeLeg}
	if cur, ok := f.get(s.ID); ok && cur.State != store.Waiting {
		return store.Session{}, store.ErrStale
	}
	return f.Apply(ctx, next, s.Version, []store.Entry{entry}, now)
}

func (f *fakeStore) get(id string) (store.Session, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	return s, ok
}

func (f *fakeStore) Heartbeat(context.Context, string, time.Time) error { return nil }
func (f *fakeStore) TakeOver(ctx context.Context, _ string, _ time.Time) ([]store.Session, error) {
	if f.takeOver != nil {
		return nil, f.takeOver(ctx)
	}
	return nil, nil
}
func (f *fakeStore) Release(context.Context, string) error                  { return nil }
func (f *fakeStore) Owned(context.Context, string) ([]store.Session, error) { return nil, nil }
func (f *fakeStore) OwnedIDs(context.Context, string) ([]string, error)     { return nil, nil }
func (f *fakeStore) LegsOf(context.Context, []string) (map[string]store.Legs, error) {
	return map[string]store.Legs{}, nil
}

// fakeSwitch records the commands the engine sends to FreeSWITCH and
// answers them as a node would whose legs in up are up and answered.
type fakeSwitch struct {
	mu      sync.Mutex
	cmds    []string
	up      map[string]bool
	bridged map[string]bool // legs up that uuid_dump shows bridged
	noNode  bool
	apiErr  error          // every api command fails with it (a node not connected)
	events  chan esl.Event // what Events delivers; nil: nothing
	// callerBusy: show channels lists a call of A's (1001) that no
	// background call placed.
	callerBusy bool
	// beforeTurn, when set, runs as a command's turn comes, before its
	// gate is asked (see esl.WithGate), as a pause of the process there.
	beforeTurn func()
}

// turn is what esl does as a command's turn comes: it asks the command's
// gate, and a closed gate sends nothing. It reports whether cmd was sent.
func (f *fakeSwitch) turn(ctx context.Context, cmd string) bool {
	if f.beforeTurn != nil {
		f.beforeTurn()
	}
	if !esl.GateOpen(ctx) {
		return false
	}
	f.mu.Lock()
	f.cmds = append(f.cmds, cmd)
	f.mu.Unlock()
	return true
}

func (f *fakeSwitch) Events() <-chan esl.Event { return f.events }

func (f *fakeSwitch) API(ctx context.Context, _, cmd string) (string, error) {
	if !f.turn(ctx, cmd) {
		return "", esl.ErrWithheld
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.apiErr != nil {
		return "", f.apiErr
	}
	if strings.HasPrefix(cmd, "show channels like ") {
		if f.callerBusy {
			return `{"row_count":1,"rows":[{"uuid":"c0c0c0c0-0000-4000-8000-00000000000c","name":"sofia/internal/1001@10.0.0.1","cid_num":"1001"}]}`, nil
		}
		return `{"row_count": 0}`, nil
	}
	if strings.HasPrefix(cmd, "uuid_getvar ") {
		return freeswitch.Undefined, nil
	}
	if leg, ok := strings.CutPrefix(cmd, "uuid_dump "); ok {
		if !f.up[leg] {
			return freeswitch.ParseResult("-ERR No such channel!\n")
		}
		if f.bridged[leg] {
			return "Answer-State: answered\nvariable_bridge_uuid: " + leg + "\n", nil
		}
		return "Answer-State: answered\n", nil
	}
	return "+OK", nil
}

func (f *fakeSwitch) BGAPI(ctx context.Context, _, cmd, _ string) error {
	if !f.turn(ctx, "bgapi "+cmd) {
		return esl.ErrWithheld
	}
	return nil
}

func (f *fakeSwitch) Pick() (string, error) {
	if f.noNode {
		return "", esl.ErrNotConnected
	}
	return "fs1", nil
}

func (f *fakeSwitch) Nodes() []string { return []string{"fs1"} }

func (f *fakeSwitch) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

// fakeNotifier counts the messages to A.
type fakeNotifier struct {
	mu   sync.Mutex
	sent []Message
}

func (f *fakeNotifier) Send(_ context.Context, m Message) {
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()
}

// settle runs what e's senders and workers have queued until nothing is
// left: the commands of a step, in their order, and the reports they make.
// The engine is not running; the test is the only goroutine that acts.
func settle(ctx context.Context, e *Engine) {
	for progressed := true; progressed; {
		progressed = false
		senders := []*sender{e.senders.other}
		for _, s := range e.senders.byNode {
			senders = append(senders, s)
		}
		for _, s := range senders {
			for more := true; more; {
				select {
				case l := <-s.ready:
					s.next(ctx, l)
					progressed = true
				default:
					more = false
				}
			}
		}
		e.closer.flush()
		for _, w := range e.workers {
			w.reportMu.Lock()
			n := len(w.reports)
			w.reportMu.Unlock()
			if n > 0 {
				w.takeReports(ctx)
				progressed = true
			}
		}
	}
}
