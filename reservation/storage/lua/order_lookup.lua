-- order_lookup.lua: what a SyncOrders batch reads before it plans, for ONE shard in one
-- call (instead of a pipelined command or three per order): the records of orders
-- anchored in this shard, the locator claims of refs homed here, and the duplicate
-- suspicion registrations of (phone hash, address) pairs homed here. Library-free but
-- for _oloc.lua (scripts.STANDALONE). Keys as in reservation/storage/orders.py.
--
-- KEYS[1]  the shard's order index rsv:{N}:oidx (routes the call to the shard's node)
-- ARGV[1]  the shard's key prefix "rsv:{N}:"   ARGV[2] locator TTL ms
-- ARGV[3]  duplicate window ms
-- ARGV[4]  order refs whose records are read (HMGET ord:<ref> v doc), tab-separated
-- ARGV[5]  (order ref, anchor shard) pairs, tab-separated: claim the ref's locator for
--          the anchor unless it has one, in Redis or evicted (find_locator, _oloc.lua)
-- ARGV[6]  (pair, order ref, created ms) triples, tab-separated: register the ref under
--          odup:<pair> and read the other refs registered within the window around it
-- ARGV[7]  (name, order ref, created ms) triples, tab-separated: list the ref under the
--          FindOrders index ofind:<name> (name "b:<phone hash>" or "n:<order number>";
--          PEXPIRE: the locator TTL)
-- (One packed argument each, as the order ops: the client encodes four arguments per
-- shard, not six per order. No field holds a tab: refs are validated, pairs are hex.)
-- Returns {records, claims, dups}: one {version, doc} per ref read (false, false: none),
-- one per claim: the shard that held the locator already, 'evicted' (the order left
-- for the records store: nothing claimed) or false (claimed now), one
-- {other refs} per registration.

local prefix, ttl, window = ARGV[1], ARGV[2], tonumber(ARGV[3])

local function fields(packed)
  local out = {}
  if packed == '' then return out end
  for value in string.gmatch(packed .. '\t', '([^\t]*)\t') do out[#out + 1] = value end
  return out
end

local records, claims, dups = {}, {}, {}
for k, ref in ipairs(fields(ARGV[4])) do
  records[k] = redis.call('HMGET', prefix .. 'ord:' .. ref, 'v', 'doc')
end
local c = fields(ARGV[5])
for k = 1, #c / 2 do
  claims[k] = find_locator(prefix, c[2 * k - 1], c[2 * k], ttl)
end
local d = fields(ARGV[6])
for k = 1, #d / 3 do
  local key, ref, created = prefix .. 'odup:' .. d[3 * k - 2], d[3 * k - 1], tonumber(d[3 * k])
  redis.call('ZADD', key, created, ref)
  local near, others = redis.call('ZRANGEBYSCORE', key, created - window, created + window), {}
  for _, r in ipairs(near) do
    if r ~= ref then others[#others + 1] = r end
  end
  redis.call('PEXPIRE', key, 2 * window + 60000)
  dups[k] = others
end
local f = fields(ARGV[7])
for k = 1, #f / 3 do
  local key = prefix .. 'ofind:' .. f[3 * k - 2]
  redis.call('ZADD', key, tonumber(f[3 * k]), f[3 * k - 1])
  redis.call('PEXPIRE', key, ttl)
end
return {records, claims, dups}
