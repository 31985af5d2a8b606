-- place_many.lua: multi-shard orders placed whole, each in one step (place_at in
-- _reserve.lua: intent, every part, decision), one after another. Only on one Redis,
-- where a script may touch every shard's keys; on Cluster a multi-shard order is the
-- saga of reserving/multi.py (a call per step and part).
--
-- KEYS[1]  the first order's home key   rsv:{H}:order:<channel>:<order_id>
--   (every other key is built from the prefixes the orders carry)
-- ARGV[1..3] prefix of the first order's home shard, default hold TTL ms, retention ms
--          (see _lib.lua)
-- ARGV[4]  TTL ms of the home record   ARGV[5] order lease ms (a CONFLICT's pending entry)
-- ARGV[6]  number of orders k, then k orders, each ONE argument, tab-joined: its home
--          key, its whole spec, its number of parts m, then m parts, each its shard
--          prefix "rsv:{N}:" and the fields reserve.lua takes as ARGV[4..] (allow_queue 0)
-- Returns  a list of k replies, in order, each {'PLACED', HELD|ABORTED, reply() per part
--          reached (per part when ABORTED)}, {'CLAIMED', identity} or {'CONFLICT'}.

local out = {}
for k = 1, tonumber(ARGV[6]) do
  out[k] = place_at(ARGV[4], tonumber(ARGV[5]), unpack_fields(ARGV[6 + k]), 1)
end
return out
