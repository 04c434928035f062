-- A student's newest tickets the queue still holds. ARGV: [1] prefix, [2] student, [3] most
-- tickets to return (at least 1). Replies {ticket...}; tickets whose hash expired are skipped.
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. ARGV[2], '-' .. ARGV[3], -1)) do
  local ticket = ticket_reply(id)
  if ticket then
    out[#out + 1] = ticket
  end
end
return out
