-- reserve.lua: hold stock for one order's lines in this shard, all lines or none;
-- queue the order when asked and units may come back. Idempotent: a record of the
-- order already here answers the same again and holds nothing more.
--
-- KEYS[1]  hold record of the order      rsv:{N}:hold:<channel>:<order_id>
-- KEYS[2]  the shard's expiry index      rsv:{N}:expiry
-- KEYS[3]  the shard's write-back stream rsv:{N}:wb
--   (per-SKU keys are built from ARGV[1] and share the same hash tag)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref "<channel>:<order_id>"
-- ARGV[5]  reservation id   ARGV[6] channel   ARGV[7] order id   ARGV[8] buyer id
-- ARGV[9]  spec: canonical lines of this part "sku|qty|warehouse;..."
-- ARGV[10] requested hold TTL ms (0: the sale's, else the default)
-- ARGV[11] allow_queue (0/1)  ARGV[12] queue bound per SKU
-- ARGV[13] default queue deadline ms
-- ARGV[14] number of lines n, then n x (sku, quantity, candidate warehouses "w1,w2"|"")
-- Returns  {code, state, reason, failed_sku, expires_at_ms, allocations, reservation_id,
--           buyer_id, queue_position, spec}; code OK | CONFLICT (same order, other spec).

local ref = ARGV[4]
local existing = load_hold(ref)
if existing ~= nil then
  if existing.spec ~= ARGV[9] then return {'CONFLICT'} end
  return reply('OK', existing, queue_position(existing))
end

local now = now_ms()
local lines = parse_lines(15, tonumber(ARGV[14]))
local cands = {}
for _, l in ipairs(lines) do cands[#cands + 1] = l.cands end
local h = {rid = ARGV[5], ch = ARGV[6], oid = ARGV[7], buyer = ARGV[8], spec = ARGV[9],
  cands = table.concat(cands, ';')}
local requested_ttl = tonumber(ARGV[10])

local decision = try_allocate(lines, h.buyer, now)
if decision.ok then
  local ttl = requested_ttl
  if decision.ttl ~= nil and (ttl == 0 or decision.ttl < ttl) then ttl = decision.ttl end
  if ttl == 0 then ttl = CFG.default_ttl end
  h.ttl = tostring(ttl)
  apply_hold(ref, h, decision, ttl, CFG.retention, now)
  return reply('OK', h, 0)
end

if decision.reason == 'INSUFFICIENT_STOCK' and ARGV[11] == '1' then
  local pos = enqueue(ref, h, lines, requested_ttl, tonumber(ARGV[12]), tonumber(ARGV[13]),
    CFG.retention, now)
  if pos ~= nil then return reply('OK', h, pos) end
  decision.reason = 'QUEUE_FULL'
end

h.st, h.rsn, h.fsku = 'REJECTED', decision.reason, decision.sku
save_hold(ref, h, CFG.retention)
return reply('OK', h, 0)
