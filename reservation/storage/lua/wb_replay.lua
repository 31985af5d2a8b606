-- wb_replay.lua: give dead letters of one group on one shard another chance. Each is
-- appended again to the shard's write-back stream with its original event id (field
-- eid) and the group it is meant for (field g; other groups skip it), then removed from
-- the dead letter. It starts a fresh count of deliveries.
--
-- KEYS[1]  the shard's write-back stream   KEYS[2] the group's dead-letter stream
-- KEYS[3]  the group's stats hash
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  group   ARGV[5..] event ids to replay (none: every dead letter)
-- Returns  {replayed}

local stream, dead, group = KEYS[1], KEYS[2], ARGV[4]
local wanted, any = {}, #ARGV < 5
for i = 5, #ARGV do wanted[ARGV[i]] = true end

local replayed = 0
for _, e in ipairs(redis.call('XRANGE', dead, '-', '+')) do
  local f, copy, eid = e[2], {}, nil
  for i = 1, #f, 2 do
    if f[i] == 'eid' then eid = f[i + 1] end
    if f[i] ~= 'n' and f[i] ~= 'g' then copy[#copy + 1] = f[i]; copy[#copy + 1] = f[i + 1] end
  end
  if any or wanted[eid] then
    copy[#copy + 1] = 'g'; copy[#copy + 1] = group
    capped_xadd(stream, unpack(copy))
    redis.call('XDEL', dead, e[1])
    replayed = replayed + 1
  end
end
if replayed > 0 then
  redis.call('HINCRBY', KEYS[3], 'replayed', replayed)
  redis.call('PEXPIRE', KEYS[3], CFG.retention)
end
return {replayed}
