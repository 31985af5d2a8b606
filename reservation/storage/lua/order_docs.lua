-- order_docs.lua: a page of one shard's orders by creation time, their documents in one
-- call (a backtest reads a month of orders: one command per order would cost more than
-- deciding them). Read-only. Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the shard's order index rsv:{N}:oidx
-- ARGV[1]  the shard's key prefix "rsv:{N}:"
-- ARGV[2]  low created ms (inclusive)   ARGV[3] high created ms (inclusive)
-- ARGV[4]  after: the last (created ms) of the previous page, -1 for the first page
-- ARGV[5]  after: the last ref of the previous page ('' for the first page)
-- ARGV[6]  count: at most this many orders
-- Returns {last created ms, last ref, doc, doc, ...}: the page's position (to pass as
-- ARGV[4..5] next time; "" when the page is empty) and the documents of the orders in
-- it (an order whose record expired since the index was written is left out).

local prefix, low, high = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local after_score, after_ref, count = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local from = low
if after_score > from then from = after_score end
-- Entries at after_score with refs up to after_ref were in the previous page: fetch a
-- few more than count and skip them (ties are rare: refs created in the same ms).
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], from, high, 'WITHSCORES', 'LIMIT', 0,
                        count + 256)
local out = {'', ''}
local n = 0
for k = 1, #rows, 2 do
  local ref, score = rows[k], tonumber(rows[k + 1])
  if score > after_score or ref > after_ref then
    if n == count then break end
    n = n + 1
    out[1], out[2] = rows[k + 1], ref
    local doc = redis.call('HGET', prefix .. 'ord:' .. ref, 'doc')
    if doc then out[#out + 1] = doc end
  end
end
return out
