package store

import "github.com/redis/go-redis/v9"

// The scripts below are every multi-key change the store makes. Each states
// its KEYS/ARGV contract. Keys are passed in KEYS except where the script
// learns a name only while it runs (an id popped from the due set or read from
// an idempotency key or a live hash, a stored owner, a gc member); those keys
// are built from the prefix ARGV "{ns}:", so they share the hash tag and the
// slot of the declared keys, which is what Redis Cluster requires of a script.
//
// go-redis runs each with EVALSHA and falls back to EVAL once per server, so a
// transition costs one round trip.

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
// Returns {1} created, {0, id, fields} an existing session (idempotency key or
// live pair), {-1} caller cap, {-2} callee cap, {-3} id in use. Refusals write
// nothing.
var createScript = redis.NewScript(luaPublish + `
local function existing(id)
  local flat = redis.call('HGETALL', ARGV[2] .. 's:' .. id)
  if #flat == 0 then return nil end
  return flat
end
if ARGV[3] ~= '' then
  local id = redis.call('GET', KEYS[6])
  if id then
    local flat = existing(id)
    if flat then return {0, id, flat} end
  end
end
-- The caller's live hash answers both whether the pair is live and, when
-- the caller is capped, how many live sessions the caller has: a capped
-- caller's hash is small enough to read whole in one command.
local capA, capB = tonumber(ARGV[5]), tonumber(ARGV[6])
local id, liveA
if capA > 0 and capA <= 16 then
  local flat = redis.call('HGETALL', KEYS[4])
  liveA = #flat / 2
  for i = 1, #flat, 2 do
    if flat[i] == ARGV[12] then id = flat[i + 1] end
  end
else
  id = redis.call('HGET', KEYS[4], ARGV[12])
end
if id then
  local flat = existing(id)
  if flat then
    if ARGV[3] ~= '' then redis.call('SET', KEYS[6], id, 'PX', ARGV[4]) end
    return {0, id, flat}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-3} end
if capA > 0 and (liveA or redis.call('HLEN', KEYS[4])) >= capA then return {-1} end
if capB > 0 and redis.call('HLEN', KEYS[5]) >= capB then return {-2} end
id = ARGV[1]
redis.call('HSET', KEYS[1], unpack(ARGV, 13))
redis.call('ZADD', KEYS[3], ARGV[8], id)
redis.call('HSET', KEYS[4], ARGV[12], id)
redis.call('HSET', KEYS[5], ARGV[11], id)
if ARGV[3] ~= '' then redis.call('SET', KEYS[6], id, 'PX', ARGV[4]) end
redis.call('ZADD', KEYS[7], ARGV[7], id)
redis.call('HINCRBY', KEYS[8], 'waiting', 1)
publish(ARGV[10], id, 1, 'waiting', '', {ARGV[9]})
return {1}
`)

// applyScript writes one transition if the caller's view is current.
//
//	KEYS[1] s:<id>        KEYS[2] t:<id>        KEYS[3] due         KEYS[4] a:<caller>
//	KEYS[5] b:<callee>    KEYS[6] ha:<caller>   KEYS[7] hb:<callee> KEYS[8] count
//	KEYS[9] gc
//	ARGV[1]  id           ARGV[2]  prefix (own:<stored owner> is known only here)
//	ARGV[3]  expected version                   ARGV[4]  fence presented
//	ARGV[5]  owner presented ("" releases)      ARGV[6]  new state
//	ARGV[7]  due ms (0 = none)                  ARGV[8]  retention ms
//	ARGV[9]  gc score: end of retention ms      ARGV[10] gc member "id|caller|callee"
//	ARGV[11] caller       ARGV[12] callee       ARGV[13] channel
//	ARGV[14] new version  ARGV[15] new outcome ("" = none)
//	ARGV[16] base: "" when the pairs below are the whole session (the script
//	         reads the hash and writes what differs); else the created ms of
//	         the stored version the caller took the differences from (the
//	         pairs are the fields that change, and D fields are deleted)
//	ARGV[17] N, the number of timeline entries  ARGV[18 .. 17+N] entries
//	ARGV[18+N] D, the number of fields to delete (0 without a base)
//	ARGV[19+N .. 18+N+D] fields to delete       ARGV[19+N+D ..] session field/value pairs
//
// Returns 1 applied, 0 not found, -1 fenced (a claim or takeover moved the
// fence, or the presented owner is not the stored one), -2 stale version, -3
// finished (it cannot come back), -4 caller or callee changed, -5 the stored
// session is not the base's (another session under the same id: send the
// whole session). Anything but 1 writes nothing. The fence is checked before
// the version: when both moved the caller has lost the session, which is the
// more useful answer.
var applyScript = redis.NewScript(luaPublish + luaHash + `
local base, n = ARGV[16], tonumber(ARGV[17])
local d = tonumber(ARGV[18 + n])
local pairs0 = 19 + n + d
local cur
if base == '' then
  local found
  cur, found = hash(KEYS[1])
  if not found then return 0 end
else
  -- With a base only the fields checked below are read.
  local h = redis.call('HMGET', KEYS[1], 'st', 'w', 'f', 'v', 'c', 'b', 'tc')
  if not h[1] then return 0 end
  if h[7] ~= base then return -5 end
  cur = {st = h[1], w = h[2], f = h[3], v = h[4], c = h[5], b = h[6], tc = h[7]}
end
local st, owner = cur.st, cur.w or ''
if tonumber(ARGV[4]) ~= tonumber(cur.f or '0') then return -1 end
if ARGV[5] ~= '' and ARGV[5] ~= owner then return -1 end
if tonumber(ARGV[3]) ~= tonumber(cur.v or '0') then return -2 end
local id, nst, caller, callee = ARGV[1], ARGV[6], ARGV[11], ARGV[12]
if st == 'finished' and nst ~= 'finished' then return -3 end
if caller ~= cur.c or callee ~= cur.b then return -4 end
if base == '' then
  -- Write only what changed; e0 (the first timeline entry) is not a session field.
  local set, del, want = {}, {}, {e0 = true}
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
  if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
  if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
else
  if #ARGV >= pairs0 then redis.call('HSET', KEYS[1], unpack(ARGV, pairs0)) end
  if d > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 19 + n, 18 + n + d)) end
end
local entries = {}
if n > 0 then
  entries = {unpack(ARGV, 18, 17 + n)}
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
return 1
`)

// claimScript gives up to n due waiting sessions to a replica, begins the
// callee attempt of the first k of them whose deadline has not passed (one
// transition instead of a claim and then an Apply: a retry costs one round
// trip and one script fewer), renews the replica's lease if asked, and
// forgets a bounded batch of sessions whose retention ended (their index
// entries, hash and timeline).
//
//	KEYS[1] due    KEYS[2] own:<replica>    KEYS[3] gc    KEYS[4] idx    KEYS[5] replicas
//	KEYS[6] count
//	ARGV[1] prefix (s:<id> and t:<id> of claimed ids; ha:, hb:, s:, t: of gc members)
//	ARGV[2] now ms          ARGV[3] n        ARGV[4] replica    ARGV[5] channel
//	ARGV[6] gc batch size (0 = forget nothing)
//	ARGV[7] lease expiry ms (0 = leave the lease alone)
//	ARGV[8] seed ("" = begin no attempt), ARGV[9] k, the number of starts,
//	then k pairs: node, and the attempt's timeline entry without its attempt
//	number and leg (JSON whose first character is '{')
//
// A started session is stored as dialing_callee with attempts + 1, the node,
// a callee leg named after the seed, the session and the attempt number, no
// caller leg, and the entry on its timeline; one that is only claimed stays
// waiting. Both get a new fence and version and the owner. The leg is
// derived, not passed, so that a script run twice (a client retrying after a
// lost reply) can never give two sessions the same leg.
var claimScript = redis.NewScript(luaPublish + `
local p, now, replica = ARGV[1], ARGV[2], ARGV[4]
if tonumber(ARGV[7]) > 0 then redis.call('ZADD', KEYS[5], 'GT', ARGV[7], replica) end
local out = {-1, -1}
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
local seed, starts, started = ARGV[8], tonumber(ARGV[9]), 0
-- A leg's UUID: 8-4-4-4-12 hex from SHA-1, version 5, RFC 4122 variant.
local function legOf(id, n)
  local h = redis.sha1hex(seed .. '|' .. id .. '|' .. n)
  local variant = string.sub('89ab', tonumber(string.sub(h, 17, 17), 16) % 4 + 1, tonumber(string.sub(h, 17, 17), 16) % 4 + 1)
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) .. '-' ..
    variant .. string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end
for _, id in ipairs(ids) do
  local key = p .. 's:' .. id
  -- The reply is the hash as read, with the claim's fields changed in
  -- place, rather than turned into a table of fields and back.
  local flat = redis.call('HGETALL', key)
  local at = {}
  for j = 1, #flat, 2 do at[flat[j]] = j + 1 end
  if at.st and flat[at.st] == 'waiting' then
    local v = tostring(tonumber(at.v and flat[at.v] or '0') + 1)
    local set = {f = tostring(tonumber(at.f and flat[at.f] or '0') + 1), v = v, w = replica, tu = now}
    local nst, entries = 'waiting', {}
    local deadline = tonumber(at.tx and flat[at.tx] or '0')
    if started < starts and (deadline == 0 or deadline > tonumber(now)) then
      local b = 10 + 2 * started
      started = started + 1
      local n = tostring(tonumber(at.n and flat[at.n] or '0') + 1)
      local leg = legOf(id, n)
      nst = 'dialing_callee'
      set.st, set.n, set.nd, set.lb = nst, n, ARGV[b], leg
      entries = {'{"a":' .. n .. ',"u":"' .. leg .. '",' .. string.sub(ARGV[b + 1], 2)}
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
      if at.la then
        redis.call('HDEL', key, 'la')
        table.remove(flat, at.la)
        table.remove(flat, at.la - 1)
      end
      redis.call('RPUSH', p .. 't:' .. id, unpack(entries))
      redis.call('HINCRBY', KEYS[6], 'waiting>' .. nst, 1)
    end
    redis.call('SADD', KEYS[2], id)
    publish(ARGV[5], id, v, nst, '', entries)
    out[#out + 1] = id
    out[#out + 1] = flat
  end
end
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
        if redis.call('HGET', p .. 's:' .. id, 'st') == 'finished' then
          redis.call('DEL', p .. 's:' .. id, p .. 't:' .. id)
        end
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
return out
`)

// takeOverScript moves every live session of one replica whose lease expired
// to another replica, bumping each fence so the old owner's late writes fail.
//
//	KEYS[1] replicas    KEYS[2] own:<dead>    KEYS[3] own:<replica>
//	ARGV[1] prefix (s:<id> of the dead replica's sessions)
//	ARGV[2] now ms      ARGV[3] dead replica  ARGV[4] replica    ARGV[5] channel
//
// Returns {id1, fields1, ...}; nothing when the lease was renewed meanwhile.
var takeOverScript = redis.NewScript(luaPublish + luaHash + `
local lease = redis.call('ZSCORE', KEYS[1], ARGV[3])
if lease and tonumber(lease) >= tonumber(ARGV[2]) then return {} end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 's:' .. id
  local h = hash(key)
  if h.st and h.st ~= 'finished' then
    h.f, h.v, h.w, h.tu = tostring(tonumber(h.f or '0') + 1), tostring(tonumber(h.v or '0') + 1), ARGV[4], ARGV[2]
    redis.call('HSET', key, 'f', h.f, 'v', h.v, 'w', h.w, 'tu', h.tu)
    redis.call('SADD', KEYS[3], id)
    publish(ARGV[5], id, h.v, h.st, '', {})
    out[#out + 1] = id
    out[#out + 1] = flatten(h)
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[3])
return out
`)

// releaseScript hands a stopping replica's sessions on: claimed sessions that
// are still waiting go back to the due set unowned; live ones stay owned and
// the replica's lease is expired, so the next TakeOver by any replica moves
// them at once.
//
//	KEYS[1] replicas    KEYS[2] own:<replica>    KEYS[3] due
//	ARGV[1] prefix (s:<id> of owned sessions)    ARGV[2] replica    ARGV[3] channel
//
// Returns the number of sessions left for takeover.
var releaseScript = redis.NewScript(luaPublish + `
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 's:' .. id
  local st = redis.call('HGET', key, 'st')
  if st == 'waiting' then
    redis.call('HDEL', key, 'w')
    local v = redis.call('HINCRBY', key, 'v', 1)
    redis.call('ZADD', KEYS[3], redis.call('HGET', key, 'td') or 0, id)
    redis.call('SREM', KEYS[2], id)
    publish(ARGV[3], id, v, 'waiting', '', {})
  elseif not st or st == 'finished' then
    redis.call('SREM', KEYS[2], id)
  end
end
local left = redis.call('SCARD', KEYS[2])
if left == 0 then
  redis.call('ZREM', KEYS[1], ARGV[2])
else
  redis.call('ZADD', KEYS[1], 0, ARGV[2])
end
return left
`)
