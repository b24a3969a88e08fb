-- keygate: the audit log. One row per change to a key, written in the change's transaction:
-- who made it, what was done, and the fields it changed (never a secret or a digest).
CREATE TABLE keygate_audit (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- later events, larger ids
    at           timestamptz NOT NULL,
    workspace    text        NOT NULL,
    actor_kind   text        NOT NULL,             -- key, cli or service
    actor_key_id text        NULL,                 -- the caller's key id, for actor_kind = key
    actor_name   text        NOT NULL,             -- the key's name, the OS user or the service
    action       text        NOT NULL,             -- create, update, rotate or revoke
    key_id       text        NOT NULL,
    key_name     text        NOT NULL,             -- the key's name after the change
    changes      jsonb       NOT NULL              -- [{"field", "before", "after"}]
);

-- The log is read a workspace at a time, newest first, and by key.
CREATE INDEX keygate_audit_workspace_id ON keygate_audit (workspace, id DESC);
CREATE INDEX keygate_audit_workspace_key_id ON keygate_audit (workspace, key_id, id DESC);
