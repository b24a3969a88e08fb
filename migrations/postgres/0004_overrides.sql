-- keygate: a key's own values for some of its plan's limits (`Overrides::to_json`), such as
-- {"monthly": {"max": 2000000}}. NULL for none: keys from before overrides are on their plan as
-- defined.
ALTER TABLE keygate_keys ADD COLUMN overrides jsonb NULL;
