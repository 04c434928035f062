-- Takes a queued ticket out of the queue.
-- ARGV: [1] prefix, [2] student, [3] ticket id, [4] now (Unix ms).
-- Replies {RECOVERING}, {NOT_FOUND}, or {LEFT|DECIDING|ALREADY_TERMINAL, ticket}.
--
-- Atomic against claim.lua, which turns queued tickets into deciding ones in one step: a ticket
-- is either cancelled here before the drain sees it (the drain then records the cancellation)
-- or already deciding, and then it stays.
local student, id, now = ARGV[2], ARGV[3], ARGV[4]

if not redis.call('GET', P .. 'generation') then
  return {'RECOVERING'}
end

local ticket = ticket_reply(id)
if not ticket or ticket[2] ~= student then
  return {'NOT_FOUND'}
end
if ticket[4] == 'deciding' then
  return {'DECIDING', ticket}
end
if ticket[4] ~= 'queued' then
  return {'ALREADY_TERMINAL', ticket}
end

local key = P .. 't:' .. id
redis.call('HSET', key, 'state', 'cancelled', 'decided', now)
redis.call('EXPIRE', key, KEEP_SECONDS)
-- The entry stays in the log: the drain claims it, records the cancellation and moves past it.
local pair = student .. ':' .. ticket[3]
if redis.call('HGET', P .. 'dedupe', pair) == id then
  redis.call('HDEL', P .. 'dedupe', pair)
end
return {'LEFT', ticket_reply(id)}
