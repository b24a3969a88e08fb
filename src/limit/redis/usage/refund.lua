
-- Gives back what an admitted request spent: the rule of keygate's MemoryUsageLimiter::refund,
-- in one atomic step. Same KEYS and ARGV as admit.lua, the periods numbered at the time the
-- request was counted. A rate's bucket is never made fuller than it is now; a quota's units go
-- back only while its counter is in the period that counted them; credits only within the
-- refill period that spent them (or always, without a refill).
--
-- Reply: the number of counters changed.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cost = tonumber(ARGV[1])
local changed = 0

for i = 1, #KEYS do
  local base = 2 + (i - 1) * 4
  local kind = ARGV[base]
  local a, b, c = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local stored_kind, x, y = parse(redis.call('GET', KEYS[i]))

  if kind == 'r' and stored_kind == 'r' and x > now then
    local tat = math.max(x - a * cost, now)
    -- The counter lives as long as its bucket takes to fill again (ms, rounded up).
    local px = math.floor((tat - now + 999) / 1000)
    if px > 0 then
      redis.call('SET', KEYS[i], string.format('r:%d', tat), 'PX', string.format('%d', px))
    else
      redis.call('DEL', KEYS[i])
    end
    changed = changed + 1
  elseif kind == 'q' and stored_kind == 'q' and x == b then
    redis.call('SET', KEYS[i], string.format('q:%d:%d', x, math.max(y - cost, 0)), 'KEEPTTL')
    changed = changed + 1
  elseif kind == 'c' and stored_kind == 'c' and (b == 0 or x == c) then
    redis.call('SET', KEYS[i], credits_value(x, math.min(y + cost, MAX_COUNT)))
    changed = changed + 1
  end
end
return changed
