-- claim_many.lua: claim.lua for many orders in one call: orders whose home keys share
-- one shard, or (on one Redis, where every shard lives) any orders.
-- Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the first order's home key (routes the call to the shard's node)
-- ARGV[1]  TTL ms
-- ARGV[2]  number of orders m, then m x (home key, identity)
-- Returns  a list of m replies, each what claim.lua returns for that order (false = nil).

local out, ttl = {}, ARGV[1]
for k = 1, tonumber(ARGV[2]) do
  out[k] = set_nx_get(ARGV[1 + 2 * k], ARGV[2 + 2 * k], ttl)
end
return out
