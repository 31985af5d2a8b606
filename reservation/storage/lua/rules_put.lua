-- rules_put.lua: store a new version of the routing rule set and make it current.
-- Library-free (scripts.STANDALONE).
--
-- KEYS[1]  the rule set hash   rsv:{routing}:rules
--          fields: current -> version in force, next -> last version given out,
--          v:<n> -> the version's record (JSON, written by the client)
-- ARGV[1]  expected current version (0: any)
-- ARGV[2]  the record (JSON)
-- ARGV[3]  versions kept (older records are deleted: the trimming rule of the key)
-- Returns  {'OK', version} or {'CONFLICT', current version}

local current = tonumber(redis.call('HGET', KEYS[1], 'current') or '0')
local expected = tonumber(ARGV[1])
if expected ~= 0 and expected ~= current then return {'CONFLICT', current} end

local version = redis.call('HINCRBY', KEYS[1], 'next', 1)
redis.call('HSET', KEYS[1], 'v:' .. version, ARGV[2], 'current', version)
local keep = tonumber(ARGV[3])
if version > keep then redis.call('HDEL', KEYS[1], 'v:' .. (version - keep)) end
return {'OK', version}
