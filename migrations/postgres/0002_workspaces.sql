-- keygate: every key belongs to a workspace and carries metadata (a JSON object).
-- Keys made before workspaces existed land in `default`, with empty metadata, and keep working.
ALTER TABLE keygate_keys ADD COLUMN workspace text  NOT NULL DEFAULT 'default';
ALTER TABLE keygate_keys ADD COLUMN metadata  jsonb NOT NULL DEFAULT '{}';

-- Listings are per workspace, oldest first.
CREATE INDEX keygate_keys_workspace_created_at ON keygate_keys (workspace, created_at);

-- The name check on create and rename: names are unique among a workspace's unrevoked keys.
-- Not a UNIQUE index: a database from before workspaces may hold unrevoked keys sharing a name,
-- and they must keep working. The store checks and writes under a per-workspace advisory lock.
CREATE INDEX keygate_keys_workspace_name ON keygate_keys (workspace, name) WHERE revoked_at IS NULL;
