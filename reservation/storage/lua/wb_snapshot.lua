-- wb_snapshot.lua: one consistent view of a shard for reconciliation: the stock counters
-- of some SKUs together with every event the group has not acknowledged yet (pending,
-- undelivered, or dead-lettered). Read only; its cost grows with the unacknowledged
-- events, which is small once the WMS has caught up (when T+1 reconciliation runs).
--
-- KEYS[1]  the shard's write-back stream   KEYS[2] the group's dead-letter stream
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  group   ARGV[5] number of SKUs n, then n x sku
-- Returns  {{HGETALL of each SKU's stock hash}, {{entry id, fields}...} unacknowledged,
--           {{entry id, fields}...} dead letters}

local stream, group = KEYS[1], ARGV[4]
local stocks = {}
for k = 1, tonumber(ARGV[5]) do stocks[k] = redis.call('HGETALL', stock_key(ARGV[5 + k])) end

local info = group_info(stream, group)

local unacked = {}
if info == nil then
  unacked = redis.call('XRANGE', stream, '-', '+')
else
  local last, pel, start = info['last-delivered-id'], {}, nil
  local pending = tonumber(info['pending'])
  if pending > 0 then
    for _, p in ipairs(redis.call('XPENDING', stream, group, '-', '+', pending)) do
      pel[p[1]] = true
      start = start or p[1]  -- XPENDING lists oldest first
    end
  end
  for _, e in ipairs(redis.call('XRANGE', stream, start or ('(' .. last), '+')) do
    if pel[e[1]] or id_before(last, e[1]) then unacked[#unacked + 1] = e end
  end
end
return {stocks, unacked, redis.call('XRANGE', KEYS[2], '-', '+')}
