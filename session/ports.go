package session

import (
	"context"
	"time"

	"bgcall/esl"
	"bgcall/store"
)

// Store is what the engine asks of the session store: store.Store against
// Redis in production, an in-memory fake in the transition table's tests.
type Store interface {
	// Now is the clock every replica shares.
	Now() time.Time

	Create(ctx context.Context, s store.Session, first store.Entry, lim store.Limits, now time.Time) (store.Session, bool, error)
	Get(ctx context.Context, id string) (store.Session, error)
	Timeline(ctx context.Context, id string) ([]store.Entry, error)
	List(ctx context.Context, f store.Filter) ([]store.Session, string, error)
	Subscribe(ctx context.Context) (<-chan store.Change, func())
	LiveCounts(ctx context.Context) (map[store.State]int64, error)

	// The callees' opt-outs of background calls (see OptOut).
	OptedOut(ctx context.Context, callee, caller string) (store.OptOut, bool, error)
	AddOptOut(ctx context.Context, o store.OptOut, now time.Time) (store.OptOut, bool, error)
	RemoveOptOut(ctx context.Context, callee, caller string) (bool, error)
	RemoveOptOuts(ctx context.Context, callee string) (int, error)
	OptOuts(ctx context.Context, callee string) ([]store.OptOut, error)

	// Apply stores next if the session is still at expVersion and steered
	// by next's owner under its fence.
	Apply(ctx context.Context, next store.Session, expVersion int64, entries []store.Entry, now time.Time) (store.Session, error)
	// ApplyCancel is Apply for a cancel: refused (store.ErrSending) while
	// a leg's originate is on its way, marked by BeginSending, which
	// EndSending unmarks.
	ApplyCancel(ctx context.Context, next store.Session, expVersion int64, entries []store.Entry, now time.Time) (store.Session, error)
	BeginSending(ctx context.Context, id, leg string, hold time.Duration) (bool, error)
	EndSending(ctx context.Context, id, leg string) error

	ClaimAndStart(ctx context.Context, replica string, now time.Time, n int, nodes []string) ([]store.Session, time.Time, error)
	// BeginAttempt begins the next callee attempt of a waiting session the
	// claim did not begin, as the claim begins one.
	BeginAttempt(ctx context.Context, s store.Session, node string, now time.Time) (store.Session, error)
	Heartbeat(ctx context.Context, replica string, now time.Time) error
	TakeOver(ctx context.Context, replica string, now time.Time) ([]store.Session, error)
	Release(ctx context.Context, replica string) error
	Owned(ctx context.Context, replica string) ([]store.Session, error)
	OwnedIDs(ctx context.Context, replica string) ([]string, error)
	LegsOf(ctx context.Context, ids []string) (map[string]store.Legs, error)
}

// Switch is what the engine asks of the FreeSWITCH nodes: esl.Pool in
// production, a recording fake in the transition table's tests.
type Switch interface {
	// Events delivers every node's events, each node's in order.
	Events() <-chan esl.Event
	API(ctx context.Context, node, cmd string) (string, error)
	// BGAPI sends cmd as a background job named jobUUID; its result comes
	// as a BACKGROUND_JOB event.
	BGAPI(ctx context.Context, node, cmd, jobUUID string) error
	// Pick chooses the node for a new callee attempt.
	Pick() (string, error)
	Nodes() []string
}

var (
	_ Store  = (*store.Store)(nil)
	_ Switch = (*esl.Pool)(nil)
)
