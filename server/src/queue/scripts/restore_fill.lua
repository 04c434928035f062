-- One chunk of a restore: enrolled pairs into the duplicate check, or sold-out courses.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4] `enrolled` or `sold_out`,
-- [5...] `<student>:<course>` fields or course ids.
-- Replies {FENCED} or {OK}.
-- Each chunk checks the epoch, so a drainer that lost its lease mid-restore stops writing.
if not holds_epoch(ARGV[2], ARGV[3]) then
  return {'FENCED'}
end
if #ARGV < 5 then
  return {'OK'}
end
if ARGV[4] == 'enrolled' then
  local slice = 500
  for first = 5, #ARGV, slice do
    local fields = {}
    for i = first, math.min(first + slice - 1, #ARGV) do
      fields[#fields + 1] = ARGV[i]
      fields[#fields + 1] = 'enrolled'
    end
    redis.call('HSET', P .. 'dedupe', unpack(fields))
  end
else
  in_slices('SADD', P .. 'soldout', 5, #ARGV)
end
return {'OK'}
