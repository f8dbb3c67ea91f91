// The Lua scripts that make each write atomic: Redis runs a script to completion before
// any other command, so the version check and the appends cannot interleave with
// another writer. All return plain values the store maps to typed errors.

/**
 * KEYS: job hash, events stream, all-jobs index, owner index
 * ARGV: job JSON, job_created event JSON, index member
 * → 1 created, 0 id taken
 */
export const CREATE_JOB = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'j', ARGV[1])
redis.call('XADD', KEYS[2], '0-1', 'e', ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
redis.call('ZADD', KEYS[4], 0, ARGV[3])
return 1
`;

/**
 * KEYS: job hash, events stream, finished index
 * ARGV: expected version, new job JSON, new version, finished-at ms ('' if not finished),
 *       job id, channel, event JSON...
 * → 'OK', -1 when the job does not exist, or the actual version on a conflict
 */
export const COMMIT = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if tonumber(v) ~= tonumber(ARGV[1]) then return tonumber(v) end
local base = tonumber(ARGV[1])
for i = 7, #ARGV do
  redis.call('XADD', KEYS[2], '0-' .. (base + i - 6), 'e', ARGV[i])
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'j', ARGV[2])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
else
  redis.call('ZREM', KEYS[3], ARGV[5])
end
for i = 7, #ARGV do
  redis.call('PUBLISH', ARGV[6], ARGV[i])
end
return 'OK'
`;

/**
 * KEYS: finished index
 * ARGV: cutoff ms, key prefix
 * Deletes finished jobs older than the cutoff with their events and index entries.
 * → number deleted
 */
export const DELETE_FINISHED = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local prefix = ARGV[2]
local deleted = 0
for _, id in ipairs(ids) do
  local jobKey = prefix .. ':{' .. id .. '}:job'
  local raw = redis.call('HGET', jobKey, 'j')
  if raw then
    local job = cjson.decode(raw)
    local member = job.createdAt .. '|' .. id
    redis.call('ZREM', prefix .. ':idx:all', member)
    redis.call('ZREM', prefix .. ':idx:owner:' .. job.ownerId, member)
    redis.call('DEL', jobKey, prefix .. ':{' .. id .. '}:events')
    deleted = deleted + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return deleted
`;
