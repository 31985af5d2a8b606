-- unlock.lua: undo lock.lua when the confirm attempt did not reach its decision: the part
-- is RESERVED and in the expiry index again, as before the lock (if its expiry passed
-- meanwhile, the next sweep expires it). Writes no event.
--
-- KEYS[1]  hold record   KEYS[2] expiry index   KEYS[3] the shard's lock index
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref   ARGV[5] the attempt number whose lock to undo ('*': any)
-- Returns  reply(): code OK (unlocked, or not locked by that attempt) | NOT_FOUND.

local ref = ARGV[4]
local h = load_hold(ref)
if h == nil then
  redis.call('ZREM', KEYS[3], ref)
  return {'NOT_FOUND'}
end
local lk = h.lk or ''
if lk == '' or h.st ~= ST.RESERVED then
  redis.call('ZREM', KEYS[3], ref)  -- a stale index entry
  return reply('OK', h, 0)
end
if ARGV[5] ~= '*' and ARGV[5] ~= lk then return reply('OK', h, 0) end
h.lk = ''
redis.call('ZREM', KEYS[3], ref)
redis.call('ZADD', KEYS[2], tonumber(h.exp), ref)
save_hold(ref, h, nil)
return reply('OK', h, 0)
