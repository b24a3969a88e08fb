-- keygate: every key belongs to a workspace and carries metadata (a JSON object).
-- Keys made before workspaces existed land in `default`, with empty metadata, and keep working.
ALTER TABLE keygate_keys ADD COLUMN workspace TEXT NOT NULL DEFAULT 'default';
ALTER TABLE keygate_keys ADD COLUMN metadata  TEXT NOT NULL DEFAULT '{}';

-- Listings are per workspace, oldest first.
DROP INDEX IF EXISTS keygate_keys_created_at;
CREATE INDEX keygate_keys_workspace_created_at ON keygate_keys (workspace, created_at, name, id);

-- The name check on create and rename: names are unique among a workspace's unrevoked keys.
-- Not a UNIQUE index: a database from before workspaces may hold unrevoked keys sharing a name,
-- and they must keep working. The store checks and writes in one immediate transaction instead.
CREATE INDEX keygate_keys_workspace_name ON keygate_keys (workspace, name) WHERE revoked_at IS NULL;
