
-- The balance of one credits counter, refills applied; nothing is written.
--
-- KEYS[1]  the counter
-- ARGV     initial balance, refill amount (0: none), refill period number (0: none)
-- Reply:   the balance
local _, balance = credits_now(redis.call('GET', KEYS[1]), tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
return balance
