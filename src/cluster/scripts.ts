/**
 * The Lua scripts that make Redis the one place a cluster decides: each runs atomically, so a
 * name is taken once, a revision handed out once, a member expired once, whatever the number of
 * hubs. Keys all begin with the cluster's prefix (one hash tag, `{muster}`, so that on a Redis
 * Cluster they share a slot). The scripts never re-encode JSON (Redis's cjson turns empty arrays
 * into objects): members are hashes of fields the hubs encoded.
 *
 *   P:rev            the revision counter           P:ids           member ids (set)
 *   P:m:<id>         a member (hash of fields)      P:names         name -> id (hash)
 *   P:events         the change stream (ID = the change's last revision)
 *   P:deadlines      id -> deadline ms (zset)       P:reason        id -> removal reason at that deadline
 *   P:at:<hub>       ids attached to a hub (set)    P:hubs          hub id -> facts (hash)
 *   P:lease:<hub>    a hub's lease (expires)        P:epoch         names this history
 *   P:lapsed         hub -> when its lease was first seen gone (Redis time, ms)
 *
 * Redis wiped (FLUSHALL, or restarted without its data) loses P:epoch with the rest: a hub's
 * change is refused (EPOCH) until the hub has joined the new history (redis-store.ts).
 */

/** Shared helpers, prepended to the scripts that change members. */
const COMMON = `
local p = ARGV[1]
local function drop(id)
  local key = p .. ':m:' .. id
  local name = redis.call('HGET', key, 'name')
  local hub = redis.call('HGET', key, 'attachedTo')
  if name and redis.call('HGET', p .. ':names', name) == id then redis.call('HDEL', p .. ':names', name) end
  if hub and hub ~= '' then redis.call('SREM', p .. ':at:' .. hub, id) end
  local existed = redis.call('DEL', key) == 1
  redis.call('SREM', p .. ':ids', id)
  redis.call('ZREM', p .. ':deadlines', id)
  redis.call('HDEL', p .. ':reason', id)
  return existed
end
-- Where a member's deadline stands after a write: a ttl member counts as seen when written whole;
-- a suspect session member has its grace; an alive one (or a probed one) has none here.
-- liveness: the value just written, if the write had it; existed: false for a member new here
-- (it has no deadline or reason yet).
local function schedule(id, whole, now, liveness, existed)
  local key = p .. ':m:' .. id
  local lv = cjson.decode(liveness or redis.call('HGET', key, 'liveness'))
  if lv.kind == 'ttl' then
    if whole then
      redis.call('ZADD', p .. ':deadlines', now + lv.ttlMs, id)
      if existed then redis.call('HDEL', p .. ':reason', id) end
    end
  elseif lv.kind == 'session' and redis.call('HGET', key, 'status') == 'suspect' then
    if redis.call('ZSCORE', p .. ':deadlines', id) == false then
      local extra = cjson.decode(redis.call('HGET', key, 'extra') or '{}')
      redis.call('ZADD', p .. ':deadlines', now + (lv.graceMs or 10000), id)
      redis.call('HSET', p .. ':reason', id, extra.hubLink and 'hub-lost' or 'session-lost')
    end
  elseif existed then
    redis.call('ZREM', p .. ':deadlines', id)
    redis.call('HDEL', p .. ':reason', id)
  end
end
-- Each entry names the history (epoch) it belongs to: a hub that has not joined that one reads no further.
local function append(kind, body, count, now)
  local first = redis.call('INCRBY', p .. ':rev', count) - count + 1
  local last = first + count - 1
  local epoch = redis.call('GET', p .. ':epoch') or ''
  redis.call('XADD', p .. ':events', 'MAXLEN', '~', ARGV[4], last .. '-0', 'k', kind, 'b', body, 'r', first, 'at', now, 'e', epoch)
  return first
end
`;

/**
 * Hubs' changes, several at a time (those a hub made in one event-loop turn), each decided and
 * written as if alone, in order: a later change's conditions see the earlier ones' writes.
 * ARGV: prefix, now, stream length, the epoch the hub writes in, the number of changes, then
 * each change as change-wire.ts lays it out: ticket, entry body, event count, deletes (count,
 * ids), puts (count, then each: id, whole 1/0, field count, field, value, ...), present (count,
 * ids), namesFree (count, names), maxMembers (-1: none), absent (count, ids), heldBy (count, then
 * each: id, hub or '' for none). No JSON is decoded here but a liveness.
 * Returns per change {'OK', firstRevision} or {CODE, detail} for a failed condition (nothing of
 * it written); or {'EPOCH', epoch} for them all when the store holds another history than the
 * hub's (it was wiped): nothing written. Each change is one stream entry: k c, t ticket, b body.
 */
export const APPLY = COMMON + `
local epoch = redis.call('GET', p .. ':epoch')
if epoch ~= ARGV[4] then return {'EPOCH', epoch or ''} end
local now = tonumber(ARGV[2])
local rev = tonumber(redis.call('GET', p .. ':rev') or '0')
local revAtStart = rev
-- Members in the registry: read when a change first asks (maxMembers), kept up to date from then on.
local count = nil
-- New members' set and deadline entries, written once for the whole call: nothing in a run of
-- registrations reads them; they are written before anything that could (a delete, a condition
-- on presence, a put of a member already there, the count).
local newIds, newAt, newDeadlines = {}, {}, {}
local function writeNew()
  if #newIds == 0 then return end
  redis.call('SADD', p .. ':ids', unpack(newIds))
  for hub, ids in pairs(newAt) do redis.call('SADD', p .. ':at:' .. hub, unpack(ids)) end
  if #newDeadlines > 0 then redis.call('ZADD', p .. ':deadlines', unpack(newDeadlines)) end
  newIds, newAt, newDeadlines = {}, {}, {}
end
local out = {}
local i = 6
for c = 1, tonumber(ARGV[5]) do
  local ticket, body, nEvents = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local nd = tonumber(ARGV[i + 3])
  local d0 = i + 4
  i = d0 + nd
  local puts = {}
  for k = 1, tonumber(ARGV[i]) do
    local nf = tonumber(ARGV[i + 3])
    puts[k] = { id = ARGV[i + 1], whole = ARGV[i + 2] == '1', from = i + 4, to = i + 3 + 2 * nf }
    i = i + 3 + 2 * nf
  end
  i = i + 1
  local np = tonumber(ARGV[i])
  local p0 = i + 1
  i = p0 + np
  local nn = tonumber(ARGV[i])
  local n0 = i + 1
  i = n0 + nn
  local maxMembers = tonumber(ARGV[i])
  local na = tonumber(ARGV[i + 1])
  local a0 = i + 2
  i = a0 + na
  local nh = tonumber(ARGV[i])
  local h0 = i + 1
  i = h0 + 2 * nh
  local onlyNew = nd == 0 and np == 0 and nh == 0
  for _, put in ipairs(puts) do if not put.whole then onlyNew = false end end
  if not onlyNew then writeNew() end
  -- Conditions first: a change that fails one writes nothing.
  local failed = nil
  for k = p0, p0 + np - 1 do
    if redis.call('SISMEMBER', p .. ':ids', ARGV[k]) == 0 then failed = {'NO_SUCH_MEMBER', ARGV[k]} break end
  end
  local deleting, putting = {}, {}
  for k = d0, d0 + nd - 1 do deleting[ARGV[k]] = true end
  for _, put in ipairs(puts) do
    putting[put.id] = true
    -- One read tells whether the member is there and what it was named and held by.
    put.old = redis.call('HMGET', p .. ':m:' .. put.id, 'name', 'attachedTo')
  end
  -- A member's hash is written at once (only its set entry may be deferred): EXISTS sees this call's own.
  if not failed then
    for k = a0, a0 + na - 1 do
      -- With when it was made: the hub whose attempt this refuses answers the member as the store has it.
      local key = p .. ':m:' .. ARGV[k]
      if redis.call('EXISTS', key) == 1 then failed = {'MEMBER_EXISTS', ARGV[k], redis.call('HGET', key, 'registeredAt') or nil} break end
    end
  end
  if not failed then
    -- Held by another hub than when the change was decided (resumed there meanwhile): not this change's to make.
    for k = h0, h0 + 2 * nh - 2, 2 do
      local key = p .. ':m:' .. ARGV[k]
      local hub = redis.call('HGET', key, 'attachedTo')
      if (hub or '') ~= ARGV[k + 1] and (hub or redis.call('EXISTS', key) == 1) then failed = {'NO_SUCH_MEMBER', ARGV[k]} break end
    end
  end
  if not failed then
    for k = n0, n0 + nn - 1 do
      local holder = redis.call('HGET', p .. ':names', ARGV[k])
      if holder and not deleting[holder] and not putting[holder] then failed = {'NAME_TAKEN', ARGV[k]} break end
    end
  end
  if not failed and maxMembers >= 0 then
    if not count then writeNew(); count = redis.call('SCARD', p .. ':ids') end
    local n = count
    for id, _ in pairs(deleting) do if not putting[id] and redis.call('SISMEMBER', p .. ':ids', id) == 1 then n = n - 1 end end
    for _, put in ipairs(puts) do if put.whole and not put.old[1] then n = n + 1 end end
    if n > maxMembers then failed = {'REGISTRY_FULL', tostring(maxMembers)} end
  end
  if failed then
    out[c] = failed
  else
    for k = d0, d0 + nd - 1 do
      if drop(ARGV[k]) and count then count = count - 1 end
    end
    for _, put in ipairs(puts) do
      local key = p .. ':m:' .. put.id
      -- A delete of this change may have taken the member out since it was read.
      local old = deleting[put.id] and redis.call('HMGET', key, 'name', 'attachedTo') or put.old
      local oldName, oldHub = old[1], old[2]
      -- Fields of a member another hub removed meanwhile are not written back.
      if put.whole or oldName then
        local name, hub, liveness
        for k = put.from, put.to, 2 do
          local f = ARGV[k]
          if f == 'name' then name = ARGV[k + 1] elseif f == 'attachedTo' then hub = ARGV[k + 1] elseif f == 'liveness' then liveness = ARGV[k + 1] end
        end
        local deferred = onlyNew and not oldName
        if not deferred then writeNew() end
        redis.call('HSET', key, unpack(ARGV, put.from, put.to))
        if not oldName then
          if deferred then newIds[#newIds + 1] = put.id else redis.call('SADD', p .. ':ids', put.id) end
          if count then count = count + 1 end
        end
        if name then
          if oldName and oldName ~= name and redis.call('HGET', p .. ':names', oldName) == put.id then redis.call('HDEL', p .. ':names', oldName) end
          redis.call('HSET', p .. ':names', name, put.id)
        end
        if hub then
          if oldHub and oldHub ~= hub then redis.call('SREM', p .. ':at:' .. oldHub, put.id) end
          -- '' is "held by no hub".
          if hub == '' then redis.call('HDEL', key, 'attachedTo')
          elseif deferred then newAt[hub] = newAt[hub] or {}; table.insert(newAt[hub], put.id)
          else redis.call('SADD', p .. ':at:' .. hub, put.id) end
        end
        local lv = deferred and liveness and cjson.decode(liveness)
        if lv and lv.kind == 'ttl' then
          newDeadlines[#newDeadlines + 1] = now + lv.ttlMs
          newDeadlines[#newDeadlines + 1] = put.id
        else
          schedule(put.id, put.whole, now, liveness, oldName ~= false)
        end
      end
    end
    local first = rev + 1
    rev = rev + nEvents
    redis.call('XADD', p .. ':events', 'MAXLEN', '~', ARGV[3], rev .. '-0', 'k', 'c', 't', ticket, 'b', body, 'r', first, 'at', ARGV[2], 'e', epoch)
    out[c] = {'OK', first}
  end
end
writeNew()
if rev ~= revAtStart then redis.call('SET', p .. ':rev', rev) end
return out
`;

/**
 * ARGV: prefix, now, limit, stream length. Removes members whose deadline passed, at most
 * `limit`, as one change; returns how many. The entry lists each with its reason and fields.
 */
export const EXPIRE = COMMON + `
local now = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', p .. ':deadlines', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
if #due == 0 then return 0 end
local gone = {}
for _, id in ipairs(due) do
  local fields = redis.call('HGETALL', p .. ':m:' .. id)
  local reason = redis.call('HGET', p .. ':reason', id) or 'expired'
  drop(id)
  if #fields > 0 then gone[#gone + 1] = { id = id, reason = reason, fields = fields } end
end
if #gone == 0 then return 0 end
append('x', cjson.encode(gone), #gone, now)
return #gone
`;

/**
 * ARGV: prefix, now, grace ms (for members without their own), stream length, the reaping hub,
 * lease ms, limit. For every hub whose lease has been gone for a whole lease (seen by a reaper
 * holding its own; timed by Redis's clock): its session members turn suspect with the grace
 * (reason hub-lost), its probed members are the reaper's to probe (no client holds them: they
 * would otherwise be removed alive), its ttl members belong to no hub (their heartbeats may come anywhere);
 * at most `limit` members a call, as one change, so a hub that held 100,000 does not stop Redis
 * (and every other hub) for seconds; once it has none left, the hub leaves the cluster's list.
 * Returns 1 if members are left for another call (else 0), then the hub ids reaped. The wait of a
 * lease is for a Redis that stood still (paused, busy, restarting): every lease ran out
 * meanwhile, and the hubs, alive, renew theirs within a third of a lease once it answers again,
 * so none is taken for lost.
 */
export const REAP = COMMON + `
local now = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local me, leaseMs = ARGV[5], tonumber(ARGV[6])
local budget = tonumber(ARGV[7])
local reaped, changed, more = {}, {}, 0
if redis.call('EXISTS', p .. ':lease:' .. me) == 0 then return { 0 } end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = p .. ':lapsed'
for _, hub in ipairs(redis.call('HKEYS', p .. ':hubs')) do
  local gone = redis.call('EXISTS', p .. ':lease:' .. hub) == 0
  local since = gone and tonumber(redis.call('HGET', lapsed, hub) or '') or nil
  if not gone then
    redis.call('HDEL', lapsed, hub)
  elseif since == nil then
    redis.call('HSET', lapsed, hub, clock)
  elseif clock - since >= leaseMs and budget == 0 then
    more = 1
  elseif clock - since >= leaseMs then
    local held = p .. ':at:' .. hub
    local ids = redis.call('SPOP', held, budget)
    budget = budget - #ids
    for _, id in ipairs(ids) do
      local key = p .. ':m:' .. id
      local raw = redis.call('HGET', key, 'liveness')
      if raw then
        local lv = cjson.decode(raw)
        if lv.kind == 'probe' then
          redis.call('HSET', key, 'attachedTo', me)
          redis.call('SADD', p .. ':at:' .. me, id)
        else
          redis.call('HDEL', key, 'attachedTo')
        end
        if lv.kind == 'session' then
          redis.call('HSET', key, 'status', 'suspect')
          redis.call('ZADD', p .. ':deadlines', now + (lv.graceMs or grace), id)
          redis.call('HSET', p .. ':reason', id, 'hub-lost')
        end
        changed[#changed + 1] = { id = id, fields = redis.call('HGETALL', key) }
      end
    end
    if redis.call('EXISTS', held) == 1 then
      more = 1
    else
      redis.call('HDEL', lapsed, hub)
      redis.call('HDEL', p .. ':hubs', hub)
      reaped[#reaped + 1] = hub
    end
  end
end
if #changed > 0 then append('h', cjson.encode(changed), #changed, now) end
return { more, unpack(reaped) }
`;

/**
 * ARGV: prefix, a revision. A hub joining a new history (the store was wiped) raises the revision
 * counter to at least the old history's revision as it knew it (plus a gap), so that revisions
 * never go back and a `since` of the old history is never one of the new. Returns the counter.
 */
export const RAISE = `
local key = ARGV[1] .. ':rev'
if tonumber(redis.call('GET', key) or '0') < tonumber(ARGV[2]) then redis.call('SET', key, ARGV[2]) end
return redis.call('GET', key)
`;

/**
 * ARGV: prefix, the epoch the hub follows, the revision it has read up to, a fresh epoch.
 * Returns the store's epoch. A store whose revision counter is below what a hub has read lost
 * history while keeping its epoch key (Redis restarted from an older snapshot, or with the last
 * second of an everysec fsync gone): it gets a new epoch, which every hub then joins as it does
 * a wiped store's, so nothing of the lost part is served as if it were still there.
 */
export const CHECK_EPOCH = `
local p = ARGV[1]
local epoch = redis.call('GET', p .. ':epoch')
if epoch and epoch == ARGV[2] and tonumber(redis.call('GET', p .. ':rev') or '0') < tonumber(ARGV[3]) then
  redis.call('SET', p .. ':epoch', ARGV[4])
  return ARGV[4]
end
return epoch
`;
