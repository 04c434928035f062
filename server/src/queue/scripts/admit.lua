-- Admits a student's request for a course.
-- ARGV: [1] prefix, [2] student, [3] course, [4] now (Unix ms), [5] admissions per second
-- (0 = no limit), [6] most tickets the student may have open, queued or deciding (0 = no limit),
-- [7] the asking session's token id, or '' when the caller checked the session itself.
-- Replies {status} or {status, ticket}; status is RECOVERING, SESSION_UNKNOWN, LOGGED_OUT,
-- ALREADY_ENROLLED, ALREADY_QUEUED, SOLD_OUT, TOO_MANY_OPEN, RATE_LIMITED or QUEUED.
--
-- Why one script: Redis runs a script to the end before any other command, so the duplicate
-- check and the new ticket cannot interleave with another admission of the same pair (of fifty
-- simultaneous requests exactly one gets a ticket), and the rate counter cannot be overshot.
-- Why FIFO holds: the sequence number is taken (INCR) and the ticket appended to the log under
-- that very number in the same step, so log order is admission order; the drain reads the log
-- in ID order and only ever moves forward.
local student, course, now = ARGV[2], ARGV[3], ARGV[4]
local per_second = tonumber(ARGV[5])
local open_limit = tonumber(ARGV[6])

local generation = redis.call('GET', P .. 'generation')
if not generation then
  return {'RECOVERING'}
end

-- The session, read from the logged-out tokens that auth/revocations/revocations.lua keeps under
-- the same prefix, with the same rule: while `revocations:loaded` is missing (Redis lost its data
-- and the cache is not refilled yet) nothing is known, and the caller asks the database.
local session = ARGV[7]
if session ~= '' then
  if redis.call('EXISTS', P .. 'revocations:loaded') == 0 then
    return {'SESSION_UNKNOWN'}
  end
  if redis.call('EXISTS', P .. 'revoked:' .. session) == 1 then
    return {'LOGGED_OUT'}
  end
end

local pair = student .. ':' .. course
local held = redis.call('HGET', P .. 'dedupe', pair)
if held == 'enrolled' then
  return {'ALREADY_ENROLLED'}
end
if held then
  local ticket = ticket_reply(held)
  if ticket and (ticket[4] == 'queued' or ticket[4] == 'deciding') then
    return {'ALREADY_QUEUED', ticket}
  end
  -- The field outlived its ticket (settle and leave release it, so only a partial loss of
  -- state gets here); a stale entry must not keep the student out for good.
  redis.call('HDEL', P .. 'dedupe', pair)
end

if redis.call('SISMEMBER', P .. 'soldout', course) == 1 then
  return {'SOLD_OUT'}
end

-- `o:<student>` holds the student's open tickets. Whatever was decided, left, lost with an
-- older generation or expired since is dropped here, so the set never holds more than the
-- limit and no other script has to keep it.
local open_key = P .. 'o:' .. student
if open_limit > 0 then
  local open = 0
  for _, id in ipairs(redis.call('SMEMBERS', open_key)) do
    local ticket = ticket_reply(id)
    local current = string.sub(id, 1, #generation + 1) == generation .. '-'
    if current and ticket and (ticket[4] == 'queued' or ticket[4] == 'deciding') then
      open = open + 1
    else
      redis.call('SREM', open_key, id)
    end
  end
  if open >= open_limit then
    return {'TOO_MANY_OPEN'}
  end
end

if per_second > 0 then
  local window = P .. 'rate:' .. string.format('%d', math.floor(tonumber(now) / 1000))
  -- Only admissions count: a refused request must not eat the next one's place.
  if tonumber(redis.call('GET', window) or '0') >= per_second then
    return {'RATE_LIMITED'}
  end
  redis.call('INCR', window)
  redis.call('EXPIRE', window, 2)
end

-- string.format, not `..`: Lua would print a large number in exponent notation.
local seq = string.format('%d', redis.call('INCR', P .. 'seq'))
local id = generation .. '-' .. seq
-- The log entry first: if it fails (an ID not above the last one), nothing else is written.
redis.call('XADD', P .. 'log', seq .. '-1', 'id', id, 'student', student, 'course', course, 'at', now)
redis.call('HSET', P .. 't:' .. id, 'student', student, 'course', course, 'state', 'queued', 'at', now)
redis.call('HSET', P .. 'dedupe', pair, id)
local mine = P .. 's:' .. student
redis.call('ZADD', mine, seq, id)
redis.call('EXPIRE', mine, KEEP_SECONDS)
if open_limit > 0 then
  redis.call('SADD', open_key, id)
  redis.call('EXPIRE', open_key, KEEP_SECONDS)
end
return {'QUEUED', ticket_reply(id)}
