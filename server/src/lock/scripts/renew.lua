-- Extends the lease only if the lock still holds our value (as ShedLock's own extension does).
-- KEYS[1] lock key; ARGV[1] our value, ARGV[2] lease ms.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
