/**
 * The Lua scripts of a cluster snapshot (redis-export.ts). Each is short and bounded by its
 * arguments (one page), so none holds Redis for long; the spool keys live under the cluster's
 * prefix (one hash tag) and expire by themselves if the hub that made them dies.
 *
 *   S:ids     the spooled member ids (zset, score 0: read back in id order, without duplicates)
 *   S:m:<id>  a spooled member (hash of the fields the store keeps)
 *   S:events  the kept events, in revision order (list of JSON)
 */

/** ARGV: prefix. Returns {the change stream's last entry id ('0-0' if none), the epoch ('' if none)}, at one instant. */
export const SNAPSHOT_MARK = `
local last = redis.call('XREVRANGE', ARGV[1] .. ':events', '+', '-', 'COUNT', 1)
local epoch = redis.call('GET', ARGV[1] .. ':epoch') or ''
if #last == 0 then return {'0-0', epoch} end
return {last[1][1], epoch}
`;

/** ARGV: prefix, spool, ttl ms, ids... Copies each member that exists now into the spool. Returns how many. */
export const SNAPSHOT_COPY = `
local p, s, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local fields = redis.call('HGETALL', p .. ':m:' .. id)
  if #fields > 0 then
    local key = s .. ':m:' .. id
    redis.call('DEL', key)
    redis.call('HSET', key, unpack(fields))
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', s .. ':ids', 0, id)
    n = n + 1
  end
end
redis.call('PEXPIRE', s .. ':ids', ttl)
return n
`;

/**
 * ARGV: spool, ttl ms, then operations, each: kind, id, field count, field, value, ...
 * W: a whole put (the member written whole), P: a put of some fields (only if the member is
 * there, as the apply script does), D: a removal. Applied in order, as the store applied them.
 */
export const SNAPSHOT_ROLL = `
local s, ttl = ARGV[1], tonumber(ARGV[2])
local i = 3
while i <= #ARGV do
  local kind, id, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key = s .. ':m:' .. id
  if kind == 'D' then
    redis.call('DEL', key)
    redis.call('ZREM', s .. ':ids', id)
  elseif n > 0 and (kind == 'W' or redis.call('EXISTS', key) == 1) then
    redis.call('HSET', key, unpack(ARGV, i + 3, i + 2 + 2 * n))
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', s .. ':ids', 0, id)
  end
  i = i + 3 + 2 * n
end
redis.call('PEXPIRE', s .. ':ids', ttl)
return 'OK'
`;
