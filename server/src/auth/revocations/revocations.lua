-- Logged-out session tokens in Redis, a cache of the database's `revoked_tokens`.
-- ARGV: [1] the key prefix `classmate:<env>:`, [2] the operation, then its arguments:
--   revoke <jti> <expiry ms>          -> {OK}
--   check <jti>                       -> {REVOKED}, {VALID} or {UNKNOWN}
--   begin <token> <lease ms>          -> {OK}
--   fill <token> (<jti> <expiry ms>)* -> {OK} or {LOST}
--   finish <token>                    -> {OK} or {LOST}
--
-- Why the `loaded` key: Redis can lose its data (a restart without persistence, a FLUSHALL).
-- Then `check` must not answer VALID for a token the database knows is logged out, so it
-- answers UNKNOWN until a refill from the database has finished, and the caller asks the
-- database meanwhile. Each operation is one script, so `check` reads `loaded` and the token's
-- key with nothing in between.
--
-- Why the `loading` token: a refill writes in several calls. If the data is lost between two
-- of them, `loading` goes too, and `finish` refuses to mark the cache loaded over entries that
-- were never written.
local P = ARGV[1]
local op = ARGV[2]
local loaded = P .. 'revocations:loaded'
local loading = P .. 'revocations:loading'

if op == 'revoke' then
  redis.call('SET', P .. 'revoked:' .. ARGV[3], '1', 'PXAT', ARGV[4])
  return {'OK'}
end

if op == 'check' then
  if redis.call('EXISTS', loaded) == 0 then
    return {'UNKNOWN'}
  end
  if redis.call('EXISTS', P .. 'revoked:' .. ARGV[3]) == 1 then
    return {'REVOKED'}
  end
  return {'VALID'}
end

if op == 'begin' then
  redis.call('SET', loading, ARGV[3], 'PX', ARGV[4])
  return {'OK'}
end

if redis.call('GET', loading) ~= ARGV[3] then
  return {'LOST'}
end

if op == 'fill' then
  for i = 4, #ARGV - 1, 2 do
    redis.call('SET', P .. 'revoked:' .. ARGV[i], '1', 'PXAT', ARGV[i + 1])
  end
  return {'OK'}
end

if op == 'finish' then
  redis.call('SET', loaded, '1')
  redis.call('DEL', loading)
  return {'OK'}
end

return redis.error_reply('unknown revocations operation ' .. tostring(op))
