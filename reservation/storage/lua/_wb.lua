-- _wb.lua: helpers of the write-back scripts (wb_*.lua), prepended after the shared
-- libraries to those scripts only (see scripts.py).

-- Every consumer group of a stream as a table of XINFO GROUPS fields ({} if no stream).
local function stream_groups(stream)
  local out = {}
  if redis.call('EXISTS', stream) == 0 then return out end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local t = {}
    for i = 1, #g, 2 do t[g[i]] = g[i + 1] end
    out[#out + 1] = t
  end
  return out
end

-- One group's XINFO GROUPS fields, or nil when the group (or the stream) does not exist.
local function group_info(stream, group)
  for _, t in ipairs(stream_groups(stream)) do
    if t['name'] == group then return t end
  end
  return nil
end

-- A stream entry id as numbers (ms, seq), plus the ms part as written.
local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq), ms
end

-- Whether stream entry id a comes before b.
local function id_before(a, b)
  local ams, aseq = parse_id(a)
  local bms, bseq = parse_id(b)
  return ams < bms or (ams == bms and aseq < bseq)
end

-- The oldest entry a group still needs: its oldest pending entry, else the one after
-- the last it was delivered.
local function group_need(stream, info)
  if tonumber(info['pending']) > 0 then
    return redis.call('XPENDING', stream, info['name'], '-', '+', 1)[1][1]
  end
  local _, seq, ms = parse_id(info['last-delivered-id'])
  return ms .. '-' .. string.format('%d', seq + 1)
end

-- The newest entry the stream's cap trimmed ('0-0': none; see _lib.lua capped_xadd).
local function max_deleted(stream)
  return redis.call('GET', cut_key(stream)) or '0-0'
end

-- Whether the stream lost entries the group still needed: the cap (capped_xadd) trimmed
-- past what it had read or acknowledged. Acknowledging trims only below every group's
-- need (wb_ack), so nothing else makes this true; it stays true until the group is
-- recreated (bootstrap), because a broken group's pulls are refused.
local function group_broken(stream, info)
  local deleted = max_deleted(stream)
  return deleted ~= '0-0' and not id_before(deleted, group_need(stream, info))
end

-- Create a missing group where the stream's kept entries start: a group that did not
-- exist when older entries were trimmed starts with what the stream still holds, and is
-- not broken by a past it never had.
local function create_group(stream, group)
  redis.call('XGROUP', 'CREATE', stream, group, max_deleted(stream), 'MKSTREAM')
end
