-- Replaces every sold-out flag with the given courses, for the drain reconciling from the
-- database.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4...] course ids.
-- Replies {FENCED}, {RECOVERING} or {OK}. One script, so admission never sees the set empty
-- halfway through the replacement.
if not redis.call('GET', P .. 'generation') then
  return {'RECOVERING'}
end
if not holds_epoch(ARGV[2], ARGV[3]) then
  return {'FENCED'}
end
redis.call('DEL', P .. 'soldout')
if #ARGV >= 4 then
  in_slices('SADD', P .. 'soldout', 4, #ARGV)
end
return {'OK'}
