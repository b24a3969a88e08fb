-- A lease of units for one key under a plan, for keygate::limit::lease::LeasedLimiter: the
-- largest n <= `want` that every limit of the plan admits at once, spent by admit.lua as one
-- request of cost n, all or nothing. Below `need` units (the request's own cost), nothing is
-- taken and admit.lua refuses a request of cost `need`, reporting every limit as it does.
--
-- Same KEYS and ARGV as admit.lua (ARGV[1]: `need`), then one more: ARGV[2 + 4 x #KEYS],
-- `want` (>= need). The script runs after counters.lua and before admit.lua, which is wrapped
-- in a function `admit` (see `LEASE` in src/limit/redis/usage/mod.rs).
--
-- Reply: {taken, then admit.lua's reply}.

-- The most units limit i admits now, by admit.lua's rules.
local function room(i, now, stored)
  local base = 2 + (i - 1) * 4
  local kind = ARGV[base]
  local a, b, c = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local stored_kind, x, y = parse(stored)
  if kind == 'r' then
    local interval, burst = a, b
    local window = math.min(interval * burst, MAX_WINDOW)
    local tat = 0
    if stored_kind == 'r' then
      tat = x
    end
    local free = window - (math.max(tat, now) - now)
    if free < interval then
      return 0
    end
    return math.min(div(free, interval), burst)
  end
  if kind == 'q' then
    local used = 0
    if stored_kind == 'q' and x >= b then
      used = y
    end
    return math.max(a - used, 0)
  end
  local _, balance = credits_now(stored, a, b, c)
  return balance
end

-- The units to take, written to ARGV[1] for admit.lua (`need` when fewer are free).
local function lease_units()
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  local need = tonumber(ARGV[1])
  local taken = tonumber(ARGV[2 + 4 * #KEYS])
  local stored = redis.call('MGET', unpack(KEYS))
  for i = 1, #KEYS do
    taken = math.min(taken, room(i, now, stored[i]))
  end
  if taken < need then
    return 0
  end
  ARGV[1] = string.format('%d', taken)
  return taken
end
