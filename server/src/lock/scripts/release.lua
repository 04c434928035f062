-- Compare-and-delete: a lock that expired and was taken by another holder is not ours to free.
-- KEYS[1] lock key; ARGV[1] our value.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
