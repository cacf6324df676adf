package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The scripts below are every multi-key change the store makes. Each states
// its KEYS/ARGV contract. Keys are passed in KEYS except where the script
// learns a name only while it runs (an id popped from the due set or read from
// an idempotency key or a live hash, a stored owner, a gc member, the keys a
// quarantine touches); those keys are built from the prefix ARGV "{ns}:", so
// they share the hash tag and the slot of the declared keys, which is what
// Redis Cluster requires of a script.
//
// go-redis runs each with EVALSHA and falls back to EVAL once per server, so a
// transition costs one round trip.
//
// Every script is safe to run twice with the same arguments, which is what
// a client does when a reply is lost and it sends the command again: the
// scripts that change state take a request token, made once per call of
// the Store (KEYS r:<token>), store their first result under it for
// replayTTL and answer a second run with it; the others change nothing
// the second time by their nature (Release, Missed, ResetMissed, the
// quarantine).

// code is a script's reply code, named alike in Go and in Lua (luaPrelude).
// A script answers codeDone when it did what was asked; every other code
// but codeExisting is a refusal, and a refusal writes nothing.
type code int64

const (
	codeDone           code = 1   // applied, created, set aside
	codeExisting       code = 2   // create: an equivalent session exists; the reply carries it
	codeNotFound       code = 0   // apply: no such session
	codeFenced         code = -1  // apply: a claim or takeover moved the fence, or another replica owns it
	codeStale          code = -2  // apply: the version moved
	codeFinished       code = -3  // apply: a finished session cannot come back
	codePartiesChanged code = -4  // apply: caller or callee differ from the stored ones
	codeOtherBase      code = -5  // apply: the stored session is not the base's; send it whole
	codeUndecodable    code = -6  // apply: the stored record cannot be decoded, or is quarantined
	codeCallerCap      code = -7  // create: the caller has too many live sessions
	codeCalleeCap      code = -8  // create: the callee has too many live sessions
	codeIDInUse        code = -9  // create: another session has this id
	codeSending        code = -10 // apply (a cancel): a leg's originate is on its way (BeginSending)
	codeAlreadyAside   code = 3   // quarantine: the record was set aside before
)

// replayTTL is how long a script's first result answers a second run with
// the same request token. It covers a client's whole retry of one call:
// go-redis by default tries 4 times, 3 s read timeout each, with backoff
// under a second, about 13 s.
const replayTTL = time.Minute

// luaPrelude gives the scripts the reply codes and the replay time, from
// their Go definitions.
var luaPrelude = fmt.Sprintf(`
local DONE, EXISTING, NOT_FOUND, FENCED, STALE, FINISHED = %d, %d, %d, %d, %d, %d
local PARTIES_CHANGED, OTHER_BASE, UNDECODABLE = %d, %d, %d
local CALLER_CAP, CALLEE_CAP, ID_IN_USE, ALREADY_ASIDE, SENDING = %d, %d, %d, %d, %d
local REPLAY_TTL = %d
`, codeDone, codeExisting, codeNotFound, codeFenced, codeStale, codeFinished,
	codePartiesChanged, codeOtherBase, codeUndecodable,
	codeCallerCap, codeCalleeCap, codeIDInUse, codeAlreadyAside, codeSending,
	replayTTL.Milliseconds())

// luaDecodable knows which session records decodeSession can decode:
// undecodable returns why the session hash h (a table of its fields)
// cannot be decoded, or nil when it can; a quarantined record counts as
// undecodable. known tells the states. Both are written out from the Go
// definitions of the states and the integer fields (a check per field,
// rather than a loop over a table built on every call).
var luaDecodable = func() string {
	var b strings.Builder
	var states []string
	for _, st := range slices.Concat(LiveStates, []State{Finished}) {
		states = append(states, fmt.Sprintf("st == '%s'", st))
	}
	fmt.Fprintf(&b, `
local function shown(v)
  return (string.gsub(string.sub(v, 1, 32), '%%c', '?'))
end
local function known(st)
  return %s
end
local function badInt(v)
  if not v then return false end
  local d = string.match(v, '^%%-?(%%d+)$')
  return not d or #d > %d
end
local function undecodable(h)
  if h.q then return h.q end
  if not h.c or h.c == '' or not h.b or h.b == '' then return 'no caller or callee' end
  if not known(h.st) then return 'field st: unknown state "' .. shown(h.st or '') .. '"' end
`, strings.Join(states, " or "), maxDigits)
	for _, f := range numericFields {
		fmt.Fprintf(&b, "  if badInt(h.%s) then return 'field %s: not an integer: \"' .. shown(h.%s) .. '\"' end\n", f, f, f)
	}
	b.WriteString("  return nil\nend\n")
	return b.String()
}()

// luaPublish publishes a change for Subscribe: the id, the new version, state
// and outcome, then the encoded timeline entries, one per line (entries are
// JSON, which never holds a raw newline). Subscribe reads the rest of the
// session only when someone listens, so a change nobody watches costs Redis
// no more than the PUBLISH to an empty channel.
const luaPublish = `
local function publish(channel, id, v, st, o, entries)
  redis.call('PUBLISH', channel, table.concat({id, v, st, o or '', unpack(entries)}, '\n'))
end
`

// luaHash reads a hash into a table, and flattens a table back into
// field/value pairs, so a script that changes a few fields reads the hash once
// and returns it without reading it again.
const luaHash = `
local function hash(key)
  local flat = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h, #flat > 0
end
local function flatten(h)
  local out = {}
  for f, v in pairs(h) do
    out[#out + 1] = f
    out[#out + 1] = v
  end
  return out
end
`

// luaQuarantine sets undecodable records aside.
//
// quarantine sets the undecodable session id (hash h) aside, once: its hash
// gets the reason in field q and stays where it is, for Get, List and
// Lookup to show (a leg of it is never taken for one whose session is
// gone); it leaves the due set, its owner's set and its pair's live hashes
// (so it holds no cap slot and a new request for the pair makes a new
// session), joins p quarantine (score: when, now or else by Redis's
// clock), moves from its state to "quarantined" in the counts, and is
// forgotten after the retention like a finished session. Returns true if
// it was not quarantined before.
const luaQuarantine = `
local function quarantine(p, id, h, why, now, retention)
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  if redis.call('ZADD', p .. 'quarantine', 'NX', now, id) == 0 then return false end
  redis.call('HSET', p .. 's:' .. id, 'q', why)
  redis.call('ZREM', p .. 'due', id)
  if h.w then redis.call('SREM', p .. 'own:' .. h.w, id) end
  local a, b = h.c or '', h.b or ''
  if redis.call('HGET', p .. 'a:' .. a, b) == id then redis.call('HDEL', p .. 'a:' .. a, b) end
  if redis.call('HGET', p .. 'b:' .. b, a) == id then redis.call('HDEL', p .. 'b:' .. b, a) end
  if known(h.st) and h.st ~= 'finished' then
    redis.call('HINCRBY', p .. 'count', h.st .. '>quarantined', 1)
  end
  redis.call('ZADD', p .. 'gc', tonumber(now) + tonumber(retention), id .. '|' .. a .. '|' .. b)
  return true
end
`

// luaReplay answers a second run of a claim or takeover. A replay record
// keeps what the first run returned, one item a line (no item holds a
// line break; a reason shows control characters as '?'): the head of its
// reply, the number of quarantined ids and {id, why, ...} of them, then
// the sessions as {id, version, ...}. remember stores one, recall reads it
// back. unchanged returns {id, fields, ...} of those sessions whose
// version has not moved since, which is what the first run returned of
// them; one that moved (a cancel meanwhile) is no longer the caller's to
// act on.
const luaReplay = `
local function remember(key, head, quarantined, sessions)
  local rec = {}
  for _, x in ipairs(head) do rec[#rec + 1] = tostring(x) end
  rec[#rec + 1] = tostring(#quarantined)
  for _, x in ipairs(quarantined) do rec[#rec + 1] = x end
  for _, x in ipairs(sessions) do rec[#rec + 1] = x end
  redis.call('SET', key, table.concat(rec, '\n'), 'PX', REPLAY_TTL)
end
local function recall(rec, nhead)
  local parts = {}
  for x in string.gmatch(rec, '[^\n]+') do parts[#parts + 1] = x end
  local head, quarantined, sessions = {}, {}, {}
  for i = 1, nhead do head[i] = parts[i] == '-1' and -1 or parts[i] end
  local nq = tonumber(parts[nhead + 1])
  for i = nhead + 2, nhead + 1 + nq do quarantined[#quarantined + 1] = parts[i] end
  for i = nhead + 2 + nq, #parts do sessions[#sessions + 1] = parts[i] end
  return head, quarantined, sessions
end
local function unchanged(p, list)
  local out = {}
  for i = 1, #list, 2 do
    local flat = redis.call('HGETALL', p .. 's:' .. list[i])
    for j = 1, #flat, 2 do
      if flat[j] == 'v' then
        if flat[j + 1] == list[i + 1] then
          out[#out + 1] = list[i]
          out[#out + 1] = flat
        end
        break
      end
    end
  end
  return out
end
`

// createScript stores a new waiting session unless an equivalent one exists.
//
//	KEYS[1] s:<id>        KEYS[2] t:<id>        KEYS[3] due         KEYS[4] a:<caller>
//	KEYS[5] b:<callee>    KEYS[6] idem:<key>    KEYS[7] idx         KEYS[8] count
//	ARGV[1]  id           ARGV[2]  prefix       ARGV[3]  idempotency key ("" = none; KEYS[6] untouched)
//	ARGV[4]  idempotency TTL ms                 ARGV[5]  caller cap (0 = none)
//	ARGV[6]  callee cap   ARGV[7]  created ms   ARGV[8]  due ms
//	ARGV[9]  first timeline entry               ARGV[10] channel
//	ARGV[11] caller       ARGV[12] callee       ARGV[13..] session field/value pairs
//
// KEYS[2] is not written: the first entry is not kept in the timeline list,
// Timeline rebuilds it from the hash (ARGV[13..] carry it as field e0 when
// it is not the default one), which saves a key per waiting session.
//
// A cap counts only the live hash's sessions that still exist: one that
// is gone (evicted, deleted by hand) holds no slot, and its field is
// dropped when the session is created.
//
// The new session's id is the request token: Create makes one per call
// (or is given one), so a second run that finds the session it would
// create, with its pair and creation time, is a replay and answers DONE.
//
// Returns {DONE} created, {EXISTING, id, fields} an existing session
// (idempotency key or live pair), {CALLER_CAP}, {CALLEE_CAP}, {ID_IN_USE}.
// Refusals write nothing.
var createScript = redis.NewScript(luaPrelude + luaPublish + `
local function existing(id)
  local flat = redis.call('HGETALL', ARGV[2] .. 's:' .. id)
  if #flat == 0 then return nil end
  return flat
end
local function live(flat)
  local n, gone = 0, {}
  for i = 1, #flat, 2 do
    if redis.call('EXISTS', ARGV[2] .. 's:' .. flat[i + 1]) == 1 then
      n = n + 1
    else
      gone[#gone + 1] = flat[i]
    end
  end
  return n, gone
end
if ARGV[3] ~= '' then
  local id = redis.call('GET', KEYS[6])
  if id == ARGV[1] then return {DONE} end
  if id then
    local flat = existing(id)
    if flat then return {EXISTING, id, flat} end
  end
end
-- The caller's live hash answers both whether the pair is live and, when
-- the caller is capped, how many live sessions the caller has: a capped
-- caller's hash is small enough to read whole in one command.
local capA, capB = tonumber(ARGV[5]), tonumber(ARGV[6])
local id, flatA
if capA > 0 and capA <= 16 then
  flatA = redis.call('HGETALL', KEYS[4])
  for i = 1, #flatA, 2 do
    if flatA[i] == ARGV[12] then id = flatA[i + 1] end
  end
else
  id = redis.call('HGET', KEYS[4], ARGV[12])
end
if id == ARGV[1] then return {DONE} end
if id then
  local flat = existing(id)
  if flat then
    if ARGV[3] ~= '' then redis.call('SET', KEYS[6], id, 'PX', ARGV[4]) end
    return {EXISTING, id, flat}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'c', 'b', 'tc')
  if h[1] == ARGV[11] and h[2] == ARGV[12] and h[3] == ARGV[7] then return {DONE} end
  return {ID_IN_USE}
end
-- Only a hash at its cap is checked for sessions that are gone.
local goneA, goneB = {}, {}
if capA > 0 and (flatA and #flatA / 2 or redis.call('HLEN', KEYS[4])) >= capA then
  local n
  n, goneA = live(flatA or redis.call('HGETALL', KEYS[4]))
  if n >= capA then return {CALLER_CAP} end
end
if capB > 0 and redis.call('HLEN', KEYS[5]) >= capB then
  local n
  n, goneB = live(redis.call('HGETALL', KEYS[5]))
  if n >= capB then return {CALLEE_CAP} end
end
if #goneA > 0 then redis.call('HDEL', KEYS[4], unpack(goneA)) end
if #goneB > 0 then redis.call('HDEL', KEYS[5], unpack(goneB)) end
id = ARGV[1]
redis.call('HSET', KEYS[1], unpack(ARGV, 13))
redis.call('ZADD', KEYS[3], ARGV[8], id)
redis.call('HSET', KEYS[4], ARGV[12], id)
redis.call('HSET', KEYS[5], ARGV[11], id)
if ARGV[3] ~= '' then redis.call('SET', KEYS[6], id, 'PX', ARGV[4]) end
redis.call('ZADD', KEYS[7], ARGV[7], id)
redis.call('HINCRBY', KEYS[8], 'waiting', 1)
publish(ARGV[10], id, 1, 'waiting', '', {ARGV[9]})
return {DONE}
`)

// applyScript writes one transition if the caller's view is current.
//
//	KEYS[1] s:<id>        KEYS[2] t:<id>        KEYS[3] due         KEYS[4] a:<caller>
//	KEYS[5] b:<callee>    KEYS[6] ha:<caller>   KEYS[7] hb:<callee> KEYS[8] count
//	KEYS[9] gc            KEYS[10] x:<id>, only for a cancel (ApplyCancel)
//	ARGV[1]  id           ARGV[2]  prefix (own:<stored owner> is known only here)
//	ARGV[3]  expected version                   ARGV[4]  fence presented
//	ARGV[5]  owner presented ("" releases)      ARGV[6]  new state
//	ARGV[7]  due ms (0 = none)                  ARGV[8]  retention ms
//	ARGV[9]  gc score: end of retention ms      ARGV[10] gc member "id|caller|callee"
//	ARGV[11] caller       ARGV[12] callee       ARGV[13] channel
//	ARGV[14] new version  ARGV[15] new outcome ("" = none)
//	ARGV[16] request token
//	ARGV[17] base: "" when the pairs below are the whole session (the script
//	         reads the hash and writes what differs); else the created ms of
//	         the stored version the caller took the differences from (the
//	         pairs are the fields that change, and D fields are deleted)
//	ARGV[18] N, the number of timeline entries  ARGV[19 .. 18+N] entries
//	ARGV[19+N] D, the number of fields to delete (0 without a base)
//	ARGV[20+N .. 19+N+D] fields to delete       ARGV[20+N+D ..] session field/value pairs
//
// The request token is written with the transition (field rq), which
// costs no command: a second run that finds it there is a replay and
// answers DONE. (Should another transition land in between, the replay
// answers STALE, which is what the caller would learn next anyway.)
//
// Returns DONE, NOT_FOUND, FENCED (a claim or takeover moved the fence, or
// the presented owner is not the stored one), STALE (version), FINISHED (it
// cannot come back), PARTIES_CHANGED, OTHER_BASE (the stored session is not
// the base's: another session under the same id; send the whole session),
// UNDECODABLE (the fields the script read cannot be decoded, or the record
// is quarantined), SENDING (given KEYS[10]: a leg's originate is on its
// way; see BeginSending).
// Anything but DONE writes nothing. The fence is checked before the
// version: when both moved the caller has lost the session, which is the
// more useful answer.
var applyScript = redis.NewScript(luaPrelude + luaPublish + luaHash + luaDecodable + `
local token, base, n = ARGV[16], ARGV[17], tonumber(ARGV[18])
local d = tonumber(ARGV[19 + n])
local pairs0 = 20 + n + d
local cur
if base == '' then
  local found
  cur, found = hash(KEYS[1])
  if not found then return NOT_FOUND end
  if cur.rq == token then return DONE end
else
  -- With a base only the fields checked below are read; the base's
  -- created time matching the stored one vouches for the rest.
  local h = redis.call('HMGET', KEYS[1], 'st', 'w', 'f', 'v', 'c', 'b', 'tc', 'q', 'rq')
  if not (h[1] or h[5] or h[8]) then return NOT_FOUND end
  if h[9] == token then return DONE end
  cur = {st = h[1], w = h[2], f = h[3], v = h[4], c = h[5], b = h[6], tc = h[7], q = h[8]}
end
if undecodable(cur) then return UNDECODABLE end
if base ~= '' and cur.tc ~= base then return OTHER_BASE end
local st, owner = cur.st, cur.w or ''
if tonumber(ARGV[4]) ~= tonumber(cur.f or '0') then return FENCED end
if ARGV[5] ~= '' and ARGV[5] ~= owner then return FENCED end
if tonumber(ARGV[3]) ~= tonumber(cur.v or '0') then return STALE end
local id, nst, caller, callee = ARGV[1], ARGV[6], ARGV[11], ARGV[12]
if st == 'finished' and nst ~= 'finished' then return FINISHED end
if caller ~= cur.c or callee ~= cur.b then return PARTIES_CHANGED end
if KEYS[10] and redis.call('EXISTS', KEYS[10]) == 1 then return SENDING end
if base == '' then
  -- Write only what changed; e0 (the first timeline entry) is not a
  -- session field, rq is written below.
  local set, del, want = {'rq', token}, {}, {e0 = true, rq = true}
  for i = pairs0, #ARGV, 2 do
    local f, v = ARGV[i], ARGV[i + 1]
    want[f] = v
    if cur[f] ~= v then
      set[#set + 1] = f
      set[#set + 1] = v
    end
  end
  for f in pairs(cur) do
    if not want[f] then del[#del + 1] = f end
  end
  redis.call('HSET', KEYS[1], unpack(set))
  if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
else
  redis.call('HSET', KEYS[1], 'rq', token, unpack(ARGV, pairs0))
  if d > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 20 + n, 19 + n + d)) end
end
local entries = {}
if n > 0 then
  entries = {unpack(ARGV, 19, 18 + n)}
  redis.call('RPUSH', KEYS[2], unpack(entries))
end
if owner ~= '' and (ARGV[5] == '' or nst == 'finished') then
  redis.call('SREM', ARGV[2] .. 'own:' .. owner, id)
end
-- Only unowned waiting sessions are in the due set: a claim takes them out.
-- (Should one be left there, ClaimDue drops it as not waiting.)
if nst == 'waiting' and tonumber(ARGV[7]) > 0 then
  redis.call('ZADD', KEYS[3], ARGV[7], id)
elseif st == 'waiting' and owner == '' then
  redis.call('ZREM', KEYS[3], id)
end
-- One counter per move between states, rather than one per state moved
-- out of and into: a transition costs one command, and LiveCounts sums.
if st ~= nst then redis.call('HINCRBY', KEYS[8], st .. '>' .. nst, 1) end
if nst == 'finished' then
  if st ~= 'finished' then
    -- A live session holds its pair's fields: Create maps a pair to a new
    -- session only when the pair's session is gone.
    redis.call('HDEL', KEYS[4], callee)
    redis.call('HDEL', KEYS[5], caller)
    redis.call('ZADD', KEYS[6], cur.tc or 0, id)
    redis.call('ZADD', KEYS[7], cur.tc or 0, id)
  end
  redis.call('ZADD', KEYS[9], ARGV[9], ARGV[10])
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
end
publish(ARGV[13], id, ARGV[14], nst, ARGV[15], entries)
return DONE
`)

// luaBeginAttempt is what beginning a callee attempt means, written once
// for both scripts that begin one (claimScript, beginScript).
//
// beginAttempt(seed, id, h, node, entry) takes the waiting session id
// (h: its fields as read) into its next callee attempt on node: it
// returns the fields to set (state dialing_callee, attempts + 1, the
// node, a new callee leg), the field to delete (the caller leg, 'la') and
// the attempt's timeline entry, which is entry (JSON whose first character
// is '{') with the attempt number and the leg put in front.
//
// The leg's UUID is derived from seed, the session and the attempt number
// (8-4-4-4-12 hex from SHA-1, version 5, RFC 4122 variant) rather than
// passed in, so that a script run again by a client retrying after a lost
// reply names the same leg, and two runs with different seeds never hand
// one leg to two sessions.
const luaBeginAttempt = `
local function legOf(seed, id, n)
  local h = redis.sha1hex(seed .. '|' .. id .. '|' .. n)
  local v = tonumber(string.sub(h, 17, 17), 16) % 4 + 1
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) .. '-' ..
    string.sub('89ab', v, v) .. string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end
local function beginAttempt(seed, id, h, node, entry)
  local n = tostring(tonumber(h.n or '0') + 1)
  local leg = legOf(seed, id, n)
  local set = {st = 'dialing_callee', n = n, nd = node, lb = leg}
  return set, 'la', '{"a":' .. n .. ',"u":"' .. leg .. '",' .. string.sub(entry, 2)
end
`

// claimScript gives up to n due waiting sessions to a replica, begins the
// callee attempt of the first k of them whose deadline has not passed (one
// transition instead of a claim and then an Apply: a retry costs one round
// trip and one script fewer), renews the replica's lease if asked, and
// forgets a bounded batch of sessions whose retention ended (their index
// entries, hash and timeline). A due session whose record cannot be
// decoded is quarantined instead of claimed, and the rest of the batch is
// claimed as usual.
//
//	KEYS[1] due    KEYS[2] own:<replica>    KEYS[3] gc    KEYS[4] idx    KEYS[5] replicas
//	KEYS[6] count  KEYS[7] r:<token>
//	ARGV[1] prefix (s:<id> and t:<id> of claimed ids; ha:, hb:, s:, t: of gc members)
//	ARGV[2] now ms          ARGV[3] n        ARGV[4] replica    ARGV[5] channel
//	ARGV[6] gc batch size (0 = forget nothing)
//	ARGV[7] lease expiry ms (0 = leave the lease alone)
//	ARGV[8] retention ms (of a record quarantined)
//	ARGV[9] seed ("" = begin no attempt), ARGV[10] k, the number of starts,
//	then k pairs: node, and the attempt's timeline entry without its attempt
//	number and leg (JSON whose first character is '{')
//
// A started session begins its attempt as beginAttempt (luaBeginAttempt)
// has it; one that is only claimed stays waiting. Both get a new fence and
// version and the owner.
//
// Returns {next due, next end of retention, {id, why, ...} quarantined now,
// id1, fields1, ...}; a next is -1 when there is none. A second run with the
// same token returns the first run's sessions (those not changed since).
var claimScript = redis.NewScript(luaPrelude + luaPublish + luaDecodable + luaQuarantine + luaReplay + luaBeginAttempt + `
local p, now, replica = ARGV[1], ARGV[2], ARGV[4]
local seen = redis.call('GET', KEYS[7])
if seen then
  local head, quarantined, sessions = recall(seen, 2)
  local out = {head[1], head[2], quarantined}
  for _, x in ipairs(unchanged(p, sessions)) do out[#out + 1] = x end
  return out
end
if tonumber(ARGV[7]) > 0 then redis.call('ZADD', KEYS[5], 'GT', ARGV[7], replica) end
local out = {-1, -1, {}}
-- The first few members usually tell both what is due and when the next
-- one is; only a backlog larger than that is claimed by score. Few: Redis
-- spends about half a microsecond formatting each score it returns.
local n, ids = tonumber(ARGV[3]), {}
local k = math.min(n, 3)
local head = redis.call('ZRANGE', KEYS[1], 0, k, 'WITHSCORES')
local i = 1
while i < #head and #ids < n and tonumber(head[i + 1]) <= tonumber(now) do
  ids[#ids + 1] = head[i]
  i = i + 2
end
if i < #head then
  out[1] = head[i + 1]
elseif #head == 2 * (k + 1) then
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, n)
end
if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
if #head == 2 * (k + 1) and i >= #head then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if first[2] then out[1] = first[2] end
end
local seed, starts, started = ARGV[9], tonumber(ARGV[10]), 0
local claimed, quarantined = {}, {}
for _, id in ipairs(ids) do
  local key = p .. 's:' .. id
  -- The reply is the hash as read, with the claim's fields changed in
  -- place, rather than turned into a table of fields and back.
  local flat = redis.call('HGETALL', key)
  local at, h = {}, {}
  for j = 1, #flat, 2 do
    at[flat[j]] = j + 1
    h[flat[j]] = flat[j + 1]
  end
  local why = #flat > 0 and undecodable(h)
  if why then
    if quarantine(p, id, h, why, now, ARGV[8]) then
      quarantined[#quarantined + 1] = id
      quarantined[#quarantined + 1] = why
    end
  elseif h.st == 'waiting' then
    local v = tostring(tonumber(h.v or '0') + 1)
    local set = {f = tostring(tonumber(h.f or '0') + 1), v = v, w = replica, tu = now}
    local nst, entries, del = 'waiting', {}, nil
    local deadline = tonumber(h.tx or '0')
    if started < starts and (deadline == 0 or deadline > tonumber(now)) then
      local b = 11 + 2 * started
      started = started + 1
      local begun, entry
      begun, del, entry = beginAttempt(seed, id, h, ARGV[b], ARGV[b + 1])
      for f, val in pairs(begun) do set[f] = val end
      nst, entries = begun.st, {entry}
    end
    local hset = {}
    for f, val in pairs(set) do
      hset[#hset + 1] = f
      hset[#hset + 1] = val
      if at[f] then
        flat[at[f]] = val
      else
        flat[#flat + 1] = f
        flat[#flat + 1] = val
      end
    end
    redis.call('HSET', key, unpack(hset))
    if nst ~= 'waiting' then
      if del and at[del] then
        redis.call('HDEL', key, del)
        table.remove(flat, at[del])
        table.remove(flat, at[del] - 1)
      end
      redis.call('RPUSH', p .. 't:' .. id, unpack(entries))
      redis.call('HINCRBY', KEYS[6], 'waiting>' .. nst, 1)
    end
    redis.call('SADD', KEYS[2], id)
    publish(ARGV[5], id, v, nst, '', entries)
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = v
    out[#out + 1] = id
    out[#out + 1] = flat
  end
end
out[3] = quarantined
local batch = tonumber(ARGV[6])
if batch > 0 then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, batch)
  if #gone > 0 then
    local forgotten = {}
    for _, m in ipairs(gone) do
      local id, a, b = string.match(m, '^([^|]*)|([^|]*)|(.*)$')
      if id then
        forgotten[#forgotten + 1] = id
        redis.call('ZREM', p .. 'ha:' .. a, id)
        redis.call('ZREM', p .. 'hb:' .. b, id)
        local h = redis.call('HMGET', p .. 's:' .. id, 'st', 'q')
        if h[1] == 'finished' or h[2] then
          redis.call('DEL', p .. 's:' .. id, p .. 't:' .. id)
        end
        if h[2] then redis.call('ZREM', p .. 'quarantine', id) end
      end
    end
    if #forgotten > 0 then redis.call('ZREM', KEYS[4], unpack(forgotten)) end
    redis.call('ZREM', KEYS[3], unpack(gone))
  end
  if #gone == batch then
    out[2] = now
  else
    local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    if first[2] then out[2] = first[2] end
  end
end
if #claimed > 0 or #quarantined > 0 then
  remember(KEYS[7], {out[1], out[2]}, quarantined, claimed)
end
return out
`)

// beginScript begins the next callee attempt of a waiting session that a
// replica claimed or took over but whose claim began none (it had no node
// for it then): the same step as a claim's start (luaBeginAttempt), on its
// own, checked as applyScript checks a transition.
//
//	KEYS[1] s:<id>      KEYS[2] t:<id>      KEYS[3] count
//	ARGV[1] id          ARGV[2] fence presented      ARGV[3] owner presented
//	ARGV[4] expected version                         ARGV[5] now ms
//	ARGV[6] node        ARGV[7] the attempt's timeline entry without its
//	                    attempt number and leg (JSON whose first character is '{')
//	ARGV[8] seed        ARGV[9] request token        ARGV[10] channel
//
// The request token is written with the step (field rq): a second run
// that finds it there is a replay and answers as the first run did.
//
// Returns {DONE, version, attempts, callee leg}, or {NOT_FOUND}, {FENCED}
// (another fence or owner), {STALE} (the version moved, or the session
// is no longer waiting), {UNDECODABLE}. Anything but DONE writes nothing.
var beginScript = redis.NewScript(luaPrelude + luaPublish + luaHash + luaDecodable + luaBeginAttempt + `
local h, found = hash(KEYS[1])
if not found then return {NOT_FOUND} end
if h.rq == ARGV[9] then return {DONE, h.v, h.n, h.lb} end
if undecodable(h) then return {UNDECODABLE} end
if tonumber(ARGV[2]) ~= tonumber(h.f or '0') or ARGV[3] ~= (h.w or '') then return {FENCED} end
if tonumber(ARGV[4]) ~= tonumber(h.v or '0') or h.st ~= 'waiting' then return {STALE} end
local set, del, entry = beginAttempt(ARGV[8], ARGV[1], h, ARGV[6], ARGV[7])
local v = tostring(tonumber(h.v or '0') + 1)
set.v, set.tu, set.rq = v, ARGV[5], ARGV[9]
redis.call('HSET', KEYS[1], unpack(flatten(set)))
redis.call('HDEL', KEYS[1], del)
redis.call('RPUSH', KEYS[2], entry)
redis.call('HINCRBY', KEYS[3], 'waiting>' .. set.st, 1)
publish(ARGV[10], ARGV[1], v, set.st, '', {entry})
return {DONE, v, set.n, set.lb}
`)

// takeOverScript moves every live session of one replica whose lease expired
// to another replica, bumping each fence so the old owner's late writes fail.
// A session whose record cannot be decoded is quarantined instead.
//
//	KEYS[1] replicas    KEYS[2] own:<dead>    KEYS[3] own:<replica>    KEYS[4] r:<token>
//	ARGV[1] prefix (s:<id> of the dead replica's sessions)
//	ARGV[2] now ms      ARGV[3] dead replica  ARGV[4] replica    ARGV[5] channel
//	ARGV[6] retention ms (of a record quarantined)
//
// Returns {{id, why, ...} quarantined now, id1, fields1, ...}; no session
// when the lease was renewed meanwhile. A second run with the same token
// returns the first run's sessions (those not changed since).
var takeOverScript = redis.NewScript(luaPrelude + luaPublish + luaHash + luaDecodable + luaQuarantine + luaReplay + `
local seen = redis.call('GET', KEYS[4])
if seen then
  local _, quarantined, sessions = recall(seen, 0)
  local out = unchanged(ARGV[1], sessions)
  table.insert(out, 1, quarantined)
  return out
end
local lease = redis.call('ZSCORE', KEYS[1], ARGV[3])
if lease and tonumber(lease) >= tonumber(ARGV[2]) then return {{}} end
local out, moved, quarantined = {{}}, {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 's:' .. id
  local h, found = hash(key)
  local why = found and undecodable(h)
  if why then
    if quarantine(ARGV[1], id, h, why, ARGV[2], ARGV[6]) then
      quarantined[#quarantined + 1] = id
      quarantined[#quarantined + 1] = why
    end
  elseif found and h.st ~= 'finished' then
    h.f, h.v, h.w, h.tu = tostring(tonumber(h.f or '0') + 1), tostring(tonumber(h.v or '0') + 1), ARGV[4], ARGV[2]
    redis.call('HSET', key, 'f', h.f, 'v', h.v, 'w', h.w, 'tu', h.tu)
    redis.call('SADD', KEYS[3], id)
    publish(ARGV[5], id, h.v, h.st, '', {})
    moved[#moved + 1] = id
    moved[#moved + 1] = h.v
    out[#out + 1] = id
    out[#out + 1] = flatten(h)
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[3])
out[1] = quarantined
if #moved > 0 or #quarantined > 0 then
  remember(KEYS[4], {}, quarantined, moved)
end
return out
`)

// releaseScript hands a stopping replica's sessions on: claimed sessions that
// are still waiting go back to the due set unowned; live ones stay owned and
// the replica's lease is expired, so the next TakeOver by any replica moves
// them at once. A session whose record cannot be decoded is quarantined.
// A second run finds only what the first left, and leaves it.
//
//	KEYS[1] replicas    KEYS[2] own:<replica>    KEYS[3] due
//	ARGV[1] prefix (s:<id> of owned sessions)    ARGV[2] replica    ARGV[3] channel
//	ARGV[4] retention ms (of a record quarantined)
//
// Returns {the number of sessions left for takeover, {id, why, ...}
// quarantined now}.
var releaseScript = redis.NewScript(luaPrelude + luaPublish + luaHash + luaDecodable + luaQuarantine + `
local quarantined = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 's:' .. id
  local h, found = hash(key)
  local why = found and undecodable(h)
  if why then
    if quarantine(ARGV[1], id, h, why, nil, ARGV[4]) then
      quarantined[#quarantined + 1] = id
      quarantined[#quarantined + 1] = why
    end
    redis.call('SREM', KEYS[2], id)
  elseif h.st == 'waiting' then
    redis.call('HDEL', key, 'w')
    local v = redis.call('HINCRBY', key, 'v', 1)
    redis.call('ZADD', KEYS[3], h.td or 0, id)
    redis.call('SREM', KEYS[2], id)
    publish(ARGV[3], id, v, 'waiting', '', {})
  elseif not found or h.st == 'finished' then
    redis.call('SREM', KEYS[2], id)
  end
end
local left = redis.call('SCARD', KEYS[2])
if left == 0 then
  redis.call('ZREM', KEYS[1], ARGV[2])
else
  redis.call('ZADD', KEYS[1], 0, ARGV[2])
end
return {left, quarantined}
`)

// quarantineScript sets aside a session record the Store could not decode,
// if the script finds it undecodable too. A second run changes nothing.
//
//	KEYS[1] s:<id>
//	ARGV[1] prefix      ARGV[2] id     ARGV[3] retention ms
//
// Returns {why, DONE} quarantined now, {why, ALREADY_ASIDE} quarantined
// before, an empty why when the record decodes, and {} when it is gone.
var quarantineScript = redis.NewScript(luaPrelude + luaHash + luaDecodable + luaQuarantine + `
local h, found = hash(KEYS[1])
if not found then return {} end
local why = undecodable(h)
if not why then return {''} end
if quarantine(ARGV[1], ARGV[2], h, why, nil, ARGV[3]) then return {why, DONE} end
return {why, ALREADY_ASIDE}
`)
