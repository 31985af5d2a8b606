-- sweep.lua: background work of one shard, safe to run from every replica at once
-- (each step removes what it handled from its index inside this atomic script).
--  1. holds past expires_at + grace expire: units return, queue heads served first;
--  2. queued orders past their deadline are dead-lettered;
--  3. every non-empty queue is served (the retry safety net; also rejects SOLD_OUT);
--  4. dead letters whose records expired are dropped from the index.
--
-- KEYS[1]  expiry index   KEYS[2] write-back stream   KEYS[3] queue deadline index
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  expiry grace ms   ARGV[5] most orders handled per step
-- ARGV[6]  serve queues (0/1): the retry loop sets it, the expiry sweeper does not
-- Returns  {expired, dead_lettered, served}

local now = now_ms()
local limit = tonumber(ARGV[5])
local expired, dead, served = 0, 0, 0

local skus = {}
for _, ref in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]),
    'LIMIT', 0, limit)) do
  redis.call('ZREM', KEYS[1], ref)
  local h = load_hold(ref)
  if h ~= nil and h.st == ST.RESERVED and (h.lk or '') == '' then
    set_state(h, ST.EXPIRED)
    return_hold(h, 'EXPIRED', now)
    save_hold(ref, h, CFG.retention)
    expired = expired + 1
    for _, a in ipairs(allocations(h)) do skus[#skus + 1] = a[1] end
  end
end
served = served + serve_queues(skus, CFG, now)

for _, ref in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)) do
  local h = load_hold(ref)
  if h ~= nil and h.st == ST.QUEUED then
    set_state(h, ST.DEAD_LETTERED)
    leave_queues(ref, h)
    save_hold(ref, h, CFG.retention)
    redis.call('ZADD', dead_key(), now, ref)
    emit_lines('DEAD_LETTERED', h, now)
    dead = dead + 1
  else
    redis.call('ZREM', KEYS[3], ref)
  end
end

if ARGV[6] == '1' then
  served = served + serve_queues(redis.call('SMEMBERS', queued_skus_key()), CFG, now)
  redis.call('ZREMRANGEBYSCORE', dead_key(), '-inf', now - CFG.retention)
end
return {expired, dead, served}
