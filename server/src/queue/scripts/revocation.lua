-- Revoking a session token, or asking whether one is revoked.
-- ARGV: [1] prefix, [2] `revoke` or `check`, [3] the token's jti, [4] for revoke: when the token
-- expires anyway (Unix ms). Replies {OK}, {REVOKED} / {VALID}, or {RECOVERING}.
--
-- The database holds every revocation; Redis holds them too so that checking a token costs no
-- database read. While the queue is being rebuilt the check answers RECOVERING and the caller
-- asks the database, so a lost Redis never lets a logged-out token back in.
local key = P .. 'revoked:' .. ARGV[3]
if ARGV[2] == 'revoke' then
  redis.call('SET', key, '1', 'PXAT', ARGV[4])
  return {'OK'}
end
if not redis.call('GET', P .. 'generation') then
  return {'RECOVERING'}
end
if redis.call('EXISTS', key) == 1 then
  return {'REVOKED'}
end
return {'VALID'}
