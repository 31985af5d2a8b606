-- shorten.lua: bring keys' expiry forward, never push it back (PEXPIRE ... LT).
-- Used for rejected orders' identities, kept only as long as their rejected records.
-- Library-free (scripts.STANDALONE). Concurrent calls whose
-- keys share a home shard are folded into one call (store.SHORTEN_MANY).
--
-- KEYS     order home keys of one shard   rsv:{H}:order:<channel>:<order_id> ...
-- ARGV[1]  TTL ms
-- Returns  one reply per key: 1 when its expiry was brought forward, else 0.

-- PEXPIRE ... LT needs Redis 7: on 6.2 the same by reading the TTL first (a key without
-- one counts as an infinite TTL, as LT has it).
local function pexpire_lt(key, ms)
  if redis.REDIS_VERSION_NUM then return redis.call('PEXPIRE', key, ms, 'LT') end
  local left = redis.call('PTTL', key)
  if left == -2 or (left >= 0 and left <= tonumber(ms)) then return 0 end
  return redis.call('PEXPIRE', key, ms)
end

local out = {}
for i, key in ipairs(KEYS) do out[i] = pexpire_lt(key, ARGV[1]) end
return out
