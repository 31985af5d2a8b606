-- intent.lua: record a multi-shard order's intent at its home key before any part is
-- held: its identity, phase PLACING, and an entry in the home shard's pending index, so
-- that if nobody finishes placing it the recovery sweep of any replica does.
-- Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the order's home key   rsv:{H}:order:<channel>:<order_id>
-- KEYS[2]  the home shard's pending index   rsv:{H}:pending
-- ARGV[1]  home record "<rid>\t<buyer>\t<spec>\tPLACING\t0\t0" (see phase.lua)
-- ARGV[2]  TTL ms   ARGV[3] order ref   ARGV[4] lease ms
-- Returns  the record that was there before, or nil when this call recorded it.

local before = set_nx_get(KEYS[1], ARGV[1], ARGV[2])
if not before then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
end
return before
