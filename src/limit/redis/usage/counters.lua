-- The counters of keygate's usage limiter (src/limit/redis/usage/mod.rs): shared by
-- admit.lua, lease.lua, refund.lua, credits.lua and top_up.lua, which each start with this file.
--
-- One Redis string per counter, a decimal text Lua parses back exactly:
--   r:<tat>                 a rate: GCRA's theoretical arrival time, in microseconds on this
--                           server's clock (missing: a full bucket)
--   q:<period>:<used>       a calendar quota: units admitted in the period numbered <period>
--                           (the day it starts on, counted from 1970-01-01)
--   c:<refilled>:<balance>  credits: the balance, and the refill period it was last refilled in
--
-- Lua numbers are doubles: counts are held at or below 2^53 - 1 so that all arithmetic is exact,
-- and numbers are written with %d, never as floats.

-- Redis < 5 replicates scripts verbatim unless told otherwise; TIME needs effects replication.
if redis.replicate_commands then
  redis.replicate_commands()
end

local MAX_COUNT = 9007199254740991
local MAX_WINDOW = 1125899906842624 -- a rate's longest window: 2^50 microseconds, about 35.7 years

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

-- A stored counter: its kind ('r', 'q', 'c', or nil when missing or unreadable) and numbers.
local function parse(value)
  if not value then
    return nil
  end
  local tat = string.match(value, '^r:(%d+)$')
  if tat then
    return 'r', tonumber(tat)
  end
  local kind, a, b = string.match(value, '^([qc]):(%-?%d+):(%d+)$')
  if kind then
    return kind, tonumber(a), tonumber(b)
  end
  return nil
end

-- A credits counter as it stands now: {refilled, balance}. A new counter (or one counted as
-- another kind before its plan changed) starts at `initial`; a refill (`amount` > 0) raises the
-- balance to `amount` once per refill period `period`. A period older than the stored one (an
-- instance whose clock is behind) never refills again.
local function credits_now(value, initial, amount, period)
  local kind, refilled, balance = parse(value)
  if kind ~= 'c' then
    return period, initial
  end
  if amount > 0 and period > refilled then
    return period, math.max(balance, amount)
  end
  return refilled, balance
end

local function credits_value(refilled, balance)
  return string.format('c:%d:%d', refilled, balance)
end
