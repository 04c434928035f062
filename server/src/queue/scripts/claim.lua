-- Hands the drain the next tickets after "now serving", in sequence order.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4] most tickets.
-- Replies {FENCED}, {RECOVERING} or {OK, {ticket...}}.
--
-- Log entry IDs are `<seq>-1`, so ID order is sequence order and the exclusive start
-- `(<serving>-1` is "every sequence number above serving". Marking queued tickets deciding in
-- the same step as reading them is what makes leave.lua's answer exact. Tickets already deciding
-- (a drainer died before settling) and cancelled ones come again until settle moves past them.
local refused = drain_refusal(ARGV[2], ARGV[3])
if refused then
  return refused
end

local serving = redis.call('GET', P .. 'serving') or '0'
local entries = entries_after(P .. 'log', serving, ARGV[4])
local claimed = {}
for _, entry in ipairs(entries) do
  local f = entry_fields(entry)
  local key = P .. 't:' .. f.id
  local state = redis.call('HGET', key, 'state')
  if not state then
    -- The log is the durable record; a lost hash is rebuilt from it so the drain still decides
    -- the ticket instead of skipping a student's place.
    redis.call('HSET', key, 'student', f.student, 'course', f.course, 'state', 'deciding', 'at', f.at)
  elseif state == 'queued' then
    redis.call('HSET', key, 'state', 'deciding')
  end
  claimed[#claimed + 1] = ticket_reply(f.id)
end
return {'OK', claimed}
