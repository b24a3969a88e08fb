-- keygate: API keys. Only the SHA-256 digest of a secret is stored, never the plaintext.
-- Times are integer microseconds since the Unix epoch.
CREATE TABLE keygate_keys (
    id                   TEXT    PRIMARY KEY NOT NULL,  -- the 12-character public key id
    name                 TEXT    NOT NULL,              -- e.g. production-backend
    digest               BLOB    NOT NULL CHECK (length(digest) = 32),
    previous_digest      BLOB    CHECK (previous_digest IS NULL OR length(previous_digest) = 32),
    previous_valid_until INTEGER,                       -- end of a rotation's grace period
    scopes               TEXT    NOT NULL,              -- canonical, comma-joined: read:all,write:all
    quota_burst          INTEGER,
    quota_interval_us    INTEGER,
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER,
    revoked_at           INTEGER,
    last_used_at         INTEGER,
    CHECK ((quota_burst IS NULL) = (quota_interval_us IS NULL)),
    CHECK ((previous_digest IS NULL) = (previous_valid_until IS NULL))
);

CREATE INDEX keygate_keys_created_at ON keygate_keys (created_at, name, id);
