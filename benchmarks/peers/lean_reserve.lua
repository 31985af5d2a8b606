-- lean_reserve.lua: the reserve of the two lean peers (lean.py, node/server.js), which
-- the service is measured against in `make bench`. The fewest Redis commands that do the
-- reserve's job on one Redis, many orders per call: idempotent (a repeated order gets its
-- first answer), all lines or none, a flash sale's window and per-buyer limit, warehouses
-- in name order, one write-back event per allocation, an expiry index entry per hold.
-- What it leaves out, and the service does: queues, the oversell breaker, the sale's
-- gate, routing candidates, multi-shard confirm, validation, reservation ids, metrics.
-- It reads and writes the service's own stock, sale and allowance keys
-- (reservation/storage/keys.py), so the harness loads stock and checks counters alike.
--
-- ARGV[1]  hold TTL ms
-- ARGV[2]  number of orders m, then m orders, each ONE tab-joined argument:
--          hold key, expiry index key, buyer, number of lines n,
--          then n x (the SKU's shard prefix "rsv:{N}:", sku, quantity)
-- Returns  one answer per order: "STATE\treason\tfailed sku\tsku|wh|q;..." (STATE
--          RESERVED or REJECTED), the same string for a repeated order.

local ttl = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function fields(packed)
  local out = {}
  for v in string.gmatch(packed .. '\t', '([^\t]*)\t') do out[#out + 1] = v end
  return out
end

local function answer(hold, state, reason, sku, allocs)
  local text = state .. '\t' .. reason .. '\t' .. sku .. '\t' .. allocs
  redis.call('SET', hold, text, 'PX', ttl)
  return text
end

-- The units of a SKU free per warehouse, in name order, from its counters hash.
local function free_units(stock)
  local flat, whs = redis.call('HGETALL', stock), {}
  for i = 1, #flat, 2 do
    local wh, c = string.match(flat[i], '^(.*)|(%a)$')
    if c == 'a' then whs[#whs + 1] = {wh, tonumber(flat[i + 1])} end
  end
  table.sort(whs, function(x, y) return x[1] < y[1] end)
  return whs, #flat > 0
end

local function reserve(f)
  local hold, expiry, buyer, n = f[1], f[2], f[3], tonumber(f[4])
  local seen = redis.call('GET', hold)
  if seen then return seen end
  local lines, sales = {}, {}
  for i = 0, n - 1 do
    local l = {pfx = f[5 + 3 * i], sku = f[6 + 3 * i], qty = tonumber(f[7 + 3 * i])}
    lines[#lines + 1] = l
    local s = redis.call('HMGET', l.pfx .. 'sale:' .. l.sku, 'sale_id', 'starts', 'ends',
      'stopped', 'paused', 'limit')
    if s[1] then
      if s[4] == '1' or s[5] == '1' or now < tonumber(s[2]) or now >= tonumber(s[3]) then
        return answer(hold, 'REJECTED', 'NOT_ON_SALE', l.sku, '')
      end
      sales[#sales + 1] = {l = l, key = l.pfx .. 'buyers:' .. s[1] .. ':' .. l.sku,
        limit = tonumber(s[6] or '0')}
    end
  end
  local allocs, taken = {}, {}
  for _, l in ipairs(lines) do
    local whs, known = free_units(l.pfx .. 'stock:' .. l.sku)
    if not known then return answer(hold, 'REJECTED', 'UNKNOWN_SKU', l.sku, '') end
    local need = l.qty
    for _, w in ipairs(whs) do
      local k = l.sku .. '|' .. w[1]
      local free = w[2] - (taken[k] or 0)
      if need > 0 and free > 0 then
        local q = math.min(need, free)
        taken[k], need = (taken[k] or 0) + q, need - q
        allocs[#allocs + 1] = {l, w[1], q}
      end
    end
    if need > 0 then return answer(hold, 'REJECTED', 'INSUFFICIENT_STOCK', l.sku, '') end
  end
  -- The allowance: counted first, taken back if over (one command when it fits).
  for i, s in ipairs(sales) do
    if s.limit > 0 and buyer ~= '' and
        redis.call('HINCRBY', s.key, buyer, s.l.qty) > s.limit then
      for j = 1, i do redis.call('HINCRBY', sales[j].key, buyer, -sales[j].l.qty) end
      return answer(hold, 'REJECTED', 'BUYER_LIMIT_EXCEEDED', s.l.sku, '')
    end
  end
  local text = {}
  for _, a in ipairs(allocs) do
    local l, wh, q = a[1], a[2], a[3]
    redis.call('HINCRBY', l.pfx .. 'stock:' .. l.sku, wh .. '|a', -q)
    redis.call('HINCRBY', l.pfx .. 'stock:' .. l.sku, wh .. '|h', q)
    redis.call('XADD', l.pfx .. 'wb', '*', 't', 'HELD', 'ref', hold, 'sku', l.sku, 'wh', wh,
      'q', q, 'ts', now)
    text[#text + 1] = l.sku .. '|' .. wh .. '|' .. q
  end
  redis.call('ZADD', expiry, now + ttl, hold)
  return answer(hold, 'RESERVED', '', '', table.concat(text, ';'))
end

local out = {}
for k = 1, tonumber(ARGV[2]) do out[k] = reserve(fields(ARGV[2 + k])) end
return out
