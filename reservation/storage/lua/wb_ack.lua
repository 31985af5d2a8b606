-- wb_ack.lua: acknowledge entries of one shard for a group, then trim the stream up to
-- the oldest entry any group still needs (pending, or not yet delivered). With no ids
-- it only trims. Consumers of the group with nothing pending that stayed idle longer
-- than ARGV[5] are dropped (puller processes come and go; their names would pile up).
--
-- KEYS[1]  the shard's write-back stream   KEYS[2] the group's stats hash
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  group   ARGV[5] idle ms after which an empty consumer is dropped
-- ARGV[6..] stream entry ids to acknowledge
-- Returns  {acknowledged (newly; 0 for ids acknowledged before), entries trimmed}

local stream, stats, group = KEYS[1], KEYS[2], ARGV[4]
if redis.call('EXISTS', stream) == 0 then return {0, 0} end

local acked = 0
for i = 6, #ARGV, 500 do
  -- pcall: a group lost with its Redis (flushed, restored) has nothing to acknowledge.
  local n = redis.pcall('XACK', stream, group, unpack(ARGV, i, math.min(i + 499, #ARGV)))
  if type(n) == 'number' then acked = acked + n end
end
if acked > 0 then
  redis.call('HINCRBY', stats, 'acked', acked)
  redis.call('PEXPIRE', stats, CFG.retention)
end

local keep = nil
for _, info in ipairs(stream_groups(stream)) do
  local need = group_need(stream, info)
  if keep == nil or id_before(need, keep) then keep = need end
  if info['name'] == group then
    for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
      local ci = {}
      for i = 1, #c, 2 do ci[c[i]] = c[i + 1] end
      if tonumber(ci['pending']) == 0 and tonumber(ci['idle']) > tonumber(ARGV[5]) then
        redis.call('XGROUP', 'DELCONSUMER', stream, group, ci['name'])
      end
    end
  end
end
local trimmed = 0
if keep ~= nil then trimmed = redis.call('XTRIM', stream, 'MINID', keep) end
return {acked, trimmed}
