-- _reserve.lua: one order's reserve step, prepended after _queue.lua to every script.
-- reserve.lua (one order) and reserve_many.lua (many orders of one shard in one call)
-- both run this one function, so an order means the same whichever way it arrives.

-- Reserve the order whose fields start at a[i] (a is ARGV, or one order unpacked by
-- reserve_many), all its lines or none; queue it when asked and units may come back.
-- Idempotent: a record of the order already here answers the same again and holds
-- nothing more.
-- a[i]   order ref "<channel>:<order_id>"
-- a[i+1] reservation id   a[i+2] channel   a[i+3] order id   a[i+4] buyer id
-- a[i+5] spec: canonical lines of this part "sku|qty|warehouse;..."
-- a[i+6] requested hold TTL ms (0: the sale's, else the default)
-- a[i+7] allow_queue (0/1)   a[i+8] queue bound per SKU
-- a[i+9] default queue deadline ms
-- a[i+10] number of lines n, then n x (sku, quantity, candidate warehouses "w1,w2"|"")
-- a[i+11+3n] load day "yyyymmdd" of a routed order ("" : not routed): the order then
--          counts once towards each warehouse it holds units at that day (load:<day>)
-- a[i+12+3n] device id, a[i+13+3n] client address ("" or absent: not told), for the
--          gate of a SKU's open flash sale (_gate.lua: rate limits, blocklist)
-- A REJECTED order carries its reason, CHANNEL_PAUSED included (see _guard.lua).
-- Returns reply() with code OK | CONFLICT (same order, other spec), and the index of
-- the first field past this order's.
-- Today's routed orders per warehouse move with the hold, in the same script, so the
-- load a router reads never counts an order that holds nothing (or misses one that does).
local function count_load(day, allocs)
  if day == nil or day == '' then return end
  local key, seen = PFX .. 'load:' .. day, {}
  for _, al in ipairs(allocs) do
    if not seen[al[2]] then
      seen[al[2]] = true
      redis.call('HINCRBY', key, al[2], 1)
    end
  end
  redis.call('PEXPIRE', key, 2 * 86400000)
end

-- A record of another request under the same key (another reservation id) that holds
-- nothing and never will: its order was REJECTED (or released, or expired) and its
-- identity replaced by a corrected request (Reservations.reserve), or expired. The new
-- request reserves as if the record were not there, and overwrites it.
local SUPERSEDED = {[ST.REJECTED] = true, [ST.RELEASED] = true, [ST.EXPIRED] = true}

local function reserve_at(a, i)
  local ref, n = a[i], tonumber(a[i + 10])
  local after = i + 14 + 3 * n
  local existing = load_hold(ref)
  if existing ~= nil and existing.rid ~= a[i + 1] and SUPERSEDED[existing.st] then
    existing = nil
  end
  if existing ~= nil then
    if existing.spec ~= a[i + 5] then return {'CONFLICT'}, after end
    return reply('OK', existing, queue_position(existing)), after
  end

  local now = now_ms()
  local lines = parse_lines(a, i + 11, n)
  local cands = {}
  for _, l in ipairs(lines) do cands[#cands + 1] = l.cands end
  local h = {rid = a[i + 1], ch = a[i + 2], oid = a[i + 3], buyer = a[i + 4],
    spec = a[i + 5], cands = table.concat(cands, ';')}
  local requested_ttl = tonumber(a[i + 6])

  -- A sale's gate first (_gate.lua): a blocked or too eager sender holds nothing.
  local sales = {}  -- each SKU's sale read once for the gate and the allocation
  local decision = sale_gate(lines, h.buyer, a[i + 12 + 3 * n] or '', a[i + 13 + 3 * n] or '',
    now, sales)
  if decision == nil then
    decision = try_allocate(lines, h.buyer, now, sales)
    -- The oversell circuit breaker (_guard.lua): a channel paused for a SKU, or an order
    -- that would take a SKU below the channel's threshold, is refused (and not queued).
    local guard = breaker_read(h.ch, lines)
    local paused = breaker_paused(guard) or (decision.ok and breaker_trip(h, guard, decision, now))
    if paused then decision = {ok = false, reason = 'CHANNEL_PAUSED', sku = paused} end
  end
  if decision.ok then
    local ttl = requested_ttl
    if decision.ttl ~= nil and (ttl == 0 or decision.ttl < ttl) then ttl = decision.ttl end
    if ttl == 0 then ttl = CFG.default_ttl end
    h.ttl = tostring(ttl)
    apply_hold(ref, h, decision, ttl, CFG.retention, now)
    count_load(a[i + 11 + 3 * n], decision.allocs)
    return reply('OK', h, 0), after
  end

  if decision.reason == 'INSUFFICIENT_STOCK' and a[i + 7] == '1' then
    local pos = enqueue(ref, h, lines, requested_ttl, tonumber(a[i + 8]),
      tonumber(a[i + 9]), CFG.retention, now)
    if pos ~= nil then return reply('OK', h, pos), after end
    decision.reason = 'QUEUE_FULL'
  end

  -- A rejected order keeps only what answers a retry the same (its identity and spec),
  -- for the short rejected retention: a burst of rejects must not fill Redis.
  h.st, h.rsn, h.fsku, h.cands = ST.REJECTED, decision.reason, decision.sku, ''
  save_hold(ref, h, CFG.rejected)
  return reply('OK', h, 0), after
end

-- The usual single-shard order in one call: claim its identity at its home key, then
-- reserve it (claim_reserve.lua, claim_reserve_many.lua). `home` is the order's home
-- key: in this shard's slot on Redis Cluster (the client only sends it here then), any
-- key on one Redis. a[i..] are reserve_at's fields; the identity is built from them
-- ("<reservation id>\t<buyer>\t<spec>", as Identity.encode in domain/orders.py).
-- An identity already there is answered {'CLAIMED', identity} with nothing else done:
-- the client checks it and reserves the classic way (a retry, or another request under
-- the same key). A REJECTED order's identity is kept only as long as its rejected
-- record (what shorten.lua does for the two-call path).
local function claim_reserve_at(home, identity_ttl, a, i)
  local identity = a[i + 1] .. '\t' .. a[i + 4] .. '\t' .. a[i + 5]
  local existing = set_nx_get(home, identity, identity_ttl)
  if existing then return {'CLAIMED', existing} end
  local r = reserve_at(a, i)
  if r[2] == ST.REJECTED then pexpire_lt(home, CFG.rejected) end
  return r
end
