-- guard_tick.lua: one shard's periodic guard work, run by every replica. Recomputes the
-- safety stock of every guarded SKU, closes automatic breakers whose SKU has stock again
-- (CHANNEL_RESUMED), and hands over the breakers orders opened since the last tick, for
-- the alert. A lease makes one replica do it per period (no double work, no double
-- alert); everything here is idempotent, so a lost lease costs nothing but a period.
--
-- KEYS[1]  the shard's guarded SKUs   rsv:{N}:guards
-- KEYS[2]  the shard's write-back stream rsv:{N}:wb
-- KEYS[3]  the tick lease              rsv:{N}:guardtick
--   (guard, sold, stock and sale keys are built from ARGV[1] and share the hash tag)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  lease ms (0: run even if another replica ran this period)
-- ARGV[5]  days of sales averaged   ARGV[6] factor per mille   ARGV[7] hot factor per mille
-- ARGV[8]  hysteresis per mille     ARGV[9] hysteresis margin (units)
-- Returns  {ran (0: another replica holds the lease), opened {"sku|ch"...} (by orders
--           since the last tick), closed {"sku|ch"...} (here)}

-- Nothing guarded and nothing to alert: write nothing (not even the lease).
if redis.call('SCARD', KEYS[1]) == 0 and redis.call('LLEN', PFX .. 'breakers:new') == 0 then
  return {1, {}, {}}
end
local lease = tonumber(ARGV[4])
if lease > 0 and not redis.call('SET', KEYS[3], '1', 'PX', lease, 'NX') then
  return {0, {}, {}}
end
local now = now_ms()
local days, hyst, margin = tonumber(ARGV[5]), tonumber(ARGV[8]), tonumber(ARGV[9])

local closed = {}
for _, sku in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', guard_key(sku)) == 0 and redis.call('EXISTS', sold_key(sku)) == 0 then
    redis.call('SREM', KEYS[1], sku)
  else
    recompute_safety(sku, now, days, tonumber(ARGV[6]), tonumber(ARGV[7]))
    local g = guard_table(sku)
    local available = nil
    for field, value in pairs(g) do
      local ch = string.match(field, '^open:(.+)$')
      if ch ~= nil and value == '1' and g['force:' .. ch] == nil then
        available = available or available_total(sku)
        local th = channel_threshold(g['th:' .. ch], g.ss_set, g.ss)
        if available >= close_level(th, hyst, margin) then
          set_open(sku, ch, false, now)
          emit_transition(sku, ch, 'CLOSED', now)
          closed[#closed + 1] = sku .. '|' .. ch
        end
      end
    end
  end
end

local opened = redis.call('LRANGE', new_breakers_key(), 0, -1)
redis.call('DEL', new_breakers_key())
return {1, opened, closed}
