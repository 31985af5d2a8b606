-- _order.lua: one order change with its stock effect, prepended (after _reserve.lua) to
-- order_apply.lua and order_apply_many.lua, so one order means the same either way.
--
-- An order op is one argument: a header of tab-separated fields (no field holds a tab
-- or a newline: ids are validated), a newline, then the payloads (order documents,
-- event JSON, WMS details) one after another; the header gives each payload's length
-- in bytes where it names a payload below ("<doc>"), so the script cuts them out rather
-- than scanning kilobytes of JSON for tabs. Header fields in this order:
--  1 mode: 'order' (check the version, write record, history, events and the hold of
--    this shard) | 'part' (only the hold of this shard: a multi-shard order's other part)
--  2 order ref "<channel>:<shop>/<order_id>" (record rsv:{N}:ord:<ref>, history
--    rsv:{N}:ohist:<ref>, index rsv:{N}:oidx, event stream rsv:{N}:olog)
--  3 expected version ('0': the order must not exist yet)   4 new version
--  5 index score (created ms; '' : unchanged, the index is not written)   6 record TTL ms
--  7 hold want: '' | held | confirmed | released | restock:<restock id> (the lines are
--    the units that came back: confirmed -> available at the warehouses the hold took
--    them from, once per restock id, recorded in rsv:{N}:rst:<hold ref>)
--  8 hold ref (rsv:{N}:hold:<ref>)
--  9 reservation id  10 channel  11 reservation order id "<shop>/<order_id>"
--  12 buyer  13 spec "sku|qty|wh;..."  14 hold TTL ms  15 n lines, then n x (sku, qty,
--     candidate warehouses "w1,w2"|"")
--  then the primary outcome: <doc>, m entries, m x (group, to history 0/1, <event JSON>)
--  then the fallback (written when the stock is refused): <doc> (0 bytes: none), m
--    entries... (the hub passes none: after REFUSED it writes its review itself, see
--    hub._fallback)
--  then w write-back events for the WMS, w x (type, warehouse, <detail JSON>)
--  then the load day "yyyymmdd" of a routed order ('' : not routed): a hold this op
--    makes counts once towards each warehouse it holds at (count_load, _reserve.lua)
-- Returns {code, current version, hold state, allocations, reason, failed sku, act}:
--  OK (primary written) | FALLBACK (stock refused, fallback written) | REFUSED (stock
--  refused, no fallback: nothing written) | CONFLICT (version differs: nothing written) |
--  DEAD (the hold at that ref expired or ended: nothing written; retry with a new ref).
-- Checks everything before the first write.

local function ord_key(ref) return PFX .. 'ord:' .. ref end
local function ohist_key(ref) return PFX .. 'ohist:' .. ref end
local function oidx_key() return PFX .. 'oidx' end
local function olog_key() return PFX .. 'olog' end

local function rst_key(ref) return PFX .. 'rst:' .. ref end

-- Units of a confirmed hold that came back, decided without writing: per line, taken
-- from the hold's allocations of that SKU in order. 'refused' when the hold does not
-- have them (NOT_SHIPPED sku).
local function plan_restock(id, ref, a)
  local h = load_hold(ref)
  if redis.call('HEXISTS', rst_key(ref), id) == 1 then return {act = 'none', h = h} end
  local lines = parse_lines(a, 16, tonumber(a[15]))
  if h == nil or h.st ~= ST.CONFIRMED then
    return {act = 'refused', reason = 'NOT_SHIPPED', sku = lines[1].sku}
  end
  local als, moves = allocations(h), {}
  for _, l in ipairs(lines) do
    local need = l.qty
    for _, al in ipairs(als) do
      if need > 0 and al[1] == l.sku and al[3] > 0 then
        local q = math.min(need, al[3])
        al[3], need = al[3] - q, need - q
        moves[#moves + 1] = {al[1], al[2], q}
      end
    end
    if need > 0 then return {act = 'refused', reason = 'NOT_SHIPPED', sku = l.sku} end
  end
  return {act = 'restock_units', h = h, id = id, moves = moves, left = als}
end

-- What the hold needs, decided without writing.
local function plan_hold(want, ref, a, now)
  if want == '' then return {act = 'none'} end
  if string.sub(want, 1, 8) == 'restock:' then return plan_restock(string.sub(want, 9), ref, a) end
  local h = load_hold(ref)
  if want == 'released' then
    if h == nil then return {act = 'none'} end
    if h.st == ST.RESERVED then return {act = 'release', h = h} end
    if h.st == ST.CONFIRMED then return {act = 'restock', h = h} end
    if h.st == ST.QUEUED or h.st == ST.DEAD_LETTERED then return {act = 'unqueue', h = h} end
    return {act = 'none', h = h}
  end
  if h ~= nil then
    if h.st == ST.CONFIRMED then return {act = 'none', h = h} end
    if h.st == ST.RESERVED and now <= tonumber(h.exp) then
      if want == 'confirmed' then return {act = 'confirm', h = h} end
      return {act = 'none', h = h}
    end
    return {act = 'dead', h = h}
  end
  local lines = parse_lines(a, 16, tonumber(a[15]))
  local decision = try_allocate(lines, a[12], now)
  if not decision.ok then return {act = 'refused', reason = decision.reason, sku = decision.sku} end
  return {act = 'reserve', decision = decision, confirm = want == 'confirmed', lines = lines}
end

local function skus_of(h)
  local skus = {}
  for _, al in ipairs(allocations(h)) do skus[#skus + 1] = al[1] end
  return skus
end

local function confirm_hold(ref, h, now)
  set_state(h, ST.CONFIRMED)
  for _, al in ipairs(allocations(h)) do
    bump(al[1], al[2], 'h', -al[3])
    bump(al[1], al[2], 'c', al[3])
    emit('CONFIRMED', h, al[1], al[2], al[3], now)
  end
  redis.call('ZREM', expiry_key(), ref)
  save_hold(ref, h, CFG.retention)
  serve_queues(skus_of(h), CFG, now)
end

-- Write what plan_hold decided; returns the hold after it (or nil).
local function apply_plan(p, ref, a, now, load_day)
  local h = p.h
  if p.act == 'reserve' then
    local cands = {}
    for _, l in ipairs(p.lines) do cands[#cands + 1] = l.cands end
    h = {rid = a[9], ch = a[10], oid = a[11], buyer = a[12], spec = a[13],
      cands = table.concat(cands, ';')}
    local ttl = tonumber(a[14])
    if p.decision.ttl ~= nil and p.decision.ttl < ttl then ttl = p.decision.ttl end
    h.ttl = tostring(ttl)
    apply_hold(ref, h, p.decision, ttl, CFG.retention, now)
    count_load(load_day, p.decision.allocs)
    if p.confirm then confirm_hold(ref, h, now) end
  elseif p.act == 'confirm' then
    confirm_hold(ref, h, now)
  elseif p.act == 'release' then
    set_state(h, ST.RELEASED)
    return_hold(h, 'RELEASED', now)
    redis.call('ZREM', expiry_key(), ref)
    save_hold(ref, h, CFG.retention)
    serve_queues(skus_of(h), CFG, now)
  elseif p.act == 'restock' then
    -- Paid, then cancelled or refunded before shipping: the sold units are back.
    set_state(h, ST.RELEASED)
    for _, al in ipairs(allocations(h)) do
      bump(al[1], al[2], 'c', -al[3])
      bump(al[1], al[2], 'a', al[3])
      emit('RESTOCKED', h, al[1], al[2], al[3], now)
    end
    save_hold(ref, h, CFG.retention)
    serve_queues(skus_of(h), CFG, now)
  elseif p.act == 'restock_units' then
    -- Shipped goods that came back: sold units back to available, once per restock id.
    for _, m in ipairs(p.moves) do
      bump(m[1], m[2], 'c', -m[3])
      bump(m[1], m[2], 'a', m[3])
      emit('RESTOCKED', h, m[1], m[2], m[3], now)
    end
    local al = {}
    for _, x in ipairs(p.left) do
      if x[3] > 0 then al[#al + 1] = x[1] .. '|' .. x[2] .. '|' .. x[3] end
    end
    h.al = table.concat(al, ';')
    save_hold(ref, h, nil)
    redis.call('HSET', rst_key(ref), p.id, '1')
    redis.call('PEXPIRE', rst_key(ref), CFG.retention)
    local skus = {}
    for _, m in ipairs(p.moves) do skus[#skus + 1] = m[1] end
    serve_queues(skus, CFG, now)
  elseif p.act == 'unqueue' then
    set_state(h, ST.RELEASED)
    leave_queues(ref, h)
    redis.call('ZREM', dead_key(), ref)
    save_hold(ref, h, CFG.retention)
  end
  return h
end

-- Read one outcome (doc + entries) starting at a[i], cutting its payloads with take;
-- returns it and the next index.
local function read_outcome(a, i, take)
  local o = {doc = take(a[i]), entries = {}}
  local m = tonumber(a[i + 1])
  for k = 0, m - 1 do
    local j = i + 2 + 3 * k
    o.entries[#o.entries + 1] = {a[j], a[j + 1], take(a[j + 2])}
  end
  return o, i + 2 + 3 * m
end

-- Trim the order index of entries older than this once the call's ops are done (nil:
-- nothing written). Reset by order_apply_many at the start of every call.
local OIDX_TRIM_BEFORE = nil

-- A fallback's events name why the stock was refused where they say @STOCK@.
local function write_record(ref, a, o, ttl, now, why)
  local rec, hist = ord_key(ref), ohist_key(ref)
  local doc = o.doc
  if why ~= nil then doc = string.gsub(doc, '@STOCK@', why) end
  redis.call('HSET', rec, 'v', a[4], 'doc', doc)
  redis.call('PEXPIRE', rec, ttl)
  local kept = {}
  for _, e in ipairs(o.entries) do
    local payload = e[3]
    if why ~= nil then payload = string.gsub(payload, '@STOCK@', why) end
    if e[2] == '1' then kept[#kept + 1] = payload end
    if e[1] ~= '' then capped_xadd(olog_key(), 'g', e[1], 'e', payload) end
  end
  -- One RPUSH for the op's events (PEXPIRE of a history never written is a no-op).
  if #kept > 0 then redis.call('RPUSH', hist, unpack(kept)) end
  redis.call('PEXPIRE', hist, ttl)
  if a[5] ~= '' then redis.call('ZADD', oidx_key(), tonumber(a[5]), ref) end
  -- The index is trimmed once per script call (order_apply_many), not once per op.
  OIDX_TRIM_BEFORE = now - ttl
end

-- act: what happened to the hold ('reserve' means this call made it).
local function hold_reply(code, version, h, reason, sku, act)
  if h == nil then return {code, version, '', '', reason or '', sku or '', act or ''} end
  return {code, version, h.st or '', h.al or '', reason or '', sku or '', act or ''}
end

-- Apply the order op packed in string s (see the header).
local function apply_order(s)
  local nl = string.find(s, '\n', 1, true)
  local a = unpack_fields(string.sub(s, 1, nl - 1))
  local pos = nl + 1
  local function take(len)  -- the next payload, len bytes
    local value = string.sub(s, pos, pos + tonumber(len) - 1)
    pos = pos + tonumber(len)
    return value
  end
  local ref, hold_ref, want = a[2], a[8], a[7]
  local now = now_ms()
  local current = '0'
  if a[1] == 'order' then
    current = redis.call('HGET', ord_key(ref), 'v') or '0'
    if current ~= a[3] then return hold_reply('CONFLICT', current) end
  end
  local p = plan_hold(want, hold_ref, a, now)
  if p.act == 'dead' then return hold_reply('DEAD', current, p.h) end
  local i = 16 + 3 * tonumber(a[15])
  local primary, fallback
  primary, i = read_outcome(a, i, take)
  fallback, i = read_outcome(a, i, take)
  local refused = p.act == 'refused'
  if refused and (a[1] == 'part' or fallback.doc == '') then
    return hold_reply('REFUSED', current, nil, p.reason, p.sku)
  end

  local w = tonumber(a[i])
  for k = 0, w - 1 do a[i + 3 + 3 * k] = take(a[i + 3 + 3 * k]) end
  local h = nil
  if not refused then h = apply_plan(p, hold_ref, a, now, a[i + 1 + 3 * w]) end
  if a[1] == 'part' then return hold_reply('OK', current, h, '', '', p.act) end
  local why = nil
  if refused then why = p.reason .. ' ' .. p.sku end
  write_record(ref, a, refused and fallback or primary, tonumber(a[6]), now, why)
  if not refused then
    for k = 0, w - 1 do
      local j = i + 1 + 3 * k
      capped_xadd(wb_key(), 't', a[j], 'ch', a[10], 'oid', a[11], 'rid', a[9],
        'sku', '', 'wh', a[j + 1], 'q', '0', 'ts', tostring(now), 'd', a[j + 2])
    end
  end
  return hold_reply(refused and 'FALLBACK' or 'OK', a[4], h, p.reason, p.sku, p.act)
end
