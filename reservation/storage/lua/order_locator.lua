-- order_locator.lua: one order's locator (see _oloc.lua), read, claimed or moved for an
-- evicted order. Library-free but for _oloc.lua (scripts.STANDALONE).
--
-- KEYS[1]  the locator rsv:{H}:oloc:<ref> (routes the call to the shard's node)
-- ARGV[1]  the shard's key prefix "rsv:{H}:"   ARGV[2] the order ref
-- ARGV[3]  'get' | 'claim' | 'evict'   ARGV[4] the shard to claim for, or the shard the
--          order was archived in ('evict'); '' for 'get'   ARGV[5] locator TTL ms
-- Returns  get, claim: the shard held already, 'evicted', or false (none; claimed now
--          with 'claim'). evict: 'moved', 'evicted', 'other' or false (see _oloc.lua).

local prefix, ref, mode = ARGV[1], ARGV[2], ARGV[3]
if mode == 'evict' then return evict_locator(prefix, ref, ARGV[4], ARGV[5]) end
local claim = false
if mode == 'claim' then claim = ARGV[4] end
return find_locator(prefix, ref, claim, ARGV[5])
