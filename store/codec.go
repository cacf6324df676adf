package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Session hash fields. Names are short and zero values are never written, so a
// waiting session stays a small listpack-encoded hash (Redis keeps hashes of up
// to 128 fields of up to 64 bytes each in one compact allocation).
const (
	fCaller     = "c"
	fCallee     = "b"
	fSource     = "src"
	fIdemKey    = "k"
	fState      = "st"
	fOutcome    = "o"
	fCause      = "ca"
	fVersion    = "v"
	fFence      = "f"
	fOwner      = "w"
	fAttempts   = "n"
	fNode       = "nd"
	fCalleeLeg  = "lb"
	fCallerLeg  = "la"
	fPolicy     = "p"
	fCallback   = "cb"
	fCreatedAt  = "tc"
	fUpdatedAt  = "tu"
	fDueAt      = "td"
	fDeadlineAt = "tx"
	fAnsweredAt = "ta"
	fBridgedAt  = "tb"
	fFinishedAt = "tf"

	// fFirst is the session's first timeline entry, encoded, when it is not
	// defaultFirst: Create keeps it in the hash rather than in a list of its
	// own. It is not a Session field; Apply leaves it alone.
	fFirst = "e0"

	// fQuarantine is why the record was set aside as undecodable; see
	// Session.Quarantine.
	fQuarantine = "q"

	// fRequest is the request token of the last Apply, which tells its
	// replay from a new call (see applyScript). Not a Session field.
	fRequest = "rq"
)

// numericFields are the session fields that hold integers. An integer is
// stored as at most maxDigits decimal digits with an optional minus: Lua
// reads numbers as doubles, exact only to 15 digits, and the scripts must
// agree with decodeSession on what decodes.
var numericFields = []string{fVersion, fFence, fAttempts, fCreatedAt, fUpdatedAt,
	fDueAt, fDeadlineAt, fAnsweredAt, fBridgedAt, fFinishedAt}

const maxDigits = 15

// defaultFirst is the first timeline entry the engine writes for sess, which
// Timeline rebuilds from the hash without storing it.
func defaultFirst(sess Session) Entry {
	return CreatedEntry(sess.CreatedAt, sess.Source)
}

// fields flattens sess into field/value pairs, zero values left out. The ID
// is the key, so it is not stored.
func (sess *Session) fields() []any {
	out := make([]any, 0, 32)
	str := func(f, v string) {
		if v != "" {
			out = append(out, f, v)
		}
	}
	num := func(f string, v int64) {
		if v != 0 {
			out = append(out, f, strconv.FormatInt(v, 10))
		}
	}
	str(fCaller, sess.Caller)
	str(fCallee, sess.Callee)
	str(fSource, sess.Source)
	str(fIdemKey, sess.IdempotencyKey)
	str(fState, string(sess.State))
	str(fOutcome, string(sess.Outcome))
	str(fCause, sess.Cause)
	num(fVersion, sess.Version)
	num(fFence, sess.Fence)
	str(fOwner, sess.Owner)
	num(fAttempts, int64(sess.Attempts))
	str(fNode, sess.Node)
	str(fCalleeLeg, sess.CalleeLeg)
	str(fCallerLeg, sess.CallerLeg)
	str(fPolicy, sess.Policy)
	str(fCallback, sess.CallbackURL)
	num(fCreatedAt, ms(sess.CreatedAt))
	num(fUpdatedAt, ms(sess.UpdatedAt))
	num(fDueAt, ms(sess.DueAt))
	num(fDeadlineAt, ms(sess.DeadlineAt))
	num(fAnsweredAt, ms(sess.AnsweredAt))
	num(fBridgedAt, ms(sess.BridgedAt))
	num(fFinishedAt, ms(sess.FinishedAt))
	return out
}

// decodeSession rebuilds a session from its hash fields. A record that
// cannot be decoded (no caller or callee, an unknown state, a number that
// does not parse) returns what could be decoded and why the rest could
// not; the scripts apply the same rules (luaDecodable's undecodable). A
// quarantined record decodes as far as it can, with Quarantine set and no
// error.
func decodeSession(id string, h map[string]string) (Session, error) {
	sess := Session{
		ID:             id,
		Caller:         h[fCaller],
		Callee:         h[fCallee],
		Source:         h[fSource],
		IdempotencyKey: h[fIdemKey],
		State:          State(h[fState]),
		Outcome:        Outcome(h[fOutcome]),
		Cause:          h[fCause],
		Owner:          h[fOwner],
		Node:           h[fNode],
		CalleeLeg:      h[fCalleeLeg],
		CallerLeg:      h[fCallerLeg],
		Policy:         h[fPolicy],
		CallbackURL:    h[fCallback],
		Quarantine:     h[fQuarantine],
	}
	var err error
	if sess.Caller == "" || sess.Callee == "" {
		err = fmt.Errorf("session %s: no caller or callee", id)
	} else if !sess.State.known() {
		err = fmt.Errorf("session %s: field %s: unknown state %.32q", id, fState, sess.State)
	}
	num := func(f string) int64 {
		v, ok := h[f]
		if !ok {
			return 0
		}
		n, perr := parseStoredInt(v)
		if perr != nil && err == nil {
			err = fmt.Errorf("session %s: field %s: %w", id, f, perr)
		}
		return n
	}
	tm := func(f string) time.Time {
		if n := num(f); n != 0 {
			return time.UnixMilli(n).UTC()
		}
		return time.Time{}
	}
	sess.Version = num(fVersion)
	sess.Fence = num(fFence)
	sess.Attempts = int(num(fAttempts))
	sess.CreatedAt = tm(fCreatedAt)
	sess.UpdatedAt = tm(fUpdatedAt)
	sess.DueAt = tm(fDueAt)
	sess.DeadlineAt = tm(fDeadlineAt)
	sess.AnsweredAt = tm(fAnsweredAt)
	sess.BridgedAt = tm(fBridgedAt)
	sess.FinishedAt = tm(fFinishedAt)
	if sess.Quarantine != "" {
		return sess, nil
	}
	return sess, err
}

// parseStoredInt parses an integer field: an optional minus and 1 to
// maxDigits decimal digits, nothing else.
func parseStoredInt(v string) (int64, error) {
	digits := strings.TrimPrefix(v, "-")
	if digits == "" || len(digits) > maxDigits || strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, fmt.Errorf("not an integer of at most %d digits: %.32q", maxDigits, v)
	}
	return strconv.ParseInt(v, 10, 64)
}

// normalize returns sess as it reads back from Redis: times cut to the
// millisecond and in UTC.
func normalize(sess Session) Session {
	h := make(map[string]string)
	f := sess.fields()
	for i := 0; i < len(f); i += 2 {
		h[f[i].(string)] = f[i+1].(string)
	}
	out, _ := decodeSession(sess.ID, h) // fields() only writes what decodeSession parses
	return out
}

// wireEntry is the stored form of an Entry: short keys, zero values omitted.
type wireEntry struct {
	At      int64  `json:"t"`
	Kind    Kind   `json:"k,omitempty"`
	State   State  `json:"s,omitempty"`
	Attempt int    `json:"a,omitempty"`
	Leg     string `json:"l,omitempty"`
	Node    string `json:"n,omitempty"`
	UUID    string `json:"u,omitempty"`
	Cause   string `json:"c,omitempty"`
	Note    string `json:"x,omitempty"`
}

func encodeEntry(e Entry) string {
	b, _ := json.Marshal(wireEntry{ // a struct of strings and ints always marshals
		At: ms(e.At), Kind: e.Kind, State: e.State, Attempt: e.Attempt,
		Leg: e.Leg, Node: e.Node, UUID: e.UUID, Cause: e.Cause, Note: e.Note,
	})
	return string(b)
}

func decodeEntry(s string) (Entry, error) {
	var w wireEntry
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return Entry{}, fmt.Errorf("decode timeline entry %q: %w", s, err)
	}
	e := Entry{Kind: w.Kind, State: w.State, Attempt: w.Attempt, Leg: w.Leg,
		Node: w.Node, UUID: w.UUID, Cause: w.Cause, Note: w.Note}
	if w.At != 0 {
		e.At = time.UnixMilli(w.At).UTC()
	}
	return e, nil
}

// change is a published change as the scripts write it: id, version,
// state and outcome, then the encoded entries, one line each. The rest of the
// session is read by Subscribe.
type change struct {
	id      string
	version int64
	state   State
	outcome Outcome
	entries []Entry
}

func decodeChange(payload string) (change, error) {
	lines := strings.Split(payload, "\n")
	if len(lines) < 4 {
		return change{}, fmt.Errorf("decode change %.40q: %d lines, want at least 4", payload, len(lines))
	}
	v, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || lines[0] == "" {
		return change{}, fmt.Errorf("decode change %.40q: bad id or version", payload)
	}
	c := change{id: lines[0], version: v, state: State(lines[2]), outcome: Outcome(lines[3])}
	for _, l := range lines[4:] {
		e, err := decodeEntry(l)
		if err != nil {
			return change{}, fmt.Errorf("decode change of %s: %w", c.id, err)
		}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

// flatToMap turns a Lua HGETALL reply into a map.
func flatToMap(v any) (map[string]string, error) {
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		return nil, fmt.Errorf("unexpected hash reply %T", v)
	}
	h := make(map[string]string, len(arr)/2)
	for i := 0; i < len(arr); i += 2 {
		k, ok1 := arr[i].(string)
		val, ok2 := arr[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unexpected hash field types %T/%T", arr[i], arr[i+1])
		}
		h[k] = val
	}
	return h, nil
}
