-- _lib.lua: helpers prepended to every script by reservation/scripts.py.
-- Not a script by itself. Every key a helper builds shares the caller's hash tag
-- (ARGV[1] is always the shard's key prefix "rsv:{N}:"), so on Redis Cluster all of
-- them live in the slot of KEYS[1].

-- Every script shares the head of its ARGV:
-- ARGV[1] key prefix of the shard "rsv:{N}:", ARGV[2] default hold TTL ms,
-- ARGV[3] retention ms of finished records, "<ms>:<ms>:<n>:<n>": the (shorter) retention
-- of rejected orders after the first colon (absent: the same), then the most entries a
-- shard's write-back and order event streams keep (absent: uncapped; see capped_xadd).
-- Script-specific arguments follow.
-- They are read by begin(), which runs first on every call (scripts.py puts it before
-- each script's body): as a Redis Function the library's locals outlive a call, so
-- nothing of one call may reach the next.
local PFX, CFG, NOW

-- Redis time in milliseconds: one clock for every replica of the service. Read once per
-- script run (NOW, reset by begin): the script is atomic, and a bulk script
-- (reserve_many) would otherwise pay a TIME call per order.
local function begin()
  PFX = ARGV[1]
  CFG = {default_ttl = tonumber(ARGV[2])}
  local f = {}
  for x in string.gmatch(ARGV[3] .. ':', '(%d*):') do f[#f + 1] = tonumber(x) end
  CFG.retention = f[1]
  CFG.rejected = f[2] or CFG.retention
  CFG.wb_max, CFG.olog_max = f[3] or 0, f[4] or 0
  NOW = nil
end

-- Where the cap last cut a stream: the newest entry it trimmed ('0-0': never). Redis's
-- own max-deleted-entry-id counts XDEL only, not trimming, so the cut is kept here, one
-- small string per stream (no TTL: a broken group stays broken until it is repaired).
local function cut_key(stream) return stream .. ':cut' end

-- Append to one of the shard's streams (the write-back stream `wb` or the order event
-- stream `olog`), capped at its setting: once it holds more than max + slack entries,
-- the oldest beyond max go (XTRIM MINID, the slack making it one range read per slack
-- appends) and the cut moves to the newest of them. A group that had not acknowledged
-- them is then broken (_wb.lua group_broken), not silently short. max 0: uncapped.
local function capped_xadd(stream, ...)
  local id = redis.call('XADD', stream, '*', ...)
  local max = CFG.wb_max
  if string.sub(stream, -4) == 'olog' then max = CFG.olog_max end
  if max <= 0 then return id end
  local len = redis.call('XLEN', stream)
  if len <= max + math.min(1000, math.max(1, math.floor(max / 100))) then return id end
  local rows = redis.call('XRANGE', stream, '-', '+', 'COUNT', len - max + 1)
  redis.call('XTRIM', stream, 'MINID', rows[#rows][1])
  redis.call('SET', cut_key(stream), rows[#rows - 1][1])
  return id
end

local function now_ms()
  if NOW == nil then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW
end

local function split(s, sep)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  for piece in string.gmatch(s, '([^' .. sep .. ']+)') do out[#out + 1] = piece end
  return out
end

-- Split a tab-separated string, keeping empty fields.
local function unpack_fields(packed)
  local out = {}
  for value in string.gmatch(packed .. '\t', '([^\t]*)\t') do out[#out + 1] = value end
  return out
end

local function stock_key(sku) return PFX .. 'stock:' .. sku end
local function whs_key(sku) return PFX .. 'whs:' .. sku end
local function sale_key(sku) return PFX .. 'sale:' .. sku end
local function buyers_key(sale_id, sku) return PFX .. 'buyers:' .. sale_id .. ':' .. sku end
local function hold_key(order_ref) return PFX .. 'hold:' .. order_ref end
local function expiry_key() return PFX .. 'expiry' end
local function queue_key(sku) return PFX .. 'queue:' .. sku end
local function queue_deadline_key() return PFX .. 'qdeadline' end
local function dead_key() return PFX .. 'dead' end
local function wb_key() return PFX .. 'wb' end
-- Parts of multi-shard orders locked by a confirm, by when their lock lease ends.
local function locks_key() return PFX .. 'locks' end

-- Stock counters: one hash per SKU, fields "<warehouse>|<counter>".
-- a = available, h = held, c = confirmed, r = returned, l = loaded.
local function counter(sku, wh, c)
  return tonumber(redis.call('HGET', stock_key(sku), wh .. '|' .. c) or '0')
end

local function bump(sku, wh, c, delta)
  if delta ~= 0 then redis.call('HINCRBY', stock_key(sku), wh .. '|' .. c, delta) end
end

-- Warehouses of a SKU in stable priority order (score, then id).
local function warehouses(sku)
  return redis.call('ZRANGE', whs_key(sku), 0, -1)
end

-- Total units of the SKU held anywhere: units that may still come back. whs: the SKU's
-- warehouses when the caller has read them already.
local function total_held(sku, whs)
  local n = 0
  for _, wh in ipairs(whs or warehouses(sku)) do n = n + counter(sku, wh, 'h') end
  return n
end

-- Units confirmed per SKU and UTC day, the input of the safety stock (_guard_admin.lua):
-- counted where CONFIRMED is written (RESTOCKED, a refund before shipping, takes them
-- back), so each sale once, atomically with it. The hash
-- lives 92 days past the last sale (RESERVATION_SAFETY_DAYS is at most 90).
local function count_sale(sku, qty, now)
  local key = PFX .. 'sold:' .. sku
  redis.call('HINCRBY', key, string.format('%d', math.floor(now / 86400000)), qty)
  redis.call('PEXPIRE', key, 92 * 86400000)
  redis.call('SADD', PFX .. 'guards', sku)
end

-- Append one change to the shard's write-back stream (the transactional outbox).
local function emit(etype, h, sku, wh, qty, now)
  capped_xadd(wb_key(), 't', etype, 'ch', h.ch or '', 'oid', h.oid or '',
    'rid', h.rid or '', 'sku', sku, 'wh', wh or '', 'q', tostring(qty), 'ts', tostring(now))
  if etype == 'CONFIRMED' then count_sale(sku, qty, now)
  elseif etype == 'RESTOCKED' then count_sale(sku, -qty, now) end  -- refunded: not sold
end

-- Sale status of a SKU at time now: nil when no sale governs it, else the sale hash
-- as a table plus .open (window open, not stopped, not paused) and .held (paused by an
-- operator, neither stopped nor over: orders are told SALE_PAUSED, queues wait).
-- memo (optional): a table for one order's reads, so the gate and the allocation read a
-- SKU's sale once (nothing between them writes a sale); false in it means "no sale".
local function sale_of(sku, now, memo)
  local known = memo and memo[sku]
  if known ~= nil then return known or nil end
  local flat = redis.call('HGETALL', sale_key(sku))
  local s = nil
  if #flat > 0 then
    s = {}
    for i = 1, #flat, 2 do s[flat[i]] = flat[i + 1] end
    s.held = s.paused == '1' and s.stopped ~= '1' and now < tonumber(s.ends)
    s.open = not s.held and s.stopped ~= '1' and now >= tonumber(s.starts)
      and now < tonumber(s.ends)
  end
  if memo then memo[sku] = s or false end
  return s
end

-- A hold record (one order's part in this shard): one string of tab-separated fields in
-- this order. One GET/SET instead of a 16-field hash saves most of a reserve's Redis time.
-- No field can hold a tab: ids are validated (printable, or a narrower alphabet).
-- lk: the confirm attempt that locked this part of a multi-shard order ('' = unlocked;
-- see lock.lua). A locked part is out of the expiry index: it waits for its order's
-- decision (confirm it or release it), never expiring on its own.
local HOLD_FIELDS = {'rid', 'ch', 'oid', 'buyer', 'st', 'spec', 'al', 'exp', 'rsn', 'fsku',
  'sales', 'ttl', 'qat', 'qdl', 'cands', 'lk'}
local HOLD_DEFAULTS = {exp = '0', ttl = '0', qat = '0', qdl = '0'}

local function load_hold(ref)
  local packed = redis.call('GET', hold_key(ref))
  if not packed then return nil end
  local h = {}
  for k, value in ipairs(unpack_fields(packed)) do h[HOLD_FIELDS[k]] = value end
  return h
end

-- ttl_ms nil keeps the record's current TTL.
local function save_hold(ref, h, ttl_ms)
  local values = {}
  for i, name in ipairs(HOLD_FIELDS) do
    values[i] = h[name] or HOLD_DEFAULTS[name] or ''
  end
  if ttl_ms == nil then
    redis.call('SET', hold_key(ref), table.concat(values, '\t'), 'KEEPTTL')
  else
    redis.call('SET', hold_key(ref), table.concat(values, '\t'), 'PX', ttl_ms)
  end
end

-- The reply every order script gives: code, then the hold's view.
-- Every change of a record's state goes through here. MOVES (generated into the prelude
-- from domain/states.py) holds the only moves allowed; any other is a bug, stopped
-- before the record is written (callers set the state before their writes, as Redis
-- keeps what a script wrote before an error).
local function set_state(h, to)
  local allowed = MOVES[h.st or '']
  if allowed == nil or not allowed[to] then
    error('reservation state: no move from ' .. (h.st or 'none') .. ' to ' .. tostring(to))
  end
  h.st = to
end

local function reply(code, h, qpos)
  if h == nil then return {code} end
  return {code, h.st, h.rsn or '', h.fsku or '', h.exp or '0', h.al or '', h.rid,
    h.buyer, tostring(qpos or 0), h.spec, h.lk or ''}
end

-- Parsed allocations: list of {sku, wh, qty}.
local function allocations(h)
  local out = {}
  for _, a in ipairs(split(h.al, ';')) do
    local f = split(a, '|')
    out[#out + 1] = {f[1], f[2], tonumber(f[3])}
  end
  return out
end

-- Sale id per SKU recorded at hold time, for giving a buyer's allowance back.
local function hold_sales(h)
  local out = {}
  for _, p in ipairs(split(h.sales, ';')) do
    local f = split(p, '|')
    out[f[1]] = f[2]
  end
  return out
end

-- Units of a hold come back (release, expiry): held -> available, or -> returned when
-- the SKU's sale was stopped (a stopped sale sells nothing more).
local function give_back(h, sku, wh, qty, etype, now)
  bump(sku, wh, 'h', -qty)
  bump(sku, wh, 'a', qty)
  emit(etype, h, sku, wh, qty, now)
  local s = sale_of(sku, now)
  if s ~= nil and s.stopped == '1' then
    bump(sku, wh, 'a', -qty)
    bump(sku, wh, 'r', qty)
    emit('RETURNED', h, sku, wh, qty, now)
  end
end

-- Return every unit of a RESERVED hold and give the buyer's allowance back.
local function return_hold(h, etype, now)
  local sales = hold_sales(h)
  for _, a in ipairs(allocations(h)) do
    give_back(h, a[1], a[2], a[3], etype, now)
    local sale_id = sales[a[1]]
    if sale_id ~= nil and h.buyer ~= '' then
      redis.call('HINCRBY', buyers_key(sale_id, a[1]), h.buyer, -a[3])
    end
  end
end

-- Parse order lines from array a (ARGV, or an unpacked order) starting at index i:
-- n x (sku, qty, candidates). candidates: "" (the SKU's warehouses in priority order)
-- or "w1,w2,...".
local function parse_lines(a, i, n)
  local lines = {}
  for k = 0, n - 1 do
    lines[#lines + 1] = {sku = a[i + 3 * k], qty = tonumber(a[i + 3 * k + 1]),
      cands = a[i + 3 * k + 2]}
  end
  return lines
end


-- Decide, without writing, whether the lines can all be held now (memo: see sale_of).
-- Returns {ok=true, allocs={{sku,wh,qty}...}, sales={sku=sale_id}, ttl=min sale ttl}
-- or {ok=false, reason=..., sku=...}. Checks run in the order the API documents:
-- sale window, known SKU/warehouse, buyer limit, then stock.
local function try_allocate(lines, buyer, now, memo)
  local per_sku, sales, sale_ttl, wh_of = {}, {}, nil, {}
  for _, l in ipairs(lines) do
    per_sku[l.sku] = (per_sku[l.sku] or 0) + l.qty
    local s = sale_of(l.sku, now, memo)
    if s ~= nil then
      if s.held then return {ok = false, reason = 'SALE_PAUSED', sku = l.sku} end
      if not s.open then return {ok = false, reason = 'NOT_ON_SALE', sku = l.sku} end
      sales[l.sku] = s
      local t = tonumber(s.ttl)
      if t > 0 and (sale_ttl == nil or t < sale_ttl) then sale_ttl = t end
    end
    -- A SKU is known when it has warehouses: load_stock and start_sale create its
    -- warehouse set with its counters, and nothing deletes either. Read once per SKU,
    -- it serves the candidates' check and the allocation below.
    local whs = wh_of[l.sku] or warehouses(l.sku)
    if #whs == 0 then return {ok = false, reason = 'UNKNOWN_SKU', sku = l.sku} end
    wh_of[l.sku] = whs
    if l.cands ~= '' then
      local known = {}
      for _, wh in ipairs(whs) do known[wh] = true end
      for _, wh in ipairs(split(l.cands, ',')) do
        if not known[wh] then return {ok = false, reason = 'UNKNOWN_SKU', sku = l.sku} end
      end
    end
  end
  for sku, s in pairs(sales) do
    local limit = tonumber(s.limit)
    if limit > 0 and buyer ~= '' then
      local had = tonumber(redis.call('HGET', buyers_key(s.sale_id, sku), buyer) or '0')
      if had + per_sku[sku] > limit then
        return {ok = false, reason = 'BUYER_LIMIT_EXCEEDED', sku = sku}
      end
    end
  end
  local taken, allocs = {}, {}
  for _, l in ipairs(lines) do
    local cands = l.cands ~= '' and split(l.cands, ',') or wh_of[l.sku]
    local need = l.qty
    for _, wh in ipairs(cands) do
      if need == 0 then break end
      local key = l.sku .. '|' .. wh
      local free = counter(l.sku, wh, 'a') - (taken[key] or 0)
      if free > 0 then
        local q = math.min(free, need)
        taken[key] = (taken[key] or 0) + q
        allocs[#allocs + 1] = {l.sku, wh, q}
        need = need - q
      end
    end
    if need > 0 then
      local why = total_held(l.sku, wh_of[l.sku]) > 0 and 'INSUFFICIENT_STOCK' or 'SOLD_OUT'
      return {ok = false, reason = why, sku = l.sku}
    end
  end
  local sale_ids, ends = {}, {}
  for sku, s in pairs(sales) do sale_ids[sku], ends[sku] = s.sale_id, tonumber(s.ends) end
  return {ok = true, allocs = allocs, sales = sale_ids, ends = ends, ttl = sale_ttl}
end

-- Write a decided allocation: counters, buyer allowance, HELD events, expiry entry.
local function apply_hold(ref, h, decision, ttl_ms, retention_ms, now)
  set_state(h, ST.RESERVED)
  local al, sl = {}, {}
  for _, a in ipairs(decision.allocs) do
    bump(a[1], a[2], 'a', -a[3])
    bump(a[1], a[2], 'h', a[3])
    al[#al + 1] = a[1] .. '|' .. a[2] .. '|' .. a[3]
  end
  for sku, sale_id in pairs(decision.sales) do
    sl[#sl + 1] = sku .. '|' .. sale_id
  end
  h.al, h.sales, h.rsn, h.fsku = table.concat(al, ';'), table.concat(sl, ';'), '', ''
  h.exp = tostring(now + ttl_ms)
  for _, a in ipairs(decision.allocs) do emit('HELD', h, a[1], a[2], a[3], now) end
  for _, l in ipairs(split(h.spec, ';')) do
    local f = split(l, '|')
    local sale_id = decision.sales[f[1]]
    if sale_id ~= nil and h.buyer ~= '' then
      redis.call('HINCRBY', buyers_key(sale_id, f[1]), h.buyer, tonumber(f[2]))
      -- The allowance outlives the sale by the retention period, then goes.
      redis.call('PEXPIREAT', buyers_key(sale_id, f[1]), decision.ends[f[1]] + retention_ms)
    end
  end
  redis.call('ZADD', expiry_key(), tonumber(h.exp), ref)
  save_hold(ref, h, ttl_ms + retention_ms)
end
