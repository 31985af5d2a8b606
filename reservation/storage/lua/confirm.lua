-- confirm.lua: make a RESERVED hold permanent (the order was paid).
--
-- KEYS[1]  hold record   KEYS[2] expiry index   KEYS[3] write-back stream
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref
-- ARGV[5]  mode: 'single' (a one-part order: confirm a RESERVED hold not past its
--          expiry) | 'commit' (a part of a multi-shard order whose home record has
--          decided CONFIRMED: the part must be locked (lock.lua), and is confirmed
--          whatever its expiry, because the lock began before it)
-- Returns  reply(): code OK (now CONFIRMED, or already was) | NOT_FOUND |
--          PRECONDITION (not RESERVED, past its expiry, or in commit mode not locked;
--          nothing changed).

local ref, commit = ARGV[4], ARGV[5] == 'commit'
local h = load_hold(ref)
if h == nil then return {'NOT_FOUND'} end
if h.st == ST.CONFIRMED then return reply('OK', h, 0) end
local now = now_ms()
if h.st ~= ST.RESERVED then return reply('PRECONDITION', h, queue_position(h)) end
if commit then
  if (h.lk or '') == '' then return reply('PRECONDITION', h, 0) end
elseif now > tonumber(h.exp) then
  set_state(h, ST.EXPIRED)  -- as the caller must see it; the sweeper writes the change
  return reply('PRECONDITION', h, 0)
end

set_state(h, ST.CONFIRMED)
local skus = {}
for _, a in ipairs(allocations(h)) do
  bump(a[1], a[2], 'h', -a[3])
  bump(a[1], a[2], 'c', a[3])
  emit('CONFIRMED', h, a[1], a[2], a[3], now)
  skus[#skus + 1] = a[1]
end
h.lk = ''
redis.call('ZREM', KEYS[2], ref)
redis.call('ZREM', locks_key(), ref)
save_hold(ref, h, CFG.retention)
-- Fewer units are held now: queued orders that can no longer be served are told so.
serve_queues(skus, CFG, now)
return reply('OK', h, 0)
