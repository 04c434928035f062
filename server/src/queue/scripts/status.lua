-- The queue at a glance, read in one step so the numbers agree with each other.
-- ARGV: [1] prefix.
-- Replies {generation or '', serving, last seq, depth, oldest admitted ms or '', decided}.
local oldest = ''
local first = redis.call('XRANGE', P .. 'log', '-', '+', 'COUNT', 1)
if first[1] then
  oldest = entry_fields(first[1]).at or ''
end
return {
  redis.call('GET', P .. 'generation') or '',
  redis.call('GET', P .. 'serving') or '0',
  redis.call('GET', P .. 'seq') or '0',
  redis.call('XLEN', P .. 'log'),
  oldest,
  redis.call('GET', P .. 'decided') or '0',
}
