-- claim_reserve.lua: claim.lua and reserve.lua in one call, for an order whose lines all
-- live in one shard (see claim_reserve_at in _reserve.lua).
--
-- KEYS[1]  the order's home key          rsv:{H}:order:<channel>:<order_id>
-- KEYS[2]  hold record of the order      rsv:{N}:hold:<channel>:<order_id>
-- KEYS[3]  the shard's expiry index      rsv:{N}:expiry
-- KEYS[4]  the shard's write-back stream rsv:{N}:wb
--   (on Redis Cluster H = N; on one Redis any H)
-- ARGV[1..3] prefix of shard N, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  TTL ms of the identity record
-- ARGV[5..] what reserve.lua takes as ARGV[4..]
-- Returns  {'CLAIMED', identity already recorded} (nothing else done), else what
--          reserve.lua returns.

local r = claim_reserve_at(KEYS[1], ARGV[4], ARGV, 5)
return r
