-- Published outcomes after a position, for every process's live hub.
-- ARGV: [1] prefix, [2] cursor, [3] most outcomes.
-- Replies {cursor used, {{position, id, student, course, state, code, decided}...}}.
--
-- Positions restart at 1 when a restore wipes the stream (or Redis lost it). A cursor beyond
-- the last position handed out can only come from before that, so reading starts over from the
-- beginning instead of skipping the new generation's first outcomes.
local cursor = ARGV[2]
if tonumber(cursor) > tonumber(redis.call('GET', P .. 'results-n') or '0') then
  cursor = '0'
end
local entries = entries_after(P .. 'results', cursor, ARGV[3])
local out = {}
for _, entry in ipairs(entries) do
  local f = entry_fields(entry)
  local position = string.match(entry[1], '^(%d+)-')
  out[#out + 1] = {position, f.id, f.student, f.course, f.state, f.code or '', f.decided}
end
return {cursor, out}
