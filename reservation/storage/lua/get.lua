-- get.lua: read one order's record in this shard with its live queue position.
--
-- KEYS[1]  hold record
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref
-- Returns  reply(): code OK | NOT_FOUND. Writes nothing.

local h = load_hold(ARGV[4])
if h == nil then return {'NOT_FOUND'} end
return reply('OK', h, queue_position(h))
