-- keygate key store: one row per key. Only the SHA-256 digest of a secret is kept.
CREATE TABLE keygate_keys (
    id                   text        PRIMARY KEY,          -- the 12-character public key id
    name                 text        NOT NULL,
    digest               bytea       NOT NULL CHECK (octet_length(digest) = 32),
    previous_digest      bytea       NULL CHECK (octet_length(previous_digest) = 32),
    previous_valid_until timestamptz NULL,                 -- end of a rotation's grace period
    scopes               text        NOT NULL,             -- canonical, comma-joined: read:all,write:all
    quota_burst          integer     NULL,
    quota_interval_us    bigint      NULL,                 -- refill interval in microseconds
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NULL,
    revoked_at           timestamptz NULL,
    last_used_at         timestamptz NULL,
    CHECK ((quota_burst IS NULL) = (quota_interval_us IS NULL)),
    CHECK ((previous_digest IS NULL) = (previous_valid_until IS NULL))
);
