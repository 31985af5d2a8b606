-- start_sale.lua: put this shard's SKUs of a flash sale on sale and load their quota.
-- Idempotent per shard: a shard that already carries this sale changes nothing.
--
-- KEYS[1]  the shard's write-back stream (SKU keys built from ARGV[1])
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  sale id      ARGV[5] starts at ms   ARGV[6] ends at ms
-- ARGV[7]  per-buyer limit (0 none)   ARGV[8] hold TTL ms   ARGV[9] queue deadline ms
-- ARGV[10] number of items n, then n x (sku, warehouse, quantity)
-- ARGV[11+3n] the sale's rate limits "b:<orders>:<per ms>,d:...,i:..." ("" : none; see
--          _gate.lua)
-- Returns  {'OK', 'STARTED'|'EXISTS'} | {'CONFLICT', sku, other sale id}

local now = now_ms()
local sale_id, n = ARGV[4], tonumber(ARGV[10])
local skus, seen = {}, {}
for k = 0, n - 1 do
  local sku = ARGV[11 + 3 * k]
  if not seen[sku] then seen[sku] = true; skus[#skus + 1] = sku end
end
-- Check everything before the first write: Redis does not roll a script back.
for _, sku in ipairs(skus) do
  local s = sale_of(sku, now)
  if s ~= nil then
    if s.sale_id == sale_id then return {'OK', 'EXISTS'} end
    if s.stopped ~= '1' and now < tonumber(s.ends) then
      return {'CONFLICT', sku, s.sale_id}
    end
  end
end
for _, sku in ipairs(skus) do
  redis.call('DEL', sale_key(sku))
  redis.call('HSET', sale_key(sku), 'sale_id', sale_id, 'starts', ARGV[5], 'ends', ARGV[6],
    'limit', ARGV[7], 'ttl', ARGV[8], 'qdl', ARGV[9], 'stopped', '0',
    'rl', ARGV[11 + 3 * n] or '')
end
local src = {ch = '', oid = '', rid = sale_id}
for k = 0, n - 1 do
  local sku, wh, qty = ARGV[11 + 3 * k], ARGV[12 + 3 * k], tonumber(ARGV[13 + 3 * k])
  redis.call('ZADD', whs_key(sku), 'NX', 0, wh)
  redis.call('HSETNX', stock_key(sku), wh .. '|l', 0)
  bump(sku, wh, 'a', qty)
  bump(sku, wh, 'l', qty)
  if qty ~= 0 then emit('STOCK_LOADED', src, sku, wh, qty, now) end
end
serve_queues(skus, CFG, now)
return {'OK', 'STARTED'}
