-- claim_reserve_many.lua: claim_reserve.lua for many orders of one shard in one call,
-- each exactly as claim_reserve.lua would do it, one after another.
--
-- KEYS[1]  the shard's expiry index      rsv:{N}:expiry
-- KEYS[2]  the shard's write-back stream rsv:{N}:wb
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  TTL ms of the identity records
-- ARGV[5]  number of orders m, then m orders, each ONE argument: the order's home key
--          and the fields reserve.lua takes as ARGV[4..], joined by tabs
-- Returns  a list of m replies, in order, each what claim_reserve.lua returns.

local out = {}
for k = 1, tonumber(ARGV[5]) do
  local f = unpack_fields(ARGV[5 + k])
  out[k] = claim_reserve_at(f[1], ARGV[4], f, 2)
end
return out
