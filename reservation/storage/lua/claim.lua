-- claim.lua: record an order's identity at its home key unless one is there.
-- Library-free (scripts.STANDALONE): it needs none of _lib.lua.
--
-- KEYS[1]  the order's home key   rsv:{H}:order:<channel>:<order_id>
-- ARGV[1]  identity "<reservation id>\t<buyer>\t<spec>"   ARGV[2] TTL ms
-- ARGV[3]  order ref (read by the client when it folds claims into claim_many)
-- Returns  the identity that was there before, or nil when this call recorded it.

return set_nx_get(KEYS[1], ARGV[1], ARGV[2])
