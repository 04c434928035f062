-- The head of every queue script: redis.rs prepends this file to each one before loading it.
--
-- ARGV[1] is always the key prefix `classmate:<env>:`. Ticket, student and rate keys are only
-- known inside a script, so the scripts derive every key from the prefix instead of taking
-- KEYS; that ties the queue to one Redis node, which the fencing epoch key (outside the prefix)
-- requires anyway.

local P = ARGV[1]

-- How long a settled or cancelled ticket, and a student's ticket index, stay readable.
local KEEP_SECONDS = 3600

-- A ticket as redis.rs reads it: {id, student, course, state, code, admitted ms, decided ms},
-- absent fields as ''. nil when the ticket's hash is gone.
local function ticket_reply(id)
  local f = redis.call('HMGET', P .. 't:' .. id, 'student', 'course', 'state', 'code', 'at', 'decided')
  if not f[1] then
    return nil
  end
  return {id, f[1], f[2], f[3], f[4] or '', f[5] or '', f[6] or ''}
end

-- A stream entry's fields as a table: {field = value, ...}.
local function entry_fields(entry)
  local f = {}
  local raw = entry[2]
  for i = 1, #raw, 2 do
    f[raw[i]] = raw[i + 1]
  end
  return f
end

-- Whether `epoch` is the lease epoch in force. A missing counter matches no one: the lock's
-- state was lost with it, so no lease taken before is valid.
local function holds_epoch(epoch_key, epoch)
  local current = redis.call('GET', epoch_key)
  return current ~= false and tonumber(current) == tonumber(epoch)
end

-- What a script of the drain answers before it does anything: {RECOVERING} while the queue has
-- no generation, {FENCED} when `epoch` is not the lease epoch in force; nil when it may go on.
local function drain_refusal(epoch_key, epoch)
  if not redis.call('GET', P .. 'generation') then
    return {'RECOVERING'}
  end
  if not holds_epoch(epoch_key, epoch) then
    return {'FENCED'}
  end
  return nil
end

-- The entries of stream `key` after ID `<after>-1`, at most `count` of them. XRANGE with COUNT 0
-- answers nil, not an empty list, so a count of 0 reads nothing.
local function entries_after(key, after, count)
  if tonumber(count) > 0 then
    return redis.call('XRANGE', key, '(' .. after .. '-1', '+', 'COUNT', count)
  end
  return {}
end

-- Runs `command key <args...>` over ARGV[from..to] in slices, because Lua's unpack fails past a
-- few thousand values.
local function in_slices(command, key, from, to)
  local slice = 1000
  for first = from, to, slice do
    redis.call(command, key, unpack(ARGV, first, math.min(first + slice - 1, to)))
  end
end
