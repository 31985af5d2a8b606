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
  set_state(h, ST.REJECTED)
  h.rsn, h.fsku, h.cands = decision.reason, decision.sku, ''
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

-- Release one order's part in this shard (release.lua; place_at compensating a part).
-- A RESERVED hold returns its units (queue heads served first), locked or not (a locked
-- part is released only after its order's home record decided ABORTED); a QUEUED or
-- DEAD_LETTERED order leaves its queue. Idempotent. `tomb`: '' or, for a part of an
-- aborted multi-shard order, the part's spec: a part that holds nothing yet then gets a
-- RELEASED record (reservation id `rid`, buyer `buyer`), so a reserve of that part
-- arriving later (a slow or retried copy) holds nothing.
-- Returns reply(): OK (now RELEASED, or already finished without units) | NOT_FOUND |
-- PRECONDITION (CONFIRMED: sold units are not released here).
local function release_at(ref, tomb, rid, buyer)
  local h = load_hold(ref)
  if h == nil then
    if tomb == '' then return {'NOT_FOUND'} end
    local ch, oid = string.match(ref, '^([^:]*):(.*)$')
    h = {rid = rid, ch = ch, oid = oid, buyer = buyer, spec = tomb}
    set_state(h, ST.RELEASED)
    save_hold(ref, h, CFG.retention)
    return reply('OK', h, 0)
  end
  if h.st == ST.CONFIRMED then return reply('PRECONDITION', h, 0) end
  local now = now_ms()
  if h.st == ST.RESERVED then
    set_state(h, ST.RELEASED)
    return_hold(h, 'RELEASED', now)
    redis.call('ZREM', expiry_key(), ref)
    redis.call('ZREM', locks_key(), ref)
    h.lk = ''
    save_hold(ref, h, CFG.retention)
    local skus = {}
    for _, al in ipairs(allocations(h)) do skus[#skus + 1] = al[1] end
    serve_queues(skus, CFG, now)
  elseif h.st == ST.QUEUED or h.st == ST.DEAD_LETTERED then
    set_state(h, ST.RELEASED)
    leave_queues(ref, h)
    redis.call('ZREM', dead_key(), ref)
    save_hold(ref, h, CFG.retention)
  end
  return reply('OK', h, 0)
end

-- A multi-shard order placed whole in one call, on one Redis (place_many.lua): the saga
-- of reserving/multi.py, run inside one atomic script. Its intent is recorded at the
-- home key (phase PLACING, as intent.lua), its parts reserved in shard order (never
-- queued) stopping at a refusal, then decided at home as phase.lua would: HELD when every
-- part holds, else ABORTED with every part released or tombstoned (as multi.py's
-- compensation) and no pending entry left (its `done`). So the records are the saga's,
-- and Confirm, Release and reads go on as for any multi-shard order; but no one ever
-- sees the order half-placed, and no recovery is ever needed for placing it.
-- a[i] the order's home key, a[i+1] its whole spec (Identity.spec), a[i+2] number of
-- parts m, then m parts, each its shard prefix followed by reserve_at's fields.
-- An identity already at home is answered {'CLAIMED', identity} with nothing done (the
-- client goes the saga's way: a retry, or another request under the key).
-- Returns {'PLACED', phase, reply of part 1, ...}: the parts reached, each as released
-- when ABORTED; or a part's CONFLICT (another request's record in a shard), left PLACING
-- for the recovery sweep exactly as the saga leaves it.
-- The parts of a packed order: each its shard prefix and where its reserve fields start.
local function place_parts(a, j, m)
  local parts = {}
  for p = 1, m do
    parts[p] = {pfx = a[j], at = j + 1}
    j = j + 15 + 3 * tonumber(a[j + 11])  -- prefix + reserve_at's 14 + 3n fields
  end
  return parts
end

local function place_at(identity_ttl, lease_ms, a, i)
  local home, spec, m = a[i], a[i + 1], tonumber(a[i + 2])
  local parts = place_parts(a, i + 3, m)
  local first = parts[1].at  -- ref, rid, channel, order id, buyer: the same in every part
  local ref, rid, buyer = a[first], a[first + 1], a[first + 4]
  local record = rid .. '\t' .. buyer .. '\t' .. spec .. '\t'
  local existing = set_nx_get(home, record .. 'PLACING\t0\t0', identity_ttl)
  if existing then return {'CLAIMED', existing} end

  local out, refused = {'PLACED', 'HELD'}, false
  for p = 1, m do
    PFX = parts[p].pfx
    local r = reserve_at(a, parts[p].at)
    if r[1] == 'CONFLICT' then
      -- Another request's record in this shard: left PLACING, due for the recovery
      -- sweep at the end of its lease, as the saga leaves it (intent.lua's entry).
      PFX = string.sub(home, 1, string.find(home, '}:', 1, true) + 1)
      redis.call('ZADD', PFX .. 'pending', now_ms() + lease_ms, ref)
      return {'CONFLICT'}
    end
    out[2 + p] = r
    if not PROCEEDING[r[2]] then refused = true; break end  -- as the saga decides
  end
  if refused then
    out = {'PLACED', 'ABORTED'}
    for p = 1, m do
      PFX = parts[p].pfx
      out[2 + p] = release_at(ref, a[parts[p].at + 5], rid, buyer)
    end
  end
  redis.call('SET', home, record .. out[2] .. '\t0\t0', 'KEEPTTL')
  return out
end
