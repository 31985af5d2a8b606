-- release.lua: the order was cancelled. A RESERVED hold returns its units (queue heads
-- served first), locked or not (a locked part is released only after its order's home
-- record decided ABORTED); a QUEUED or DEAD_LETTERED order leaves its queue. Idempotent.
--
-- KEYS[1]  hold record   KEYS[2] expiry index   KEYS[3] write-back stream
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref
-- ARGV[5]  tombstone spec: '' or, for a part of an aborted multi-shard order, the part's
--          spec; with it a part that holds nothing yet gets a RELEASED record, so a
--          reserve of that part arriving later (a slow or retried copy) holds nothing
-- ARGV[6]  reservation id   ARGV[7] buyer id (for the tombstone record)
-- Returns  reply(): code OK (now RELEASED, or already finished without units) |
--          NOT_FOUND | PRECONDITION (CONFIRMED: sold units are not released here).

local ref = ARGV[4]
local h = load_hold(ref)
if h == nil then
  if (ARGV[5] or '') == '' then return {'NOT_FOUND'} end
  local ch, oid = string.match(ref, '^([^:]*):(.*)$')
  h = {rid = ARGV[6], ch = ch, oid = oid, buyer = ARGV[7], st = ST.RELEASED, spec = ARGV[5]}
  save_hold(ref, h, CFG.retention)
  return reply('OK', h, 0)
end
if h.st == ST.CONFIRMED then return reply('PRECONDITION', h, 0) end
local now = now_ms()
if h.st == ST.RESERVED then
  return_hold(h, 'RELEASED', now)
  redis.call('ZREM', KEYS[2], ref)
  redis.call('ZREM', locks_key(), ref)
  h.st, h.lk = ST.RELEASED, ''
  save_hold(ref, h, CFG.retention)
  local skus = {}
  for _, a in ipairs(allocations(h)) do skus[#skus + 1] = a[1] end
  serve_queues(skus, CFG, now)
elseif h.st == ST.QUEUED or h.st == ST.DEAD_LETTERED then
  leave_queues(ref, h)
  redis.call('ZREM', dead_key(), ref)
  h.st = ST.RELEASED
  save_hold(ref, h, CFG.retention)
end
return reply('OK', h, 0)
