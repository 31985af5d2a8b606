-- stop_sale.lua: take this shard's SKUs of a flash sale off sale. Unsold available units
-- move to returned; live holds run their course (their units return to returned too);
-- queued orders are rejected NOT_ON_SALE. Idempotent.
--
-- KEYS[1]  the shard's write-back stream (SKU keys built from ARGV[1])
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  sale id   ARGV[5] number of SKUs n, then n x sku
-- Returns  {units returned}

local now = now_ms()
local sale_id, n = ARGV[4], tonumber(ARGV[5])
local src = {ch = '', oid = '', rid = sale_id}
local returned, skus = 0, {}
for k = 0, n - 1 do
  local sku = ARGV[6 + k]
  local s = sale_of(sku, now)
  if s ~= nil and s.sale_id == sale_id and s.stopped ~= '1' then
    redis.call('HSET', sale_key(sku), 'stopped', '1')
    for _, wh in ipairs(warehouses(sku)) do
      local a = counter(sku, wh, 'a')
      if a > 0 then
        bump(sku, wh, 'a', -a)
        bump(sku, wh, 'r', a)
        emit('RETURNED', src, sku, wh, a, now)
        returned = returned + a
      end
    end
    skus[#skus + 1] = sku
  end
end
serve_queues(skus, CFG, now)
return {returned}
