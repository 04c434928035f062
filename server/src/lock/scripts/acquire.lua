-- Takes a ShedLock lock and opens a new fencing epoch, in one step.
-- KEYS[1] lock key (job-lock:<env>:<name>), KEYS[2] epoch key; ARGV[1] value, ARGV[2] lease ms.
-- Atomic so that no holder ever runs with an epoch another acquisition also got: the epoch is
-- incremented only by a SET NX that succeeded.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
