-- keygate: the audit log. One row per change to a key, written in the change's transaction.
-- `changes` is a JSON array of {"field", "before", "after"}; never a secret or a digest.
CREATE TABLE keygate_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us        INTEGER NOT NULL,
    workspace    TEXT    NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor_key_id TEXT    NULL,
    actor_name   TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    key_id       TEXT    NOT NULL,
    key_name     TEXT    NOT NULL,
    changes      TEXT    NOT NULL
);
CREATE INDEX keygate_audit_workspace ON keygate_audit (workspace, id);
CREATE INDEX keygate_audit_key ON keygate_audit (workspace, key_id, id);
