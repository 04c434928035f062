-- The last step of a restore: starts the new generation.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4] generation, [5] sequence floor.
-- Replies {FENCED} or {OK}. Setting the generation is what reopens admission, so it happens
-- only here, after every chunk is in.
if not holds_epoch(ARGV[2], ARGV[3]) then
  return {'FENCED'}
end
redis.call('SET', P .. 'seq', ARGV[5])
redis.call('SET', P .. 'serving', ARGV[5])
redis.call('SET', P .. 'decided', '0')
redis.call('SET', P .. 'generation', ARGV[4])
return {'OK'}
