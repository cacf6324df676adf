package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// Unanswered ordinary calls from a caller to a callee are counted so that
// the caller can be offered a background call after a few of them. One
// hash per pair, p m:<caller>:<callee>:
//
//	n      unanswered calls in the current run
//	first  when the run's first call went unanswered (unix ms)
//	ids    the last calls counted or reset on (up to 8 ids, space-separated),
//	       so that a call reported twice (by its hangup event and by the
//	       dialplan handing it to bgcall) counts once, however the two
//	       reports of calls close together interleave
//
// The key expires when the run's window ends; a reset keeps ids (and the
// expiry) so a late second report of the call that caused it counts nothing.
// Keys written before ids existed hold the one last id in "id"; it is read
// as ids.

// rememberCall is the Lua both scripts share: known(ids, id) says whether
// id is among the space-separated ids; remember(ids, id) adds it, keeping
// the last 8.
const rememberCall = `
local function known(ids, id)
  return string.find(' ' .. ids .. ' ', ' ' .. id .. ' ', 1, true) ~= nil
end
local function remember(ids, id)
  local kept = {}
  for v in string.gmatch(ids, '%S+') do kept[#kept + 1] = v end
  kept[#kept + 1] = id
  return table.concat(kept, ' ', math.max(1, #kept - 7))
end
`

// missedScript counts one unanswered call.
//
//	KEYS[1] m:<caller>:<callee>
//	ARGV[1] call id      ARGV[2] now (unix ms)      ARGV[3] window (ms)
//
// Returns the count after the call: unchanged when the call was already
// counted; 1 when the previous run is older than the window.
var missedScript = redis.NewScript(rememberCall + `
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'n', 'first', 'ids', 'id')
local n, first, ids = tonumber(h[1]) or 0, tonumber(h[2]) or 0, h[3] or h[4] or ''
if known(ids, ARGV[1]) then return n end
if n == 0 or now - first > window then
  n, first = 0, now
end
n = n + 1
redis.call('HSET', KEYS[1], 'n', n, 'first', first, 'ids', remember(ids, ARGV[1]))
if h[4] then redis.call('HDEL', KEYS[1], 'id') end
local ttl = first + window - now
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', KEYS[1], ttl)
return n
`)

// resetMissedScript ends a run: the count drops to zero, the ids stay
// (with the call that caused the reset) so that a late report of any of
// them is still recognised.
//
//	KEYS[1] m:<caller>:<callee>
//	ARGV[1] call id that caused the reset ("" = none)
//
// Returns 1 if a run existed.
var resetMissedScript = redis.NewScript(rememberCall + `
if redis.call('EXISTS', KEYS[1]) == 0 and ARGV[1] == '' then return 0 end
redis.call('HSET', KEYS[1], 'n', 0)
if ARGV[1] ~= '' then
  local h = redis.call('HMGET', KEYS[1], 'ids', 'id')
  local ids = h[1] or h[2] or ''
  if not known(ids, ARGV[1]) then ids = remember(ids, ARGV[1]) end
  redis.call('HSET', KEYS[1], 'ids', ids)
  if h[2] then redis.call('HDEL', KEYS[1], 'id') end
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], 86400000) end
end
return 1
`)

func (s *Store) missedKey(caller, callee string) string {
	return s.p + "m:" + caller + ":" + callee
}

// Missed counts callID as one more unanswered call from caller to callee
// and returns the count of the run it belongs to. A run lasts window from
// its first call; a call after that starts a new run. The same callID
// counted again changes nothing.
func (s *Store) Missed(ctx context.Context, caller, callee, callID string, window time.Duration, now time.Time) (int, error) {
	if caller == "" || callee == "" || callID == "" {
		return 0, fmt.Errorf("count missed call: %w: caller, callee and call id are required", ErrInvalid)
	}
	if strings.ContainsFunc(callID, unicode.IsSpace) {
		return 0, fmt.Errorf("count missed call: %w: call id %q has a space", ErrInvalid, callID)
	}
	if window <= 0 {
		return 0, fmt.Errorf("count missed call: %w: window must be positive", ErrInvalid)
	}
	n, err := missedScript.Run(ctx, s.rdb, []string{s.missedKey(caller, callee)},
		callID, now.UnixMilli(), window.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("count missed call %s→%s: %w", caller, callee, err)
	}
	return n, nil
}

// MissedCount returns the current run's count without counting anything;
// a run older than window counts zero.
func (s *Store) MissedCount(ctx context.Context, caller, callee string, window time.Duration, now time.Time) (int, error) {
	vals, err := s.rdb.HMGet(ctx, s.missedKey(caller, callee), "n", "first").Result()
	if err != nil {
		return 0, fmt.Errorf("read missed calls %s→%s: %w", caller, callee, err)
	}
	var n, first int64
	if v, ok := vals[0].(string); ok {
		fmt.Sscan(v, &n)
	}
	if v, ok := vals[1].(string); ok {
		fmt.Sscan(v, &first)
	}
	if n > 0 && now.UnixMilli()-first > window.Milliseconds() {
		return 0, nil
	}
	return int(n), nil
}

// ResetMissed ends the run of unanswered calls from caller to callee: the
// callee answered, or a background call was switched on. callID, when not
// empty, is the call that caused the reset; a late report of it as
// unanswered then counts nothing.
func (s *Store) ResetMissed(ctx context.Context, caller, callee, callID string) error {
	if strings.ContainsFunc(callID, unicode.IsSpace) {
		return fmt.Errorf("reset missed calls: %w: call id %q has a space", ErrInvalid, callID)
	}
	if err := resetMissedScript.Run(ctx, s.rdb, []string{s.missedKey(caller, callee)}, callID).Err(); err != nil {
		return fmt.Errorf("reset missed calls %s→%s: %w", caller, callee, err)
	}
	return nil
}
