-- Gives one unit back to a key: the rule of MemoryRateLimiter::give_back, on the server's clock.
--
-- KEYS[1]  the key's state, as gcra.lua keeps it: its theoretical arrival time (TAT) in
--          microseconds on this server's clock. Missing means "bucket full".
-- ARGV[1]  the emission interval in microseconds (an integer >= 1)
--
-- The TAT moves back by one interval, never earlier than now (a full bucket: the key is
-- deleted, as gcra.lua lets a full bucket expire). A missing or full key is left alone.
-- Reply: 1 when a unit was given back, 0 when none had been spent.

if redis.replicate_commands then
  redis.replicate_commands()
end

local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if not tat then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
if tat <= now then
  return 0
end

local back = tat - tonumber(ARGV[1])
if back <= now then
  redis.call('DEL', KEYS[1])
  return 1
end

-- ceil((back - now) / 1000) ms, exact for integers below 2^53.
local ahead = back - now
local ttl_ms = math.floor(ahead / 1000)
if ttl_ms * 1000 < ahead then
  ttl_ms = ttl_ms + 1
end
redis.call('SET', KEYS[1], string.format('%d', back), 'PX', string.format('%d', ttl_ms))
return 1
