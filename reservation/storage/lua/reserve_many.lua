-- reserve_many.lua: reserve many orders of one shard in one call, each exactly as
-- reserve.lua would (all its lines or none, idempotent on its own), one after another.
-- Redis and the client pay their per-command cost once per batch instead of per order.
-- Orders are independent: a refused order does not affect the next one.
--
-- KEYS[1]  the shard's expiry index      rsv:{N}:expiry
-- KEYS[2]  the shard's write-back stream rsv:{N}:wb
--   (hold and per-SKU keys are built from ARGV[1] and share the same hash tag)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  number of orders m, then m orders, each ONE argument: the fields reserve.lua
--          takes as ARGV[4..] joined by tabs (see reserve_at in _reserve.lua). One
--          argument per order spares the client encoding ~15 arguments per order, which
--          costs more of the client's CPU than the split costs Redis.
-- Returns  a list of m replies, in order, each what reserve.lua returns for that order.

local out = {}
for k = 1, tonumber(ARGV[4]) do
  out[k] = reserve_at(unpack_fields(ARGV[4 + k]), 1)
end
return out
