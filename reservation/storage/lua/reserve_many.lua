-- reserve_many.lua: reserve many orders in one call, each exactly as reserve.lua would
-- (all its lines or none, idempotent on its own), one after another. Redis and the
-- client pay their per-command cost once per batch instead of per order.
-- Orders are independent: a refused order does not affect the next one.
-- The orders may be of different shards when every shard lives on this one Redis (the
-- client folds them so only then; on Cluster one call carries one shard's orders).
--
-- KEYS[1]  the first order's shard's expiry index      rsv:{N}:expiry
-- KEYS[2]  the first order's shard's write-back stream rsv:{N}:wb
--   (each order's keys are built from its own shard prefix)
-- ARGV[1..3] prefix of the first order's shard, default hold TTL ms, retention ms
--          (see _lib.lua)
-- ARGV[4]  number of orders m, then m orders, each ONE argument: the order's shard
--          prefix "rsv:{N}:" and the fields reserve.lua takes as ARGV[4..], joined by
--          tabs (see reserve_at in _reserve.lua). One argument per order spares the
--          client encoding ~15 arguments per order, which costs more of the client's
--          CPU than the split costs Redis.
-- Returns  a list of m replies, in order, each what reserve.lua returns for that order.

local out = {}
for k = 1, tonumber(ARGV[4]) do
  local f = unpack_fields(ARGV[4 + k])
  PFX = f[1]
  out[k] = reserve_at(f, 2)
end
return out
