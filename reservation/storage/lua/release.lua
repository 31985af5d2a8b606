-- release.lua: the order was cancelled. A RESERVED hold returns its units (queue heads
-- served first); a QUEUED or DEAD_LETTERED order leaves its queue. Idempotent.
--
-- KEYS[1]  hold record   KEYS[2] expiry index   KEYS[3] write-back stream
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref
-- Returns  reply(): code OK (now RELEASED, or already finished without units) |
--          NOT_FOUND | PRECONDITION (CONFIRMED: sold units are not released here).

local ref = ARGV[4]
local h = load_hold(ref)
if h == nil then return {'NOT_FOUND'} end
if h.st == ST.CONFIRMED then return reply('PRECONDITION', h, 0) end
local now = now_ms()
if h.st == ST.RESERVED then
  return_hold(h, 'RELEASED', now)
  redis.call('ZREM', KEYS[2], ref)
  h.st = ST.RELEASED
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
