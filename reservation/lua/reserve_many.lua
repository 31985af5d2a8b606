-- reserve_many.lua: reserve many orders of one shard in one call, each exactly as
-- reserve.lua would (all its lines or none, idempotent on its own), one after another.
-- Redis and the client pay their per-command cost once per batch instead of per order.
-- Orders are independent: a refused order does not affect the next one.
--
-- KEYS[1]  the shard's expiry index      rsv:{N}:expiry
-- KEYS[2]  the shard's write-back stream rsv:{N}:wb
--   (hold and per-SKU keys are built from ARGV[1] and share the same hash tag)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  number of orders m, then m order blocks, each laid out like reserve.lua's
--          ARGV[4..] (see reserve_at in _reserve.lua)
-- Returns  a list of m replies, in order, each what reserve.lua returns for that order.

local out, i = {}, 5
for k = 1, tonumber(ARGV[4]) do
  local r
  r, i = reserve_at(i)
  out[k] = r
end
return out
