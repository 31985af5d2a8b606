-- update_sale.lua: pause, resume or move the window of this shard's SKUs of a flash sale.
-- Checks every SKU first (Redis does not roll a script back): each must still carry this
-- sale, not stopped. Pausing keeps the units where they are (orders are refused
-- SALE_PAUSED, queued orders keep their places); resuming and a new window serve the
-- SKUs' queues, which may be able to go now. Idempotent.
--
-- KEYS[1]  the shard's write-back stream (SKU keys built from ARGV[1])
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  sale id   ARGV[5] op: 'pause' | 'resume' | 'window'
-- ARGV[6]  starts at ms   ARGV[7] ends at ms (read for 'window' only)
-- ARGV[8]  number of SKUs n, then n x sku
-- Returns  {'OK', served} (orders served from the queues) | {'STOPPED', sku}
--          | {'OTHER', sku, the sale the SKU carries now ('' : none)}

local now = now_ms()
local sale_id, op, n = ARGV[4], ARGV[5], tonumber(ARGV[8])
local skus = {}
for k = 0, n - 1 do skus[#skus + 1] = ARGV[9 + k] end
for _, sku in ipairs(skus) do
  local s = sale_of(sku, now)
  if s == nil or s.sale_id ~= sale_id then
    return {'OTHER', sku, s ~= nil and s.sale_id or ''}
  end
  if s.stopped == '1' then return {'STOPPED', sku} end
end
for _, sku in ipairs(skus) do
  if op == 'pause' then
    redis.call('HSET', sale_key(sku), 'paused', '1')
  elseif op == 'resume' then
    redis.call('HSET', sale_key(sku), 'paused', '0')
  else
    redis.call('HSET', sale_key(sku), 'starts', ARGV[6], 'ends', ARGV[7])
  end
end
local served = 0
if op ~= 'pause' then served = serve_queues(skus, CFG, now) end
return {'OK', served}
