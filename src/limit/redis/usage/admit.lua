
-- One request against every limit of a plan: the rule of keygate's MemoryUsageLimiter::admit,
-- in one atomic step. Admitted only if every limit admits it; then each counter spends the
-- request's cost. Refused, nothing is written.
--
-- KEYS[i]  the counter of the plan's i-th limit (1 to 8 keys)
-- ARGV[1]  the request's cost in units (1 to 1,000,000)
-- then four arguments per limit, in the order of KEYS:
--   'r', interval (microseconds, >= 1), burst, 0        a rate (GCRA on this server's TIME)
--   'q', max, period number, TTL (milliseconds)          a calendar quota
--   'c', initial, refill amount (0: none), refill period number (0: none)     credits
-- Periods are numbered by the application, from its wall clock.
--
-- Reply: {refused, then per limit: remaining, reset_us, retry_us}, all integers. `refused`
-- is the 1-based index of the first limit that refused, 0 when all admitted. retry_us is -1
-- for "no retry time". For quotas and credits, reset_us is 0 (the application knows its
-- period's end) and retry_us is 0 for "at the reset". A refused request reports the refusing
-- limit as it decided it, and every other limit as a request of cost 0 would see it.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cost = tonumber(ARGV[1])
local n = #KEYS

-- Every counter in one read (false for a missing one).
local stored = redis.call('MGET', unpack(KEYS))

-- Decides limit i for `units` (0: only report its state). Returns a table: admitted, the
-- value to store and its SET options if every limit admits, and the reported state.
local function decide(i, units)
  local base = 2 + (i - 1) * 4
  local kind = ARGV[base]
  local a, b, c = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local stored_kind, x, y = parse(stored[i])

  if kind == 'r' then
    local interval, burst = a, b
    local window = math.min(interval * burst, MAX_WINDOW)
    local tat = 0
    if stored_kind == 'r' then
      tat = x
    end
    if units == 0 then
      local ahead = math.max(tat - now, 0)
      return {ok = true, remaining = div(math.max(window - ahead, 0), interval), reset = ahead, retry = -1}
    end
    local start = math.max(tat, now)
    if units > burst then
      -- More than the burst: never admitted, so no retry time.
      return {ok = false, remaining = 0, reset = start - now, retry = -1}
    end
    local ahead = start + interval * units - now
    if ahead > window then
      return {ok = false, remaining = 0, reset = start - now, retry = ahead - window}
    end
    -- The counter lives as long as its bucket takes to fill again (ms, rounded up).
    return {ok = true, remaining = div(window - ahead, interval), reset = ahead, retry = -1,
      value = string.format('r:%d', now + ahead), px = div(ahead + 999, 1000)}
  end

  if kind == 'q' then
    local max, period, ttl = a, b, c
    local counted, used = period, 0
    if stored_kind == 'q' and x >= period then
      -- This period, or a newer one counted by an instance whose clock is ahead: a period
      -- that has ended is never counted again.
      counted, used = x, y
    end
    local ok = used + units <= max
    local after = used
    if ok then
      after = used + units
    end
    local retry = -1
    if not ok and units <= max then
      retry = 0
    end
    local result = {ok = ok, remaining = math.max(max - after, 0), reset = 0, retry = retry,
      value = string.format('q:%d:%d', counted, after)}
    if counted == period then
      result.px = ttl
    end
    return result
  end

  -- Credits: never expire.
  local initial, amount, period = a, b, c
  local refilled, balance = credits_now(stored[i], initial, amount, period)
  local ok = balance >= units
  local after = balance
  if ok then
    after = balance - units
  end
  local retry = -1
  if not ok and amount > 0 and amount >= units then
    retry = 0
  end
  return {ok = ok, remaining = after, reset = 0, retry = retry, value = credits_value(refilled, after)}
end

local results = {}
local refused = 0
for i = 1, n do
  results[i] = decide(i, cost)
  if not results[i].ok and refused == 0 then
    refused = i
  end
end

if refused == 0 then
  for i = 1, n do
    local r = results[i]
    if r.px then
      redis.call('SET', KEYS[i], r.value, 'PX', string.format('%d', r.px))
    elseif r.value:sub(1, 1) == 'q' then
      -- A newer period than this instance's: keep the TTL that its own instance set.
      redis.call('SET', KEYS[i], r.value, 'KEEPTTL')
    else
      redis.call('SET', KEYS[i], r.value)
    end
  end
else
  -- A refused request leaves every counter as it was, and reports them so.
  for i = 1, n do
    if i ~= refused then
      results[i] = decide(i, 0)
    end
  end
end

local reply = {refused}
for i = 1, n do
  local r = results[i]
  reply[#reply + 1] = r.remaining
  reply[#reply + 1] = r.reset
  reply[#reply + 1] = r.retry
end
return reply
