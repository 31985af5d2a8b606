-- shorten.lua: bring a key's expiry forward, never push it back (PEXPIRE ... LT).
-- Used for a rejected order's identity, which is kept only as long as the rejected
-- record itself. Library-free (scripts.STANDALONE). Needs Redis 7 (the LT flag).
--
-- KEYS[1]  the order's home key   rsv:{H}:order:<channel>:<order_id>
-- ARGV[1]  TTL ms
-- Returns  1 when the expiry was brought forward, else 0.

return redis.call('PEXPIRE', KEYS[1], ARGV[1], 'LT')
