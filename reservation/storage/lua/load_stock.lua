-- load_stock.lua: load or top up stock of SKUs in this shard, safe while holds are live
-- (only available and loaded move). Queue heads of those SKUs are served at once.
--
-- KEYS[1]  the shard's write-back stream (stock keys built from ARGV[1])
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  mode: SET (available becomes quantity) | ADD (available += quantity)
-- ARGV[5]  number of items n, then n x (sku, warehouse, quantity)
-- Returns  {served}: queued orders that got units.

local now = now_ms()
local mode, n = ARGV[4], tonumber(ARGV[5])
local src = {ch = '', oid = '', rid = ''}
local skus = {}
for k = 0, n - 1 do
  local sku, wh, qty = ARGV[6 + 3 * k], ARGV[7 + 3 * k], tonumber(ARGV[8 + 3 * k])
  local delta = qty
  if mode == 'SET' then delta = qty - counter(sku, wh, 'a') end
  redis.call('ZADD', whs_key(sku), 'NX', 0, wh)
  -- HSETNX keeps the stock hash (and its fields) present even for a zero load.
  redis.call('HSETNX', stock_key(sku), wh .. '|l', 0)
  bump(sku, wh, 'a', delta)
  bump(sku, wh, 'l', delta)
  if delta ~= 0 then emit('STOCK_LOADED', src, sku, wh, delta, now) end
  skus[#skus + 1] = sku
end
return {serve_queues(skus, CFG, now)}
