-- shorten.lua: bring keys' expiry forward, never push it back (PEXPIRE ... LT).
-- Used for rejected orders' identities, kept only as long as their rejected records.
-- Library-free (scripts.STANDALONE). Concurrent calls whose
-- keys share a home shard (any keys, on one Redis) are folded into one call
-- (store.SHORTEN_MANY).
--
-- KEYS     order home keys of one shard   rsv:{H}:order:<channel>:<order_id> ...
-- ARGV[1]  TTL ms
-- Returns  one reply per key: 1 when its expiry was brought forward, else 0.

local out = {}
for i, key in ipairs(KEYS) do out[i] = pexpire_lt(key, ARGV[1]) end
return out
