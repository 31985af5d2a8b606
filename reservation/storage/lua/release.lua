-- release.lua: the order was cancelled. A RESERVED hold returns its units (queue heads
-- served first), locked or not (a locked part is released only after its order's home
-- record decided ABORTED); a QUEUED or DEAD_LETTERED order leaves its queue. Idempotent.
--
-- KEYS[1]  hold record   KEYS[2] expiry index   KEYS[3] write-back stream
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref
-- ARGV[5]  tombstone spec: '' or, for a part of an aborted multi-shard order, the part's
--          spec; with it a part that holds nothing yet gets a RELEASED record, so a
--          reserve of that part arriving later (a slow or retried copy) holds nothing
-- ARGV[6]  reservation id   ARGV[7] buyer id (for the tombstone record)
-- Returns  reply(): code OK (now RELEASED, or already finished without units) |
--          NOT_FOUND | PRECONDITION (CONFIRMED: sold units are not released here).


-- The logic lives in release_at (_reserve.lua): place_many.lua releases the same way.
return release_at(ARGV[4], ARGV[5] or '', ARGV[6], ARGV[7])
