-- dead_letter.lua: an operator decides on a DEAD_LETTERED order: requeue it at the tail
-- of its SKUs' queues (with a fresh deadline) or reject it.
--
-- KEYS[1]  hold record   KEYS[2] write-back stream
-- ARGV[1..3] prefix, default hold TTL ms, retention ms (see _lib.lua)
-- ARGV[4]  order ref     ARGV[5] REQUEUE | REJECT
-- ARGV[6]  queue bound per SKU   ARGV[7] default queue deadline ms
-- Returns  reply(): code OK | NOT_FOUND | PRECONDITION (not dead-lettered) | QUEUE_FULL

local ref = ARGV[4]
local h = load_hold(ref)
if h == nil then return {'NOT_FOUND'} end
if h.st ~= ST.DEAD_LETTERED then return reply('PRECONDITION', h, queue_position(h)) end
local now = now_ms()
if ARGV[5] == 'REJECT' then
  set_state(h, ST.REJECTED)
  redis.call('ZREM', dead_key(), ref)
  h.rsn = 'OPERATOR_REJECTED'
  save_hold(ref, h, CFG.retention)
  return reply('OK', h, 0)
end
local lines = spec_lines(h)
local pos = enqueue(ref, h, lines, tonumber(h.ttl), tonumber(ARGV[6]), tonumber(ARGV[7]),
  CFG.retention, now)
if pos == nil then return reply('QUEUE_FULL', h, 0) end
redis.call('ZREM', dead_key(), ref)
serve_queues(spec_skus(h), CFG, now)
local after = load_hold(ref)
return reply('OK', after, queue_position(after))
