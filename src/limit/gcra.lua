-- GCRA for one key: the rule of keygate::limit::gcra::decide, on the server's clock.
--
-- KEYS[1]  the key's state: its theoretical arrival time (TAT), in microseconds since the Unix
--          epoch on this server's clock, as a decimal integer. Missing means "bucket full".
-- ARGV[1]  the emission interval in microseconds (an integer >= 1)
-- ARGV[2]  the window, burst x interval, in microseconds (an integer, at most 2^50)
--
-- Reply: {allowed (1 or 0), remaining, retry_after_us, reset_us}, all integers.
--
-- Lua numbers are doubles: every value here is an integer below 2^53 (now is about 1.8e15 us,
-- the window at most 2^50 us), so all arithmetic is exact. Numbers go to Redis as strings
-- formatted with %d and come back as integers, never as floats (which Redis would truncate).

-- Redis < 5 replicates scripts verbatim unless told otherwise; TIME needs effects replication.
if redis.replicate_commands then
  redis.replicate_commands()
end

-- floor(a / b) for non-negative integers, corrected for the rounding of the double division.
local function div(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])

local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local start = math.max(tat, now)
local new_tat = start + interval
local ahead = new_tat - now

if ahead <= window then
  -- The key lives exactly as long as its bucket takes to fill again (ms, rounded up): an idle
  -- key expires on its own, and an expired key means the same as a full bucket.
  local ttl_ms = div(ahead + 999, 1000)
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', ttl_ms))
  return {1, div(window - ahead, interval), 0, ahead}
end

-- Refused: the state does not move.
return {0, 0, ahead - window, start - now}
