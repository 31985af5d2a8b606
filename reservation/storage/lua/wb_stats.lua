-- wb_stats.lua: where one group stands on one shard's write-back stream (read only).
--
-- KEYS[1]  the shard's write-back stream   KEYS[2] the group's dead-letter stream
-- KEYS[3]  the group's stats hash
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  group
-- Returns  {pending (delivered, not acknowledged), undelivered, oldest unacknowledged
--           entry id ('' none), delivered total, acknowledged total, dead-lettered total,
--           dead letters kept now, broken (1: the cap trimmed entries it needed),
--           when a consumer last pulled (ms; 0: never since the group was created)}

local stream, group = KEYS[1], ARGV[4]
local totals = redis.call('HMGET', KEYS[3], 'delivered', 'acked', 'dead', 'read')
for i = 1, 4 do totals[i] = tonumber(totals[i] or '0') end
local kept = redis.call('XLEN', KEYS[2])

local info = group_info(stream, group)

local pending, undelivered, oldest, broken = 0, 0, '', 0
if info == nil then
  -- No group yet: it will be created where the kept entries start, so every
  -- entry is undelivered.
  undelivered = redis.call('XLEN', stream)
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if first then oldest = first[1] end
else
  pending = tonumber(info['pending'])
  if group_broken(stream, info) then broken = 1 end
  local last = info['last-delivered-id']
  local after = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)[1]
  if info['lag'] then
    undelivered = tonumber(info['lag'])
  elseif after == nil or broken == 1 then
    -- Nothing after it, or trimmed past it: every entry kept is undelivered.
    undelivered = after and redis.call('XLEN', stream) or 0
  else
    -- Redis cannot tell the lag (entries deleted mid-stream): count them.
    undelivered = #redis.call('XRANGE', stream, '(' .. last, '+')
  end
  if pending > 0 then
    oldest = redis.call('XPENDING', stream, group, '-', '+', 1)[1][1]
  elseif after then
    oldest = after[1]
  end
end
return {pending, undelivered, oldest, totals[1], totals[2], totals[3], kept, broken,
        totals[4]}
