-- Records the drain's outcomes and moves "now serving" past them.
-- ARGV: [1] prefix, [2] epoch key, [3] the caller's epoch, [4] the freed mark read before the
-- batch ('' to flag regardless), [5] number of outcomes n, then n times
-- {id, generation, seq, student, course, state, code ('' for none), decided ms}, then the ids
-- of courses now sold out. The courses are flagged only if no seat was freed since the mark:
-- a cancellation racing the batch would otherwise leave a free seat behind a sold-out flag.
-- Replies {FENCED}, {RECOVERING} or {OK, number of outcomes recorded}.
--
-- One script, so an outcome, its published result, the duplicate check and "now serving" change
-- together: a reader never sees serving past a ticket whose result is not published yet.
-- Idempotent: a recorded outcome marks its ticket `settled`; settling it again (a drainer retrying
-- after a timeout) changes nothing, publishes nothing and counts nothing. When the ticket's hash
-- has already expired, an outcome at or below serving is such a replay too.
local refused = drain_refusal(ARGV[2], ARGV[3])
if refused then
  return refused
end
local generation = redis.call('GET', P .. 'generation')

local serving = tonumber(redis.call('GET', P .. 'serving') or '0')
local highest = serving
local recorded = 0
local mark = ARGV[4]
local n = tonumber(ARGV[5])
local at = 6
for _ = 1, n do
  local id, gen_of, seq = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local student, course, state = ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]
  local code, decided = ARGV[at + 6], ARGV[at + 7]
  at = at + 8
  local current = gen_of == generation
  local key = P .. 't:' .. id
  local stored = redis.call('HMGET', key, 'state', 'settled')
  local replay
  if stored[2] then
    replay = true
  elseif not stored[1] then
    replay = not current or seq <= serving
  else
    replay = false
  end
  if not replay then
    -- A ticket the student cancelled keeps its own record; the drain's outcome only confirms it.
    if not stored[1] or stored[1] == 'queued' or stored[1] == 'deciding' then
      redis.call('HSET', key, 'student', student, 'course', course, 'state', state, 'decided', decided)
      if code ~= '' then
        redis.call('HSET', key, 'code', code)
      end
    end
    redis.call('HSET', key, 'settled', '1')
    redis.call('EXPIRE', key, KEEP_SECONDS)

    -- An enrolled pair stays a duplicate; any other outcome frees it, unless the student has
    -- since queued again with a newer ticket.
    local pair = student .. ':' .. course
    if state == 'enrolled' then
      redis.call('HSET', P .. 'dedupe', pair, 'enrolled')
    elseif redis.call('HGET', P .. 'dedupe', pair) == id then
      redis.call('HDEL', P .. 'dedupe', pair)
    end

    local position = redis.call('INCR', P .. 'results-n')
    redis.call('XADD', P .. 'results', 'MAXLEN', '~', '200000', string.format('%d', position) .. '-1',
      'id', id, 'student', student, 'course', course, 'state', state, 'code', code,
      'decided', decided)
    redis.call('INCR', P .. 'decided')
    recorded = recorded + 1
    if current and seq > highest then
      highest = seq
    end
  end
end

local freed = redis.call('GET', P .. 'freed') or '0'
if at <= #ARGV and (mark == '' or mark == freed) then
  in_slices('SADD', P .. 'soldout', at, #ARGV)
end

if highest > serving then
  redis.call('SET', P .. 'serving', string.format('%d', highest))
end
-- The log keeps only what is still to be decided: IDs below `<serving+1>-0` are settled.
redis.call('XTRIM', P .. 'log', 'MINID', string.format('%d', highest + 1))
return {'OK', recorded}
