package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A callee can refuse background calls: from every caller, or from one.
// One hash per callee who refused any, p o:<callee>:
//
//	*         refused from every caller: "<since unix ms>|<by>"
//	<caller>  refused from that caller, same value
//
// and p optouts, a set of the callees that have such a hash, so that
// OptOutCount costs one SCARD. A caller is a number, never "*".

// OptOut is a callee's refusal of background calls.
type OptOut struct {
	Callee string
	Caller string // "" for every caller
	By     string // who recorded it: "phone", "api", "cli:alice", ...
	Since  time.Time
}

// Describe says whom o refuses, since when and by whom: "every caller
// (since 2026-03-14 09:00:00Z, by phone)", or "1001" for one caller.
func (o OptOut) Describe() string {
	whom := "every caller"
	if o.Caller != "" {
		whom = o.Caller
	}
	var about []string
	if !o.Since.IsZero() {
		about = append(about, "since "+o.Since.UTC().Format(time.DateTime)+"Z")
	}
	if o.By != "" {
		about = append(about, "by "+o.By)
	}
	if len(about) == 0 {
		return whom
	}
	return whom + " (" + strings.Join(about, ", ") + ")"
}

// everyCaller is the field of an opt-out from every caller.
const everyCaller = "*"

func (s *Store) optOutKey(callee string) string { return s.p + "o:" + callee }
func (s *Store) optOutsKey() string             { return s.p + "optouts" }

// addOptOutScript records an opt-out unless one is there.
//
//	KEYS[1] o:<callee>    KEYS[2] optouts
//	ARGV[1] field (caller or "*")    ARGV[2] value "<ms>|<by>"    ARGV[3] callee
//
// Returns {DONE, value} when it stored value (or a second run finds the
// value it stored), {EXISTING, value} when an opt-out was there already;
// that one is kept, with its time and author.
var addOptOutScript = redis.NewScript(luaPrelude + `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and v ~= ARGV[2] then return {EXISTING, v} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return {DONE, ARGV[2]}
`)

// removeOptOutScript removes opt-outs of a callee.
//
//	KEYS[1] o:<callee>    KEYS[2] optouts
//	ARGV[1] callee    ARGV[2..] fields to remove (none: all of the callee's)
//
// Returns how many it removed. The callee leaves optouts with its last one.
var removeOptOutScript = redis.NewScript(`
local n
if #ARGV == 1 then
  n = redis.call('HLEN', KEYS[1])
  redis.call('DEL', KEYS[1])
else
  n = redis.call('HDEL', KEYS[1], unpack(ARGV, 2))
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return n
`)

// checkOptOut validates the numbers of an opt-out as Create validates the
// parties of a session.
func checkOptOut(callee, caller string) error {
	if err := checkName("callee", callee, true); err != nil {
		return err
	}
	if err := checkName("caller", caller, false); err != nil {
		return err
	}
	if caller == everyCaller {
		return fmt.Errorf("%w: caller %q is no number; leave it empty for every caller", ErrInvalid, caller)
	}
	if caller == callee {
		return fmt.Errorf("%w: caller and callee are the same number %s", ErrInvalid, caller)
	}
	return nil
}

func optOutField(caller string) string {
	if caller == "" {
		return everyCaller
	}
	return caller
}

// AddOptOut records that o.Callee refuses background calls from o.Caller
// (every caller when o.Caller is empty), by o.By, since now. It is
// idempotent: when that opt-out exists it is kept as it was and returned
// with added false. An opt-out from every caller and one from a single
// caller are separate entries; both may exist.
func (s *Store) AddOptOut(ctx context.Context, o OptOut, now time.Time) (OptOut, bool, error) {
	if err := checkOptOut(o.Callee, o.Caller); err != nil {
		return OptOut{}, false, fmt.Errorf("add opt-out: %w", err)
	}
	if len(o.By) > 128 {
		return OptOut{}, false, fmt.Errorf("add opt-out: %w: by is longer than 128 bytes", ErrInvalid)
	}
	value := strconv.FormatInt(ms(now), 10) + "|" + o.By
	res, err := addOptOutScript.Run(ctx, s.rdb, []string{s.optOutKey(o.Callee), s.optOutsKey()},
		optOutField(o.Caller), value, o.Callee).Slice()
	if s.done("optout", err) != nil {
		return OptOut{}, false, fmt.Errorf("add opt-out of %s: %w", o.Callee, err)
	}
	c, _ := res[0].(int64)
	stored, _ := res[1].(string)
	got := decodeOptOut(o.Callee, optOutField(o.Caller), stored)
	return got, code(c) == codeDone, nil
}

// RemoveOptOut removes callee's opt-out from caller (the one from every
// caller when caller is empty) and reports whether there was one. Other
// opt-outs of callee stay.
func (s *Store) RemoveOptOut(ctx context.Context, callee, caller string) (bool, error) {
	if err := checkOptOut(callee, caller); err != nil {
		return false, fmt.Errorf("remove opt-out: %w", err)
	}
	n, err := s.removeOptOuts(ctx, callee, optOutField(caller))
	return n > 0, err
}

// RemoveOptOuts removes every opt-out of callee and returns how many
// there were.
func (s *Store) RemoveOptOuts(ctx context.Context, callee string) (int, error) {
	if err := checkOptOut(callee, ""); err != nil {
		return 0, fmt.Errorf("remove opt-outs: %w", err)
	}
	return s.removeOptOuts(ctx, callee)
}

func (s *Store) removeOptOuts(ctx context.Context, callee string, fields ...string) (int, error) {
	args := append([]any{callee}, anySlice(fields)...)
	n, err := removeOptOutScript.Run(ctx, s.rdb, []string{s.optOutKey(callee), s.optOutsKey()}, args...).Int()
	if s.done("optout", err) != nil {
		return 0, fmt.Errorf("remove opt-outs of %s: %w", callee, err)
	}
	return n, nil
}

func anySlice(v []string) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// OptedOut reports whether callee refuses background calls from caller:
// the opt-out from every caller when there is one, else the one from
// caller. One round trip; it is on the path of every new session.
func (s *Store) OptedOut(ctx context.Context, callee, caller string) (OptOut, bool, error) {
	if err := checkOptOut(callee, caller); err != nil {
		return OptOut{}, false, fmt.Errorf("check opt-out: %w", err)
	}
	fields := []string{everyCaller}
	if caller != "" {
		fields = append(fields, caller)
	}
	vals, err := s.rdb.HMGet(ctx, s.optOutKey(callee), fields...).Result()
	if s.done("optout", err) != nil {
		return OptOut{}, false, fmt.Errorf("check opt-out of %s: %w", callee, err)
	}
	for i, v := range vals {
		if str, ok := v.(string); ok {
			return decodeOptOut(callee, fields[i], str), true, nil
		}
	}
	return OptOut{}, false, nil
}

// OptOuts returns callee's opt-outs: the one from every caller first, then
// those from single callers by number.
func (s *Store) OptOuts(ctx context.Context, callee string) ([]OptOut, error) {
	if err := checkOptOut(callee, ""); err != nil {
		return nil, fmt.Errorf("list opt-outs: %w", err)
	}
	h, err := s.rdb.HGetAll(ctx, s.optOutKey(callee)).Result()
	if s.done("optout", err) != nil {
		return nil, fmt.Errorf("list opt-outs of %s: %w", callee, err)
	}
	out := make([]OptOut, 0, len(h))
	for field, v := range h {
		out = append(out, decodeOptOut(callee, field, v))
	}
	slices.SortFunc(out, func(a, b OptOut) int {
		if (a.Caller == "") != (b.Caller == "") {
			if a.Caller == "" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Caller, b.Caller)
	})
	return out, nil
}

// OptOutCount returns how many callees refuse background calls from
// anyone (every caller or some).
func (s *Store) OptOutCount(ctx context.Context) (int64, error) {
	n, err := s.rdb.SCard(ctx, s.optOutsKey()).Result()
	if s.done("optout", err) != nil {
		return 0, fmt.Errorf("count opt-outs: %w", err)
	}
	return n, nil
}

func decodeOptOut(callee, field, v string) OptOut {
	o := OptOut{Callee: callee}
	if field != everyCaller {
		o.Caller = field
	}
	at, by, _ := strings.Cut(v, "|")
	if n, err := strconv.ParseInt(at, 10, 64); err == nil && n > 0 {
		o.Since = time.UnixMilli(n).UTC()
	}
	o.By = by
	return o
}
