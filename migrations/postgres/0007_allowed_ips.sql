-- keygate: the networks a key may be used from, as the comma-separated list of their canonical
-- CIDR ranges (`192.0.2.0/24,2001:db8::/32`). NULL: anywhere, as every key made before.
ALTER TABLE keygate_keys ADD COLUMN allowed_ips text NULL;
