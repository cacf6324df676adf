package store

import "sync"

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
// field/value pairs to set and the fields to delete.
func changes(base, next *Session) (set, del []any) {
	old := base.fields()
	was := make(map[string]string, len(old)/2)
	for i := 0; i < len(old); i += 2 {
		was[old[i].(string)] = old[i+1].(string)
	}
	now := next.fields()
	for i := 0; i < len(now); i += 2 {
		f, val := now[i].(string), now[i+1].(string)
		if prev, ok := was[f]; !ok || prev != val {
			set = append(set, f, val)
		}
		delete(was, f)
	}
	for f := range was {
		del = append(del, f)
	}
	return set, del
}
