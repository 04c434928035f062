-- The first step of a restore: forgets the generation and wipes the queue's shared state.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch. Replies {FENCED} or {OK}.
--
-- The generation goes first and comes back only in restore_finish.lua, so admission answers
-- RECOVERING for the whole rebuild instead of working against a half-filled duplicate check.
-- Ticket hashes stay: they expire on their own and still answer a student who asks.
if not holds_epoch(ARGV[2], ARGV[3]) then
  return {'FENCED'}
end
redis.call('DEL', P .. 'generation', P .. 'seq', P .. 'log', P .. 'dedupe', P .. 'soldout',
  P .. 'serving', P .. 'decided', P .. 'results', P .. 'results-n')
return {'OK'}
