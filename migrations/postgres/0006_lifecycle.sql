-- keygate: the rest of a key's lifecycle. A key may be disabled for a while (refused with
-- disabled_api_key until enabled), deleted (its row removed, its id never used again), and
-- imported from another scheme (found by the SHA-256 of its whole token).
ALTER TABLE keygate_keys ADD COLUMN disabled_at   timestamptz NULL;  -- since when it is disabled
ALTER TABLE keygate_keys ADD COLUMN legacy_digest bytea       NULL   -- SHA-256 of a foreign token
    CHECK (octet_length(legacy_digest) = 32);

-- An imported token is one key's only: lookups by digest find at most one row.
CREATE UNIQUE INDEX keygate_keys_legacy_digest ON keygate_keys (legacy_digest)
    WHERE legacy_digest IS NOT NULL;

-- The ids of deleted keys: never given to another key, by creation or import. (Their events
-- stay in keygate_audit.)
CREATE TABLE keygate_deleted_keys (
    id         text        PRIMARY KEY,
    workspace  text        NOT NULL,
    deleted_at timestamptz NOT NULL
);

-- Listings page through a workspace's keys by (created_at, id) in byte order: a cursor is a
-- position in this index. It serves what the index by (workspace, created_at) did.
CREATE INDEX keygate_keys_workspace_created_at_id
    ON keygate_keys (workspace, created_at, id COLLATE "C");
DROP INDEX keygate_keys_workspace_created_at;

-- What else an actor carries beside its kind and name: a leak report's URL.
ALTER TABLE keygate_audit ADD COLUMN actor_detail text NULL;
