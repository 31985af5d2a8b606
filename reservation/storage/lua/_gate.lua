-- _gate.lua: a flash sale's gate, prepended after _guard.lua (before _reserve.lua): who
-- may send new orders for a SKU on sale (StartFlashSale's rate limits, UpdateBlocklist),
-- and how fast. Only for SKUs whose sale is open; checked before anything is allocated,
-- so a refused order holds nothing.
--   blocked                set   "b:<buyer>", "d:<device>", "i:<ip>" (a copy per shard)
--   rate:<sale>:<sku>:<k>:<id>  string the next allowed arrival time (GCRA), ms
-- A sale's limits are its hash's 'rl' field: "b:<n>:<period ms>,d:...,i:..." (k = b
-- buyer, d device, i client address), at most n new orders per period for each SKU.
local function blocked_key() return PFX .. 'blocked' end

local function rate_limits(spec)
  local out = {}
  if spec == nil or spec == '' then return out end
  for k, n, period in string.gmatch(spec, '(%a):(%d+):(%d+)') do
    out[#out + 1] = {k = k, n = tonumber(n), period = tonumber(period)}
  end
  return out
end

-- nil when the order may go; else a rejection {ok = false, reason, sku}. Writes the
-- new arrival times only when every limit of every SKU admits the order. memo: the
-- order's sale reads (see sale_of), shared with the allocation that follows.
local function sale_gate(lines, buyer, device, ip, now, memo)
  local ids = {b = buyer, d = device, i = ip}
  local blocked = nil  -- read once, and only for an order with a SKU on an open sale
  local seen, admit = {}, {}
  for _, l in ipairs(lines) do
    if not seen[l.sku] then
      seen[l.sku] = true
      local s = sale_of(l.sku, now, memo)
      if s ~= nil and s.open then
        if blocked == nil then blocked = redis.call('SCARD', blocked_key()) > 0 end
        if blocked then
          for k, id in pairs(ids) do
            if id ~= '' and redis.call('SISMEMBER', blocked_key(), k .. ':' .. id) == 1 then
              return {ok = false, reason = 'BLOCKED', sku = l.sku}
            end
          end
        end
        for _, lim in ipairs(rate_limits(s.rl)) do
          local id = ids[lim.k]
          if id ~= nil and id ~= '' and lim.n > 0 then
            local key = PFX .. 'rate:' .. s.sale_id .. ':' .. l.sku .. ':' .. lim.k .. ':' .. id
            local tat = math.max(tonumber(redis.call('GET', key) or '0'), now)
            local next_tat = tat + lim.period / lim.n
            if next_tat - now > lim.period then
              return {ok = false, reason = 'RATE_LIMITED', sku = l.sku}
            end
            admit[#admit + 1] = {key, next_tat}
          end
        end
      end
    end
  end
  for _, a in ipairs(admit) do
    redis.call('SET', a[1], string.format('%.3f', a[2]), 'PX', math.ceil(a[2] - now) + 1)
  end
  return nil
end
