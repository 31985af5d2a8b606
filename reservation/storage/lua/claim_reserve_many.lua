-- claim_reserve_many.lua: claim_reserve.lua for many orders in one call, each exactly as
-- claim_reserve.lua would do it, one after another. The orders may be of different
-- shards when every shard lives on this one Redis (see reserve_many.lua).
--
-- KEYS[1]  the first order's shard's expiry index      rsv:{N}:expiry
-- KEYS[2]  the first order's shard's write-back stream rsv:{N}:wb
-- ARGV[1..3] prefix of the first order's shard, default hold TTL ms, retention ms
--          (see _lib.lua)
-- ARGV[4]  TTL ms of the identity records
-- ARGV[5]  number of orders m, then m orders, each ONE argument: the order's shard
--          prefix, its home key and the fields reserve.lua takes as ARGV[4..], joined
--          by tabs
-- Returns  a list of m replies, in order, each what claim_reserve.lua returns.

local out = {}
for k = 1, tonumber(ARGV[5]) do
  local f = unpack_fields(ARGV[5 + k])
  PFX = f[1]
  out[k] = claim_reserve_at(f[2], ARGV[4], f, 3)
end
return out
