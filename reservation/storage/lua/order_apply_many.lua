-- order_apply_many.lua: apply order ops of one shard in one call, each exactly as
-- order_apply.lua would, one after another (a refused or conflicting op does not
-- affect the next one). The logic is apply_order in _order.lua.
--
-- KEYS[1]  the shard's order event stream   rsv:{N}:olog
-- KEYS[2]  the shard's write-back stream     rsv:{N}:wb
--   (record, history, index, hold and per-SKU keys are built from ARGV[1] and share
--   the same hash tag)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms of order holds (see _lib.lua)
-- ARGV[4]  number of ops m, then m ops, each ONE tab-separated argument (see _order.lua)
-- Returns  a list of m replies, in order, each what apply_order returns for that op.

local out = {}
OIDX_TRIM_BEFORE = nil
for k = 1, tonumber(ARGV[4]) do
  out[k] = apply_order(ARGV[4 + k])
end
if OIDX_TRIM_BEFORE ~= nil then
  redis.call('ZREMRANGEBYSCORE', oidx_key(), '-inf', '(' .. tostring(OIDX_TRIM_BEFORE))
end
return out
