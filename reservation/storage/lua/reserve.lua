-- reserve.lua: hold stock for one order's lines in this shard, all lines or none;
-- queue the order when asked and units may come back. Idempotent: a record of the
-- order already here answers the same again and holds nothing more.
--
-- KEYS[1]  hold record of the order      rsv:{N}:hold:<channel>:<order_id>
-- KEYS[2]  the shard's expiry index      rsv:{N}:expiry
-- KEYS[3]  the shard's write-back stream rsv:{N}:wb
--   (per-SKU keys are built from ARGV[1] and share the same hash tag)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref "<channel>:<order_id>"
-- ARGV[5]  reservation id   ARGV[6] channel   ARGV[7] order id   ARGV[8] buyer id
-- ARGV[9]  spec: canonical lines of this part "sku|qty|warehouse;..."
-- ARGV[10] requested hold TTL ms (0: the sale's, else the default)
-- ARGV[11] allow_queue (0/1)  ARGV[12] queue bound per SKU
-- ARGV[13] default queue deadline ms
-- ARGV[14] number of lines n, then n x (sku, quantity, candidate warehouses "w1,w2"|"")
-- ARGV[15+3n] load day "yyyymmdd" of a routed order, else "" (see count_load)
-- Returns  {code, state, reason, failed_sku, expires_at_ms, allocations, reservation_id,
--           buyer_id, queue_position, spec}; code OK | CONFLICT (same order, other spec).

-- The logic lives in _reserve.lua so reserve_many.lua runs the very same steps.
local r = reserve_at(ARGV, 4)
return r
