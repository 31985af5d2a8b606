-- _oloc.lua: where an order's record lives, for orders in Redis and for orders that
-- left it (closed, past the hot window, kept in the records store). Prepended to
-- order_lookup.lua and order_locator.lua. Keys as in reservation/storage/orders.py:
--
--   rsv:{H}:oloc:<ref>    string, the shard of the order's record (an order in Redis)
--   rsv:{H}:ogone:<b>     hash, ref -> "<shard>:<until ms>": the locators of evicted
--                         orders, b = the ref's bucket (OGONE_BUCKETS per shard)
--
-- An evicted order keeps only its field in a shared bucket (about 57 B in a listpack)
-- instead of a key of its own (about 130 B with its TTL): a resend is recognised until
-- the field's `until`, the locator's expiry when the order was evicted (the channels'
-- resend horizon). Redis 7.0 has no per-field expiry (HPEXPIRE is 7.4), so a field is
-- dead past `until` (reads ignore it), dropped the next time an order is evicted into
-- its bucket, and the bucket itself expires when its last field is due.

-- Buckets per shard: at 100,000 evictions a day over 64 shards and a field's 83 days
-- (retention less the hot window) each holds about 127 fields (listpack-encoded up to
-- hash-max-listpack-entries, 128 by default; past it a hashtable, about 116 B a field:
-- benchmarks/results/ogone-memory.md); fewer orders, fewer per bucket.
local OGONE_BUCKETS = 1024

local function ogone_key(prefix, ref)
  return prefix .. 'ogone:' .. (tonumber(string.sub(redis.sha1hex(ref), 1, 4), 16) % OGONE_BUCKETS)
end

local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The shard an evicted order lived in while its field lasts; nil otherwise.
local function evicted_in(prefix, ref)
  local v = redis.call('HGET', ogone_key(prefix, ref), ref)
  if not v then return nil end
  local shard, until_ms = string.match(v, '^(%d+):(%d+)$')
  if tonumber(until_ms) <= redis_ms() then return nil end
  return shard
end

-- Where the order is: its shard (a string) while in Redis, 'evicted' once it left for
-- the records store, false when neither (with `claim`, the locator is claimed for that
-- shard now, TTL ttl ms).
local function find_locator(prefix, ref, claim, ttl)
  local key = prefix .. 'oloc:' .. ref
  local live = redis.call('GET', key)
  if live then return live end
  if evicted_in(prefix, ref) then return 'evicted' end
  if claim then redis.call('SET', key, claim, 'PX', ttl) end
  return false
end

-- The order left Redis: its locator string becomes a field of its bucket, due when
-- the string would have expired. Only if the string still names `shard` (the shard the
-- caller archived the order in). Returns 'moved', 'evicted' (moved before), 'other'
-- (it names another shard: nothing changed) or false (no locator at all).
local function evict_locator(prefix, ref, shard, ttl)
  local key = prefix .. 'oloc:' .. ref
  local live = redis.call('GET', key)
  if not live then
    if evicted_in(prefix, ref) then return 'evicted' end
    return false
  end
  if live ~= shard then return 'other' end
  local left = redis.call('PTTL', key)
  if left < 0 then left = tonumber(ttl) end
  local now, bucket = redis_ms(), ogone_key(prefix, ref)
  local fields = redis.call('HGETALL', bucket)
  for i = 1, #fields, 2 do
    local _, until_ms = string.match(fields[i + 1], '^(%d+):(%d+)$')
    if tonumber(until_ms) <= now then redis.call('HDEL', bucket, fields[i]) end
  end
  redis.call('HSET', bucket, ref, live .. ':' .. (now + left))
  if redis.call('PTTL', bucket) < left then redis.call('PEXPIRE', bucket, left) end
  redis.call('DEL', key)
  return 'moved'
end
