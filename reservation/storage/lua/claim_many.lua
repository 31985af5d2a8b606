-- claim_many.lua: claim.lua for many orders whose home keys share one shard, in one call.
-- Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the first order's home key (routes the call to the shard's node)
-- ARGV[1]  the shard's key prefix "rsv:{H}:"   ARGV[2] TTL ms
-- ARGV[3]  number of orders m, then m x (order ref, identity)
-- Returns  a list of m replies, each what claim.lua returns for that order (false = nil).

local out, prefix, ttl = {}, ARGV[1], ARGV[2]
for k = 1, tonumber(ARGV[3]) do
  local ref, identity = ARGV[2 + 2 * k], ARGV[3 + 2 * k]
  out[k] = set_nx_get(prefix .. 'order:' .. ref, identity, ttl)
end
return out
