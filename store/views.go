package store

import (
	"strconv"
	"sync"
)

// maxViews bounds the views a Store remembers. A replica steers far fewer
// sessions at once (only those with a leg being dialled or up); waiting
// sessions are never remembered, so memory does not grow with them.
const maxViews = 8192

// views remembers, for the sessions this Store last wrote or claimed, the
// session as stored at that version. Apply diffs the next session against
// it and sends Redis only the fields that change, and the script checks the
// few fields it needs instead of reading the whole hash.
//
// A view is only ever a hint: the script still checks version and fence,
// and a version number is written once per session (every write bumps it),
// so a view whose version matches the stored one is the stored session.
// The script also compares CreatedAt, which tells a session apart from a
// later one stored under the same id; on a mismatch Apply sends the whole
// session.
type views struct {
	mu sync.Mutex
	m  map[string]Session
}

func newViews() *views { return &views{m: make(map[string]Session)} }

// get returns the view of session id at version, if remembered.
func (v *views) get(id string, version int64) (Session, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.m[id]
	if !ok || s.Version != version {
		return Session{}, false
	}
	return s, true
}

// put remembers s as stored, if it is worth remembering: a live session
// with an owner, whose next change is an Apply by that owner.
func (v *views) put(s Session) {
	if !s.State.Live() || s.Owner == "" {
		v.drop(s.ID)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[s.ID]; !ok && len(v.m) >= maxViews {
		for id := range v.m { // any one: a forgotten view only costs a full write
			delete(v.m, id)
			break
		}
	}
	v.m[s.ID] = s
}

func (v *views) drop(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, id)
}

// changes returns what turns the stored session base into next: the
// field/value pairs to set and the fields to delete (those that became
// zero). It compares field by field, as fields writes them, without
// building either session's fields: it runs on every Apply.
func changes(base, next *Session) (set, del []any) {
	str := func(f, was, now string) {
		switch {
		case was == now:
		case now == "":
			del = append(del, f)
		default:
			set = append(set, f, now)
		}
	}
	num := func(f string, was, now int64) {
		switch {
		case was == now:
		case now == 0:
			del = append(del, f)
		default:
			set = append(set, f, strconv.FormatInt(now, 10))
		}
	}
	str(fCaller, base.Caller, next.Caller)
	str(fCallee, base.Callee, next.Callee)
	str(fSource, base.Source, next.Source)
	str(fIdemKey, base.IdempotencyKey, next.IdempotencyKey)
	str(fState, string(base.State), string(next.State))
	str(fOutcome, string(base.Outcome), string(next.Outcome))
	str(fCause, base.Cause, next.Cause)
	num(fVersion, base.Version, next.Version)
	num(fFence, base.Fence, next.Fence)
	str(fOwner, base.Owner, next.Owner)
	num(fAttempts, int64(base.Attempts), int64(next.Attempts))
	str(fNode, base.Node, next.Node)
	str(fCalleeLeg, base.CalleeLeg, next.CalleeLeg)
	str(fCallerLeg, base.CallerLeg, next.CallerLeg)
	str(fPolicy, base.Policy, next.Policy)
	str(fCallback, base.CallbackURL, next.CallbackURL)
	num(fCreatedAt, ms(base.CreatedAt), ms(next.CreatedAt))
	num(fUpdatedAt, ms(base.UpdatedAt), ms(next.UpdatedAt))
	num(fDueAt, ms(base.DueAt), ms(next.DueAt))
	num(fDeadlineAt, ms(base.DeadlineAt), ms(next.DeadlineAt))
	num(fAnsweredAt, ms(base.AnsweredAt), ms(next.AnsweredAt))
	num(fBridgedAt, ms(base.BridgedAt), ms(next.BridgedAt))
	num(fFinishedAt, ms(base.FinishedAt), ms(next.FinishedAt))
	return set, del
}
