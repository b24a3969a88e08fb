-- A lease of units for one key: gcra.lua's rule for up to ARGV[3] requests at once, in one
-- atomic step, for keygate::limit::lease::LeasedLimiter. Takes the largest n <= ARGV[3] for
-- which n requests in a row would be admitted now, or nothing.
--
-- KEYS[1]  the key's state, as gcra.lua keeps it: its theoretical arrival time (TAT) in
--          microseconds on this server's clock. Missing means "bucket full".
-- ARGV[1]  the emission interval in microseconds (an integer >= 1)
-- ARGV[2]  the window, burst x interval, in microseconds (an integer, at most 2^50)
-- ARGV[3]  the most units to take (an integer >= 1)
--
-- Reply: {taken, remaining, retry_after_us, reset_us}, all integers: gcra.lua's answer to the
-- last of `taken` requests in a row, or (taken 0) its refusal of one request, the state left
-- as it was. With ARGV[3] = 1 this is gcra.lua. Units go back through refund.lua, its
-- ARGV[1] set to units x interval.
--
-- Lua numbers are doubles: every value is an integer below 2^53, as in gcra.lua.

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
local want = tonumber(ARGV[3])

local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local start = math.max(tat, now)
-- Room in the bucket: n requests in a row pass while start + n x interval - now <= window.
local room = window - (start - now)
local taken = 0
if room >= interval then
  taken = math.min(want, div(room, interval))
end

if taken == 0 then
  local ahead = start + interval - now
  return {0, 0, ahead - window, start - now}
end

-- The key lives as long as its bucket takes to fill again (ms, rounded up), as in gcra.lua.
local ahead = start + interval * taken - now
redis.call('SET', KEYS[1], string.format('%d', now + ahead), 'PX', string.format('%d', div(ahead + 999, 1000)))
return {taken, div(window - ahead, interval), 0, ahead}
