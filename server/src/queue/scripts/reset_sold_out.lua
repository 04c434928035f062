-- Replaces every sold-out flag with the given courses, for the drain reconciling from the
-- database.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4] the freed mark read before the
-- database ('' for none), [5...] course ids.
-- Replies {FENCED}, {RECOVERING}, {STALE} (a seat was freed since the mark: the list may name a
-- course with a seat again, so nothing changes) or {OK}. One script, so admission never sees
-- the set empty halfway through the replacement.
local refused = drain_refusal(ARGV[2], ARGV[3])
if refused then
  return refused
end
local freed = redis.call('GET', P .. 'freed') or '0'
if ARGV[4] ~= '' and ARGV[4] ~= freed then
  return {'STALE'}
end
redis.call('DEL', P .. 'soldout')
if #ARGV >= 5 then
  in_slices('SADD', P .. 'soldout', 5, #ARGV)
end
return {'OK'}
