-- lock.lua: phase one of confirming a multi-shard order: lock this part against expiry
-- until the order's home record decides (confirm.lua 'commit', release.lua, or
-- unlock.lua). Locking writes no event and moves no units.
--
-- KEYS[1]  hold record   KEYS[2] expiry index   KEYS[3] the shard's lock index
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref   ARGV[5] confirm attempt number (from the home record)
-- ARGV[6]  lease ms: after it the recovery sweep asks the home record what to do
-- Returns  reply(): code OK (locked by this attempt, or by a later one) | NOT_FOUND |
--          PRECONDITION (not RESERVED, or past its expiry: nothing changed).

local ref, attempt = ARGV[4], tonumber(ARGV[5])
local h = load_hold(ref)
if h == nil then return {'NOT_FOUND'} end
if h.st ~= ST.RESERVED then return reply('PRECONDITION', h, 0) end
local now = now_ms()
local held_by = tonumber(h.lk ~= '' and h.lk or '0')
if held_by >= attempt then return reply('OK', h, 0) end
if held_by == 0 and now > tonumber(h.exp) then
  set_state(h, ST.EXPIRED)  -- as the caller must see it; the sweeper writes the change
  return reply('PRECONDITION', h, 0)
end
h.lk = tostring(attempt)
redis.call('ZREM', KEYS[2], ref)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[6]), ref)
save_hold(ref, h, nil)
return reply('OK', h, 0)
