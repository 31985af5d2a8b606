-- wb_pull.lua: deliver up to `count` write-back events of one shard to one consumer of a
-- group: first events whose visibility timeout passed (redelivery, XPENDING IDLE +
-- XCLAIM), then new ones (XREADGROUP). An event already delivered max_deliveries times
-- goes to the group's dead letter instead of a further delivery. A dead-letter replay
-- meant for another group (field g) is acknowledged here and skipped. Creates the group
-- (where the stream's kept entries start) when it is missing, so a flushed or new Redis
-- needs no set-up step. A group the stream's cap trimmed past (group_broken) gets an
-- error reply BROKEN instead: it has lost events, and only a bootstrap repairs it.
-- Every pull stamps the group's stats hash with when it last read (field `read`).
--
-- KEYS[1]  the shard's write-back stream   KEYS[2] the group's dead-letter stream
-- KEYS[3]  the group's stats hash
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  group   ARGV[5] consumer   ARGV[6] most events to deliver (>= 1)
-- ARGV[7]  visibility timeout ms   ARGV[8] max deliveries   ARGV[9] dead letters kept
-- ARGV[10] shard number (for event ids of dead letters)
-- Returns  {acked_here, boundary, {{entry id, delivery count, {field, value, ...}}, ...}}
--          acked_here: dead-lettered + skipped entries (the caller trims when > 0);
--          boundary: every entry after this id is undelivered (for a race-free XREAD).

local stream, dead, stats = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, count = ARGV[4], ARGV[5], tonumber(ARGV[6])
local vt, max_del, dl_max, shard = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]

local info = group_info(stream, group)
if info == nil then
  create_group(stream, group)
elseif group_broken(stream, info) then
  return redis.error_reply('BROKEN group ' .. group .. ' lost entries of ' .. stream ..
    ' to its cap (last delivered ' .. info['last-delivered-id'] .. ')')
end
redis.call('HSET', stats, 'read', tostring(now_ms()))
redis.call('PEXPIRE', stats, CFG.retention)

local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
  return nil
end

local out, acked_here, dead_n = {}, 0, 0

for _, p in ipairs(redis.call('XPENDING', stream, group, 'IDLE', vt, '-', '+', count)) do
  local id, n = p[1], tonumber(p[4])
  if n >= max_del then
    local e = redis.call('XRANGE', stream, id, id)[1]
    if e ~= nil then
      local f = e[2]
      if field(f, 'eid') == nil then f[#f + 1] = 'eid'; f[#f + 1] = shard .. '-' .. id end
      f[#f + 1] = 'n'; f[#f + 1] = tostring(n)
      redis.call('XADD', dead, 'MAXLEN', dl_max, '*', unpack(f))
      dead_n = dead_n + 1
    end
    redis.call('XACK', stream, group, id)
    acked_here = acked_here + 1
  else
    -- XCLAIM re-checks the idle time and bumps the delivery count.
    local c = redis.call('XCLAIM', stream, group, consumer, vt, id)[1]
    if c then out[#out + 1] = {c[1], n + 1, c[2]} end
  end
end

local boundary = nil
if #out < count then
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count - #out,
    'STREAMS', stream, '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      boundary = e[1]
      local g = field(e[2], 'g')
      if g ~= nil and g ~= group then
        redis.call('XACK', stream, group, e[1])
        acked_here = acked_here + 1
      else
        out[#out + 1] = {e[1], 1, e[2]}
      end
    end
  end
end
if boundary == nil then
  -- Nothing new was read, so nothing after the newest entry is undelivered.
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  boundary = last and last[1] or '0-0'
end

if #out > 0 or dead_n > 0 then
  redis.call('HINCRBY', stats, 'delivered', #out)
  redis.call('HINCRBY', stats, 'dead', dead_n)
  redis.call('PEXPIRE', stats, CFG.retention)
end
return {acked_here, boundary, out}
