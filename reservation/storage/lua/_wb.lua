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
