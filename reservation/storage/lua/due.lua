-- due.lua: what the recovery sweep must look at in one shard, by Redis time.
-- Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the shard's pending index (multi-shard orders homed here, not yet decided
--          or not yet compensated)   KEYS[2] the shard's lock index (locked parts)
-- ARGV[1]  most entries of each index
-- Returns  {pending refs due, locked refs whose lease passed}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {
  redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1])),
  redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1])),
}
