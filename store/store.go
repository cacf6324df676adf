// Package store keeps background-call sessions in Redis.
//
// Every change that touches more than one key is a single Lua script, so a
// transition is atomic and a replayed request changes nothing twice. All keys
// of one Store share the hash tag {<namespace>}, so every script runs on Redis
// Cluster as well as on a standalone server or behind Sentinel.
//
// Key layout (p = "{<namespace>}:"):
//
//	p s:<id>        hash     the session; short field names, zero fields omitted;
//	                         e0 holds the first timeline entry if not the default,
//	                         rq the last Apply's request token, q why the record
//	                         was quarantined
//	p t:<id>        list     the timeline after its first entry, one compact JSON
//	                         entry per element; written from the first Apply on
//	p due           zset     waiting sessions, score = DueAt (unix ms)
//	p idx           zset     every session, score = CreatedAt (unix ms), for List
//	p a:<caller>    hash     live sessions of a caller: callee -> id (the live
//	                         pair for dedupe; its length is the caller cap count)
//	p b:<callee>    hash     live sessions of a callee: caller -> id (callee cap)
//	p ha:<caller>   zset     finished sessions of a caller, score = CreatedAt
//	p hb:<callee>   zset     finished sessions of a callee, score = CreatedAt
//	p idem:<key>    string   id created for an idempotency key, with a TTL
//	p own:<replica> set      live sessions steered by replica
//	p replicas      zset     replica leases, score = lease expiry (unix ms)
//	p count         hash     moves between states: field <state> counts the
//	                         sessions created in it, field <from>><to> those
//	                         that moved from one state to another
//	p gc            zset     "id|caller|callee" of finished and quarantined sessions,
//	                         score = end of retention
//	p quarantine    zset     sessions whose record cannot be decoded, set aside,
//	                         score = when (unix ms)
//	p r:<token>     string   what a claim or takeover returned, for a second run
//	                         of the same call, with a short TTL
//	p o:<callee>    hash     the callee's opt-outs: "*" (every caller) or a caller
//	                         -> "<since ms>|<by>" (see optout.go)
//	p optouts       set      callees with an opt-out, for OptOutCount
//	p epoch         string   a random mark of the data set, for DataLost
//	p ready         string   written by Check, with a short TTL
//	p changes       channel  one message per change, for Subscribe: id, version,
//	                         state, outcome and new entries, never the session
//	p hooks         stream   lifecycle events waiting for their webhooks, read
//	                         by the consumer group "hooks" (outbox.go)
//
// Memory drives the layout: a waiting session is a hash and one member in
// each of two sorted sets, plus one field in its caller's and its callee's
// live hash. One live hash per party, rather than a pair key and two live
// sets, keeps the keys per session (each costs its own overhead) at three;
// the timeline list and the per-party history sets are only written when a
// session moves on. Everything shares one slot anyway, so per-party keys buy
// no spreading.
//
// Redis CPU drives the scripts: each reads a session hash at most once (an
// Apply by the replica that claimed or last wrote the session reads only the
// fields it checks, as the Store remembers the rest), writes only the fields
// that changed, and publishes a few bytes rather than the session, so a
// change nobody watches costs no more than its writes. Counters and leases
// are written once per move and once in a while, not per state and per
// call. Most of what a transition costs Redis is the round trip itself, so
// each is one script.
//
// Redis must not evict keys (maxmemory-policy noeviction, the default): an
// evicted session or index entry would break the invariants the scripts keep.
//
// Time comes from the caller, never from Redis TIME inside a script, so tests
// can drive the clock. For replicas to agree on what "due" and "expired"
// mean, the caller takes its time from Now: Redis's clock, read at each
// Heartbeat and carried forward on the monotonic clock.
package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is where a session is in its life.
type State string

const (
	Waiting       State = "waiting"        // between attempts; in the due set, no owner
	DialingCallee State = "dialing_callee" // the callee leg is being dialled
	Confirming    State = "confirming"     // the callee answered and is asked to confirm (press 1) before the caller is dialled
	CalleeHold    State = "callee_hold"    // the callee answered and holds; the caller leg is being dialled
	Bridged       State = "bridged"        // both legs bridged
	Finished      State = "finished"       // done; kept for Options.Retention
)

// LiveStates are the states counted by LiveCounts, in life order.
var LiveStates = []State{Waiting, DialingCallee, Confirming, CalleeHold, Bridged}

// Live reports whether a session in state s still needs steering.
func (s State) Live() bool { return s != Finished && s != "" }

func (s State) known() bool { return s == Finished || slices.Contains(LiveStates, s) }

// Outcome is how a finished session ended.
type Outcome string

const (
	Completed    Outcome = "completed"
	CallerMissed Outcome = "caller_missed"
	CallerBusy   Outcome = "caller_busy" // B answered and held while A was in another call, to the end of the wait
	CalleeLeft   Outcome = "callee_left"
	Cancelled    Outcome = "cancelled"
	Expired      Outcome = "expired"
	Failed       Outcome = "failed"
	Declined     Outcome = "declined" // B answered and declined (pressed 2 at the confirmation prompt)
)

// Session is one background call.
type Session struct {
	ID, Caller, Callee, Source, IdempotencyKey string

	State   State
	Outcome Outcome
	Cause   string // FreeSWITCH cause of the outcome when any

	Version int64  // bumped by every change
	Fence   int64  // bumped on every claim and takeover; Apply must present it
	Owner   string // replica steering it now; "" while waiting unclaimed

	Attempts int // callee attempts started

	Node, CalleeLeg, CallerLeg string

	Policy string // JSON of per-session policy overrides, "" = defaults

	// CallbackURL is where the session's lifecycle events go besides the
	// operator's webhook URL, when the request named one; "" = none.
	CallbackURL string

	// Quarantine is why the stored record was set aside because it could
	// not be decoded (a field Redis holds is not what the Store wrote);
	// "" for a sound session. A quarantined session is steered by nobody:
	// it is in no due or owner set, holds no cap slot, and Apply refuses
	// it. Its fields are those that could be decoded. Get reports it with
	// ErrQuarantined; List shows it; it is forgotten after the retention.
	Quarantine string

	CreatedAt, UpdatedAt, DueAt, DeadlineAt, AnsweredAt, BridgedAt, FinishedAt time.Time
}

// Kind is what a timeline entry records. The values are stored and served
// by the API, so they never change.
type Kind string

const (
	KindCreated         Kind = "created"          // the session was requested; always the first entry
	KindDeferred        Kind = "deferred"         // an attempt was due but could not begin (no node)
	KindAttempt         Kind = "attempt"          // a callee attempt began: B is being dialled
	KindAttemptEnded    Kind = "attempt_ended"    // the callee attempt ended without an answer
	KindScheduled       Kind = "scheduled"        // the next attempt was scheduled
	KindDialNow         Kind = "dial_now"         // an operator brought the next attempt forward to now
	KindCalleeAnswered  Kind = "callee_answered"  // B answered and holds
	KindCalleeConfirmed Kind = "callee_confirmed" // B pressed 1 at the confirmation prompt
	KindCalleeDeclined  Kind = "callee_declined"  // B pressed 2 at the confirmation prompt
	KindCallerDialing   Kind = "caller_dialing"   // A is being dialled
	KindCallerRedial    Kind = "caller_redial"    // A is dialled again: the replica that took over found its leg not up
	KindBridged         Kind = "bridged"          // A and B are talking
	KindCalleeHungUp    Kind = "callee_hung_up"   // B hung up before A answered
	KindCallerEnded     Kind = "caller_ended"     // A did not answer
	KindCallerBusy      Kind = "caller_busy"      // A was in another call when A was to be rung
	KindCancelled       Kind = "cancelled"        // background calling was switched off
	KindFinished        Kind = "finished"         // the session reached its outcome; always the last entry
)

// CreatedEntry is the first timeline entry of a session created at from
// source. The store rebuilds it from the session hash rather than storing
// it, so every creator must start from this one.
func CreatedEntry(at time.Time, source string) Entry {
	return Entry{At: at, Kind: KindCreated, State: Waiting, Note: "source " + source}
}

// Entry is one line of a session's timeline.
type Entry struct {
	At      time.Time
	Kind    Kind
	State   State
	Attempt int
	Leg     string
	Node    string
	UUID    string
	Cause   string
	Note    string
}

// Change is one stored change, as delivered by Subscribe.
type Change struct {
	Session Session
	Entries []Entry
}

// Limits caps live sessions; zero means no cap.
type Limits struct{ PerCaller, PerCallee int }

// Filter selects sessions for List. Empty fields match everything.
type Filter struct {
	Caller, Callee string
	Node           string // the FreeSWITCH node of the session's current or last attempt
	State          State
	Limit          int    // page size; 0 means 50, at most 1000
	Cursor         string // from the previous page; "" for the first
}

// Options configure a Store. Zero values take the defaults noted.
type Options struct {
	Namespace      string        // "bgcall"
	Retention      time.Duration // how long finished sessions are kept; 72h
	LeaseTTL       time.Duration // replica lease granted by Heartbeat; 15s
	IdempotencyTTL time.Duration // how long an idempotency key maps to its session; 24h

	// OnQuarantine is told, once per record, that the record of session id
	// could not be decoded and was set aside (see Session.Quarantine); nil
	// logs a warning with the default logger. It must not block.
	OnQuarantine func(id, reason string)
	// OnDataLoss is told when a Heartbeat finds that Redis lost its data
	// (see DataLost); nil logs an error with the default logger. It must
	// not block.
	OnDataLoss func()
}

// Errors, usable with errors.Is.
var (
	ErrNotFound    = errors.New("session not found")
	ErrStale       = errors.New("session changed since it was read (stale version)")
	ErrFenced      = errors.New("session is steered by another replica (fence or owner moved)")
	ErrLimitCaller = errors.New("caller has too many live background calls")
	ErrLimitCallee = errors.New("callee has too many live background calls")
	ErrInvalid     = errors.New("invalid session")
	ErrConflict    = errors.New("session id already in use")
	// ErrSending refuses a cancel (ApplyCancel) while the steering replica
	// writes a leg's originate; it lasts milliseconds, at most the mark's
	// hold (BeginSending).
	ErrSending = errors.New("a leg's originate is on its way to FreeSWITCH")
	// ErrFinished is also ErrStale: a finished session cannot come back to life.
	ErrFinished = fmt.Errorf("%w: session already finished", ErrStale)
	// ErrQuarantined is also ErrNotFound: a session whose record cannot be
	// decoded is no session anyone can steer (see Session.Quarantine).
	ErrQuarantined = fmt.Errorf("%w: its record cannot be decoded and was set aside (quarantined)", ErrNotFound)
)

// Store keeps sessions in Redis. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	opts   Options
	p      string       // key prefix "{ns}:"
	views  *views       // sessions as last written or claimed, for Apply to diff against
	gcAt   atomic.Int64 // unix ms before which ClaimDue need not look for sessions to forget
	leases leases       // when this Store last renewed each replica's lease
	health health       // calls to Redis failing in a row, for Check
	clock  atomic.Pointer[clockSync]
	wall   func() time.Time       // this process's clock, for Now before a sync; tests skew it
	epoch  atomic.Pointer[string] // the data set's mark as last seen
	lost   atomic.Int64           // unix ms by Now when Redis was last found to have lost its data
}

// New returns a Store on client. The client may be standalone, Sentinel or
// Cluster; all keys of the Store hash to one slot.
func New(client redis.UniversalClient, opts Options) *Store {
	if opts.Namespace == "" {
		opts.Namespace = "bgcall"
	}
	if opts.Retention <= 0 {
		opts.Retention = 72 * time.Hour
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	return &Store{rdb: client, opts: opts, p: "{" + opts.Namespace + "}:", views: newViews(), wall: time.Now}
}

// Options returns the options in effect, defaults filled in.
func (s *Store) Options() Options { return s.opts }

func (s *Store) sessionKey(id string) string        { return s.p + "s:" + id }
func (s *Store) timelineKey(id string) string       { return s.p + "t:" + id }
func (s *Store) dueKey() string                     { return s.p + "due" }
func (s *Store) indexKey() string                   { return s.p + "idx" }
func (s *Store) callerLiveKey(caller string) string { return s.p + "a:" + caller }
func (s *Store) calleeLiveKey(callee string) string { return s.p + "b:" + callee }
func (s *Store) callerHistoryKey(caller string) string {
	return s.p + "ha:" + caller
}
func (s *Store) calleeHistoryKey(callee string) string {
	return s.p + "hb:" + callee
}
func (s *Store) idemKey(k string) string      { return s.p + "idem:" + k }
func (s *Store) ownKey(replica string) string { return s.p + "own:" + replica }
func (s *Store) replicasKey() string          { return s.p + "replicas" }
func (s *Store) countKey() string             { return s.p + "count" }
func (s *Store) gcKey() string                { return s.p + "gc" }
func (s *Store) epochKey() string             { return s.p + "epoch" }
func (s *Store) channel() string              { return s.p + "changes" }

// replayKey names a new request token's replay record. A Store method
// makes one per call and sends it with every run of its script, so that a
// second run of the same call (a client retrying after a lost reply) is
// told apart from a new call.
func (s *Store) replayKey() string { return s.p + "r:" + newID() }

// checkName refuses identifiers that would make stored names ambiguous: '|'
// separates the parts of a gc member.
func checkName(what, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
		}
		return nil
	}
	if len(v) > 128 {
		return fmt.Errorf("%w: %s is longer than 128 bytes", ErrInvalid, what)
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return r == '|' || r <= ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("%w: %s %q contains %q; use no '|', spaces or control characters", ErrInvalid, what, v, v[i])
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
