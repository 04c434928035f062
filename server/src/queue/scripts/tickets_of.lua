-- A student's tickets the queue still holds. ARGV: [1] prefix, [2] student.
-- Replies {ticket...}; tickets whose hash expired are skipped.
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. ARGV[2], 0, -1)) do
  local ticket = ticket_reply(id)
  if ticket then
    out[#out + 1] = ticket
  end
end
return out
