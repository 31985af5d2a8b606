-- wb_bootstrap.lua: start (or restart) a consumer group from "now" on one shard, and
-- return the counters that already account for every event before "now". A WMS that
-- seeds its ledger with these counters and then pulls the group is exact: every change
-- is either in the counters (before) or in the stream after the group's position.
--
-- Everything is read and reset in this one script, so no change can fall between the
-- counters and the position. The shard's stock keys are found with SCAN here (a new SKU
-- loaded a moment earlier is included): the cost grows with the keys of the node, so an
-- operator runs this when a WMS joins, not during a sale's peak.
--
-- KEYS[1]  the shard's write-back stream   KEYS[2] the group's dead letters
-- KEYS[3]  the group's totals (wb_stats)
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  group
-- Returns  {position: the group's last-delivered id, {sku, {HGETALL of its stock}}...}
-- Writes   the group recreated at the stream's end (its pending entries dropped), its
--          dead letters and totals deleted. Other groups are untouched.

local stream, group = KEYS[1], ARGV[4]

if group_info(stream, group) ~= nil then
  redis.call('XGROUP', 'DESTROY', stream, group)
end
redis.call('XGROUP', 'CREATE', stream, group, '$', 'MKSTREAM')
redis.call('DEL', KEYS[2], KEYS[3])
local position = group_info(stream, group)['last-delivered-id']

local stocks, cursor = {}, '0'
local marker = #PFX + #'stock:'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', PFX .. 'stock:*', 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    stocks[#stocks + 1] = {string.sub(key, marker + 1), redis.call('HGETALL', key)}
  end
until cursor == '0'
return {position, stocks}
