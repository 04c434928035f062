-- Raises the fencing epoch to at least ARGV[2] while we hold the lock, and returns it.
-- KEYS[1] lock key, KEYS[2] epoch key; ARGV[1] our value, ARGV[2] floor.
-- Returns -1 when the lock is no longer ours: only the holder may move the epoch.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local floor = tonumber(ARGV[2])
if epoch < floor then
  redis.call('SET', KEYS[2], floor)
  return floor
end
return epoch
