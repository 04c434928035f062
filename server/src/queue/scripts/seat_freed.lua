-- A seat came free: the course is no longer sold out, and the student (ARGV[3], '' for none)
-- may queue for it again.
-- ARGV: [1] prefix, [2] course, [3] student or ''.
-- Needs no generation or epoch: without state there is nothing to clear, and clearing a flag is
-- safe from any process (the drain re-flags the course if it is still full).
local course, student = ARGV[2], ARGV[3]
-- Moving the mark on first: a drain batch that read the old mark will not flag anything.
redis.call('INCR', P .. 'freed')
redis.call('SREM', P .. 'soldout', course)
if student ~= '' then
  local pair = student .. ':' .. course
  -- Only the enrolled marker: a ticket queued meanwhile keeps its place in the duplicate check.
  if redis.call('HGET', P .. 'dedupe', pair) == 'enrolled' then
    redis.call('HDEL', P .. 'dedupe', pair)
  end
end
return {'OK'}
