-- drop_identity.lua: delete an order's identity if it is still the one expected (compare
-- and delete). A corrected request replaces a REJECTED one under the same key this way:
-- the caller checked that the recorded order was rejected, then claims the key anew.
-- Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the order's home key   rsv:{H}:order:<channel>:<order_id>
-- ARGV[1]  the identity expected there
-- Returns  1 when it was deleted, 0 when another identity (or none) is there now.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
