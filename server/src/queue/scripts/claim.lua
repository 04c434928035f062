-- Hands the drain the next tickets after "now serving", in sequence order, or after the ticket
-- [5]-[6] when it is of the current generation and past serving: the drain claims its next batch
-- while the one before is still being decided and settled.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4] most tickets, [5] generation and
-- [6] sequence number of the ticket to claim after ('' for serving).
-- Replies {FENCED}, {RECOVERING} or {OK, {ticket...}, freed mark}: the mark as it was before the
-- drain reads the database for these tickets.
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
local start = serving
if ARGV[5] == redis.call('GET', P .. 'generation') and tonumber(ARGV[6]) > tonumber(serving) then
  start = ARGV[6]
end
local entries = entries_after(P .. 'log', start, ARGV[4])
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
return {'OK', claimed, redis.call('GET', P .. 'freed') or '0'}
