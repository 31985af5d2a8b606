-- phase.lua: the decision of a multi-shard order, kept at its home key. The parts (one
-- per shard) follow the decision; this record is the one place it is made, so two
-- actors racing (a retry, Confirm, Release, a read, the recovery sweep) cannot decide
-- differently. Library-free (scripts.STANDALONE).
--
-- Home record: "<rid>\t<buyer>\t<spec>\t<phase>\t<attempt>\t<attempt until ms>"
--   PLACING   intent recorded; parts being held
--   HELD      every part was held (it may expire or be released later)
--   CONFIRMED decided: every part is locked and gets confirmed (commit point)
--   ABORTED   decided: every part is released, or tombstoned if it holds nothing yet
-- attempt: number of the last confirm attempt; attempt until: when its lease ends,
-- 0 when no attempt is live (fenced, refused, or decided).
--
-- KEYS[1]  the order's home key   KEYS[2] the home shard's pending index
-- ARGV[1]  operation   ARGV[2] order ref   ARGV[3] argument of the operation:
--   decide <HELD|ABORTED>  PLACING -> HELD | ABORTED (the placer, or a settling read)
--   abort                  PLACING | HELD -> ABORTED (Release; a part expired)
--   abort_due              PLACING -> ABORTED if its pending entry is due (stale)
--   attempt <lease ms>     HELD: join the live confirm attempt, or start the next one
--   commit <attempt>       HELD with that attempt live -> CONFIRMED
--   fence <attempt>        HELD: that attempt may no longer commit
--   done                   compensation finished: drop the pending entry
--   read                   nothing; just answer
-- An ABORTED order keeps (or gets) a pending entry, due at once, until `done`: the
-- recovery sweep finishes a compensation its actor did not.
-- Returns  {phase, attempt} after the operation; {''} when there is no home record.

local raw = redis.call('GET', KEYS[1])
if not raw then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {''}
end
local f = {}
for value in string.gmatch(raw .. '\t', '([^\t]*)\t') do f[#f + 1] = value end
local op, arg, ref = ARGV[1], ARGV[3], ARGV[2]
-- A one-part order has no phase (its one script call decides it): nothing to do.
if #f < 6 then return {'', '0'} end
local phase, attempt, til = f[4], tonumber(f[5]), tonumber(f[6])
if op == 'read' then return {phase, tostring(attempt)} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function to(new_phase)
  phase = new_phase
  if phase == 'ABORTED' then redis.call('ZADD', KEYS[2], now, ref) end
  if phase == 'HELD' or phase == 'CONFIRMED' then redis.call('ZREM', KEYS[2], ref) end
end

if op == 'decide' then
  if phase == 'PLACING' then to(arg) end
elseif op == 'abort' then
  if phase == 'PLACING' or phase == 'HELD' then to('ABORTED'); til = 0 end
elseif op == 'abort_due' then
  local due = redis.call('ZSCORE', KEYS[2], ref)
  if phase == 'PLACING' and due and tonumber(due) <= now then to('ABORTED') end
elseif op == 'attempt' then
  if phase == 'HELD' and til <= now then
    attempt, til = attempt + 1, now + tonumber(arg)
  end
elseif op == 'commit' then
  if phase == 'HELD' and attempt == tonumber(arg) and til > 0 then
    to('CONFIRMED'); til = 0
  end
elseif op == 'fence' then
  if phase == 'HELD' and attempt == tonumber(arg) then til = 0 end
elseif op == 'done' then
  redis.call('ZREM', KEYS[2], ref)
  return {phase, tostring(attempt)}
else
  return redis.error_reply('unknown phase operation ' .. op)
end
f[4], f[5], f[6] = phase, tostring(attempt), tostring(til)
redis.call('SET', KEYS[1], table.concat(f, '\t', 1, 6), 'KEEPTTL')
return {phase, tostring(attempt)}
