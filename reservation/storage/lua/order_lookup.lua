-- order_lookup.lua: what a SyncOrders batch reads before it plans, for ONE shard in one
-- call (instead of a pipelined command or three per order): the records of orders
-- anchored in this shard, the locator claims of refs homed here, and the duplicate
-- suspicion registrations of (phone hash, address) pairs homed here. Library-free
-- (scripts.STANDALONE). Keys as in reservation/storage/orders.py.
--
-- KEYS[1]  the shard's order index rsv:{N}:oidx (routes the call to the shard's node)
-- ARGV[1]  the shard's key prefix "rsv:{N}:"   ARGV[2] locator TTL ms
-- ARGV[3]  duplicate window ms
-- then r, r x order ref: read its record (HMGET ord:<ref> v doc)
-- then c, c x (order ref, anchor shard): claim its locator for the anchor unless claimed
--   (SET oloc:<ref> anchor NX GET PX ttl)
-- then d, d x (pair, order ref, created ms): register the ref under odup:<pair> and read
--   the other refs registered within the window around it
-- Returns {records, claims, dups}: r x {version, doc} (false, false: none), c x the shard
-- that held the locator already (false: claimed now), d x {other refs}.

local prefix, ttl, window = ARGV[1], ARGV[2], tonumber(ARGV[3])
local i = 4
local records, claims, dups = {}, {}, {}
for k = 1, tonumber(ARGV[i]) do
  records[k] = redis.call('HMGET', prefix .. 'ord:' .. ARGV[i + k], 'v', 'doc')
end
i = i + 1 + #records
for k = 1, tonumber(ARGV[i]) do
  local j = i + 2 * k - 1
  claims[k] = redis.call('SET', prefix .. 'oloc:' .. ARGV[j], ARGV[j + 1], 'NX', 'GET', 'PX', ttl)
end
i = i + 1 + 2 * tonumber(ARGV[i])
for k = 1, tonumber(ARGV[i]) do
  local j = i + 3 * k - 2
  local key, ref, created = prefix .. 'odup:' .. ARGV[j], ARGV[j + 1], tonumber(ARGV[j + 2])
  redis.call('ZADD', key, created, ref)
  local near, others = redis.call('ZRANGEBYSCORE', key, created - window, created + window), {}
  for _, r in ipairs(near) do
    if r ~= ref then others[#others + 1] = r end
  end
  redis.call('PEXPIRE', key, 2 * window + 60000)
  dups[k] = others
end
return {records, claims, dups}
