-- guard_set.lua: an operator's change to one SKU's guard: force a channel's breaker
-- OPEN or CLOSED (or clear the force), set or clear a channel's own threshold, the
-- safety-stock override, or live-stream mode. A change of what orders see on a channel
-- is written back as CHANNEL_PAUSED / CHANNEL_RESUMED, like an automatic transition.
-- Forcing also sets the automatic flag to the forced state, so clearing the force later
-- hands the breaker back to the automatic rules from where the operator left it.
--
-- KEYS[1]  the shard's guarded SKUs   rsv:{N}:guards
-- KEYS[2]  the shard's write-back stream rsv:{N}:wb
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  sku   ARGV[5] what: force | threshold | safety | live
-- ARGV[6]  channel (force, threshold; else '')
-- ARGV[7]  value: force OPEN|CLOSED|'' (clear); threshold units|'' (clear);
--          safety units|'' (clear); live 1|0
-- ARGV[8]  days   ARGV[9] factor per mille   ARGV[10] hot factor per mille
-- Returns  {'NOT_FOUND'} for a SKU without stock, else {'OK', transition} with
--          transition OPEN | CLOSED | '' (what orders on the channel see did not change)

local sku, what, ch, value = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', stock_key(sku)) == 0 then return {'NOT_FOUND'} end
local now = now_ms()
local key = guard_key(sku)
redis.call('SADD', KEYS[1], sku)

local before = ch ~= '' and effective(guard_table(sku), ch) or ''
if what == 'force' then
  if value == '' then
    redis.call('HDEL', key, 'force:' .. ch)
  else
    redis.call('HSET', key, 'force:' .. ch, value)
    set_open(sku, ch, value == 'OPEN', now)
  end
elseif what == 'threshold' then
  if value == '' then redis.call('HDEL', key, 'th:' .. ch)
  else redis.call('HSET', key, 'th:' .. ch, value) end
elseif what == 'safety' then
  if value == '' then redis.call('HDEL', key, 'ss_set')
  else redis.call('HSET', key, 'ss_set', value) end
elseif what == 'live' then
  if value == '1' then redis.call('HSET', key, 'live', '1')
  else redis.call('HDEL', key, 'live') end
end
recompute_safety(sku, now, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]))

local transition = ''
if ch ~= '' then
  local after = effective(guard_table(sku), ch)
  if after ~= before then
    transition = after
    emit_transition(sku, ch, after, now)
  end
end
return {'OK', transition}
