-- keygate: the rest of a key's lifecycle. Times are integer microseconds since the Unix epoch.

-- Disabled keys are refused with `disabled_api_key` until enabled again (NULL: enabled).
ALTER TABLE keygate_keys ADD COLUMN disabled_at INTEGER NULL;

-- A key imported in another format than this service's: the SHA-256 of its whole token, by
-- which a lookup finds it. NULL for keys in this service's format, found by their id.
ALTER TABLE keygate_keys ADD COLUMN legacy_digest BLOB NULL
    CHECK (legacy_digest IS NULL OR length(legacy_digest) = 32);
CREATE UNIQUE INDEX keygate_keys_legacy_digest ON keygate_keys (legacy_digest)
    WHERE legacy_digest IS NOT NULL;

-- The ids of deleted keys: their rows are gone, and an id here is never used again (the audit
-- log keeps what happened to it).
CREATE TABLE keygate_deleted_keys (
    id         TEXT    PRIMARY KEY NOT NULL,
    workspace  TEXT    NOT NULL,
    deleted_at INTEGER NOT NULL
);

-- Paged listings: a workspace's keys by creation time, then id (byte order).
CREATE INDEX keygate_keys_workspace_page ON keygate_keys (workspace, created_at, id);

-- What else names the actor of an event (a leak report's URL); NULL for most actors.
ALTER TABLE keygate_audit ADD COLUMN actor_detail TEXT NULL;
