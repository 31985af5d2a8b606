-- _queue.lua: the retry queue, prepended after _lib.lua to every script.
-- An order that finds too little stock while units are held waits in the queue of
-- every SKU of its lines (ZSET, score = shard-wide arrival sequence: strict FIFO).
-- Whatever script returns units to a SKU serves that SKU's queue head in the same
-- atomic step, so a returned unit reaches the oldest waiting order first.

local function qseq_key() return PFX .. 'qseq' end
local function queued_skus_key() return PFX .. 'queued_skus' end

local function spec_lines(h)
  -- cands: one entry per spec line, joined by ';' (entries may be empty).
  local cands, lines, k = {}, {}, 0
  for c in string.gmatch((h.cands or '') .. ';', '([^;]*);') do cands[#cands + 1] = c end
  for _, l in ipairs(split(h.spec, ';')) do
    k = k + 1
    local f = split(l, '|')
    lines[#lines + 1] = {sku = f[1], qty = tonumber(f[2]), cands = cands[k] or ''}
  end
  return lines
end

local function spec_skus(h)
  local seen, out = {}, {}
  for _, l in ipairs(spec_lines(h)) do
    if not seen[l.sku] then seen[l.sku] = true; out[#out + 1] = l.sku end
  end
  return out
end

-- 1-based place of a queued order: its worst place among its SKUs' queues.
local function queue_position(h)
  if h.st ~= ST.QUEUED then return 0 end
  local ref = h.ch .. ':' .. h.oid
  local worst = 0
  for _, sku in ipairs(spec_skus(h)) do
    local r = redis.call('ZRANK', queue_key(sku), ref)
    if r ~= false and r + 1 > worst then worst = r + 1 end
  end
  return worst
end

local function leave_queues(ref, h)
  for _, sku in ipairs(spec_skus(h)) do
    redis.call('ZREM', queue_key(sku), ref)
    if redis.call('ZCARD', queue_key(sku)) == 0 then
      redis.call('SREM', queued_skus_key(), sku)
    end
  end
  redis.call('ZREM', queue_deadline_key(), ref)
end

local function emit_lines(etype, h, now)
  for _, l in ipairs(spec_lines(h)) do emit(etype, h, l.sku, '', l.qty, now) end
end

-- Put the order at the tail of its SKUs' queues. Returns its position, or nil when a
-- queue is at its bound (nothing written then).
local function enqueue(ref, h, lines, requested_ttl, bound, default_deadline, retention, now)
  local deadline = default_deadline
  for _, l in ipairs(lines) do
    if redis.call('ZCARD', queue_key(l.sku)) >= bound then return nil end
    local s = sale_of(l.sku, now)
    if s ~= nil and tonumber(s.qdl or '0') > 0 then deadline = tonumber(s.qdl) end
  end
  set_state(h, ST.QUEUED)
  local seq = redis.call('INCR', qseq_key())
  for _, l in ipairs(lines) do
    redis.call('ZADD', queue_key(l.sku), 'NX', seq, ref)
    redis.call('SADD', queued_skus_key(), l.sku)
  end
  h.rsn, h.fsku, h.al, h.exp = '', '', '', '0'
  h.qat, h.qdl, h.ttl = tostring(now), tostring(deadline), tostring(requested_ttl)
  redis.call('ZADD', queue_deadline_key(), now + deadline, ref)
  save_hold(ref, h, deadline + retention)
  emit_lines('QUEUED', h, now)
  return queue_position(h)
end

-- Finish a queued order without units: REJECTED with a reason.
local function reject_queued(ref, h, reason, sku, retention)
  set_state(h, ST.REJECTED)
  leave_queues(ref, h)
  h.rsn, h.fsku = reason, sku
  save_hold(ref, h, retention)
end

-- Serve the SKU's queue from its head while the head can be given all its lines.
-- A head that needs more than is available keeps its place and blocks the rest
-- (strict FIFO), and so does every order while the sale is paused. A head that can
-- never be served (sold out, sale over, buyer limit reached meanwhile) is rejected and
-- the next one is tried.
-- cfg: {default_ttl=ms, retention=ms}. Returns the number of orders served.
local function serve_queue(sku, cfg, now)
  local served = 0
  while true do
    local head = redis.call('ZRANGE', queue_key(sku), 0, 0)[1]
    if head == nil then break end
    local h = load_hold(head)
    if h == nil or h.st ~= ST.QUEUED then
      redis.call('ZREM', queue_key(sku), head)
    else
      local d = try_allocate(spec_lines(h), h.buyer, now)
      if d.ok then
        local ttl = tonumber(h.ttl)
        if d.ttl ~= nil and (ttl == 0 or d.ttl < ttl) then ttl = d.ttl end
        if ttl == 0 then ttl = cfg.default_ttl end
        leave_queues(head, h)
        h.ttl = tostring(ttl)
        apply_hold(head, h, d, ttl, cfg.retention, now)
        served = served + 1
      elseif d.reason == 'INSUFFICIENT_STOCK' or d.reason == 'SALE_PAUSED' then
        break  -- units may come back, or the sale resume: the head keeps its place
      else
        reject_queued(head, h, d.reason, d.sku, cfg.retention)
      end
    end
  end
  if redis.call('ZCARD', queue_key(sku)) == 0 then
    redis.call('SREM', queued_skus_key(), sku)
  end
  return served
end

-- Serve the queues of several SKUs; serving one order can unblock another queue
-- (a multi-SKU order leaves every queue it was in), so repeat until nothing moves.
local function serve_queues(skus, cfg, now)
  local total = 0
  repeat
    local moved = 0
    for _, sku in ipairs(skus) do moved = moved + serve_queue(sku, cfg, now) end
    total = total + moved
  until moved == 0
  return total
end
