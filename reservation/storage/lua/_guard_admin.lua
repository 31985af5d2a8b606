-- _guard_admin.lua: safety stock and breaker transitions outside the reserve path,
-- prepended after _guard.lua to guard_tick.lua and guard_set.lua only.
--
--   guards       set   SKUs with a guard hash or sales: what a tick visits
--   sold:<sku>   hash  UTC day number -> units confirmed that day (count_sale in _lib.lua)

local DAY_MS = 86400000
local function guards_key() return PFX .. 'guards' end
local function sold_key(sku) return PFX .. 'sold:' .. sku end

-- ceil(a / b) for non-negative integers a and b > 0, in exact integer steps.
local function ceil_div(a, b) return math.floor((a + b - 1) / b) end

-- The safety stock of a SKU now: units confirmed over the `days` whole UTC days before
-- today, divided by days, times the factor (the hot one while the SKU's flash sale is
-- open or live-stream mode is on). Factors come in per mille so the product is exact.
-- Written into the guard hash with its inputs (avg, factor). Returns it.
local function recompute_safety(sku, now, days, factor_pm, hot_pm)
  local today = math.floor(now / DAY_MS)
  local fields = {}
  for d = today - days, today - 1 do fields[#fields + 1] = string.format('%d', d) end
  local sum = 0
  for _, v in ipairs(redis.call('HMGET', sold_key(sku), unpack(fields))) do
    sum = sum + (tonumber(v) or 0)
  end
  local s = sale_of(sku, now)
  local hot = (s ~= nil and s.open) or redis.call('HGET', guard_key(sku), 'live') == '1'
  local pm = hot and hot_pm or factor_pm
  local ss = ceil_div(sum * pm, days * 1000)
  redis.call('HSET', guard_key(sku), 'ss', string.format('%d', ss),
    'avg', string.format('%.3f', sum / days), 'factor', string.format('%.3f', pm / 1000))
  return ss
end

-- OPEN or CLOSED as orders see it: a forced state wins, else the automatic flag.
local function effective(g, ch)
  local force = g['force:' .. ch]
  if force ~= nil then return force end
  return g['open:' .. ch] == '1' and 'OPEN' or 'CLOSED'
end

-- Available must reach this before an automatic breaker closes again: the threshold
-- plus a band (hysteresis), so a SKU hovering at its threshold does not flap.
local function close_level(threshold, hyst_pm, margin)
  if threshold <= 0 then return 0 end
  return threshold + math.max(margin, ceil_div(threshold * hyst_pm, 1000))
end

local function guard_table(sku)
  local flat = redis.call('HGETALL', guard_key(sku))
  local g = {}
  for i = 1, #flat, 2 do g[flat[i]] = flat[i + 1] end
  return g
end

-- Set a breaker's automatic flag, keeping the breakers index beside it.
local function set_open(sku, ch, open, now)
  if open then
    redis.call('HSET', guard_key(sku), 'open:' .. ch, '1')
    redis.call('ZADD', breakers_key(), now, sku .. '|' .. ch)
  else
    redis.call('HDEL', guard_key(sku), 'open:' .. ch)
    redis.call('ZREM', breakers_key(), sku .. '|' .. ch)
  end
end

-- A transition as a write-back event (adapters delist or relist the SKU on ch).
local function emit_transition(sku, ch, state, now)
  local etype = state == 'OPEN' and 'CHANNEL_PAUSED' or 'CHANNEL_RESUMED'
  emit(etype, {ch = ch}, sku, '', 0, now)
end
