-- _guard.lua: the oversell circuit breaker's check, prepended before _reserve.lua to
-- every script (reserve_at calls it). The breaker's admin side (safety stock, closing,
-- forcing) lives in _guard_admin.lua, prepended to the guard_* scripts only.
--
-- Per SKU, in the SKU's shard:
--   guard:<sku>  hash  ss (computed safety stock), ss_set (operator override), live (1:
--                      live-stream mode), avg, factor (inputs of ss), th:<ch> (the
--                      channel's own threshold), force:<ch> (OPEN|CLOSED), open:<ch> (1)
--   breakers     zset  "<sku>|<ch>" -> when it opened (ms), one entry per OPEN breaker
--   breakers:new list  "<sku>|<ch>" opened by orders, not yet alerted (guard_tick.lua)

local function guard_key(sku) return PFX .. 'guard:' .. sku end
local function breakers_key() return PFX .. 'breakers' end
local function new_breakers_key() return PFX .. 'breakers:new' end

-- Units of the SKU available in all its warehouses.
local function available_total(sku)
  local n = 0
  for _, wh in ipairs(redis.call('ZRANGE', whs_key(sku), 0, -1)) do
    n = n + counter(sku, wh, 'a')
  end
  return n
end

-- The threshold a channel sells down to: its own, else the override, else the computed
-- safety stock; 0 means no breaker.
local function channel_threshold(th, ss_set, ss)
  return tonumber(th or ss_set or ss or '0')
end

-- What the breakers of channel ch say about lines (before any stock is decided): a
-- table per SKU {paused=bool, threshold=n, forced_closed=bool}, nil for unguarded SKUs.
local function breaker_read(ch, lines)
  local out = {}
  for _, l in ipairs(lines) do
    if out[l.sku] == nil then
      local g = redis.call('HMGET', guard_key(l.sku), 'th:' .. ch, 'ss_set', 'ss',
        'force:' .. ch, 'open:' .. ch)
      local force = g[4] or nil
      out[l.sku] = {
        paused = force == 'OPEN' or (force ~= 'CLOSED' and g[5] == '1'),
        forced_closed = force == 'CLOSED',
        threshold = channel_threshold(g[1] or nil, g[2] or nil, g[3] or nil)}
    end
  end
  return out
end

-- The first SKU whose breaker is OPEN for this channel, or nil.
local function breaker_paused(reads)
  for sku, b in pairs(reads) do
    if b.paused then return sku end
  end
  return nil
end

-- After the stock decision: the first SKU this order would take below the channel's
-- threshold. That SKU's breaker opens here (atomically with the refusal) and a
-- CHANNEL_PAUSED event tells the adapters to delist it. nil when the order may go.
local function breaker_trip(h, reads, decision, now)
  local per_sku = {}
  for _, a in ipairs(decision.allocs) do per_sku[a[1]] = (per_sku[a[1]] or 0) + a[3] end
  for sku, qty in pairs(per_sku) do
    local b = reads[sku]
    if not b.forced_closed and b.threshold > 0 and available_total(sku) - qty < b.threshold then
      redis.call('HSET', guard_key(sku), 'open:' .. h.ch, '1')
      redis.call('ZADD', breakers_key(), now, sku .. '|' .. h.ch)
      redis.call('RPUSH', new_breakers_key(), sku .. '|' .. h.ch)
      emit('CHANNEL_PAUSED', h, sku, '', 0, now)
      return sku
    end
  end
  return nil
end
