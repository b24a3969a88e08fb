
-- Adds credits to one counter, refills applied first; the balance is held at 2^53 - 1.
--
-- KEYS[1]  the counter
-- ARGV     initial balance, refill amount (0: none), refill period number (0: none), amount
-- Reply:   the new balance
local refilled, balance = credits_now(redis.call('GET', KEYS[1]), tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
balance = math.min(balance + tonumber(ARGV[4]), MAX_COUNT)
-- Credits never expire: SET without PX also clears any TTL.
redis.call('SET', KEYS[1], credits_value(refilled, balance))
return balance
