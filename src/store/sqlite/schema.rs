//! The SQLite schema: connection settings and the migrations applied when a store opens.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::rows::{to_micros, unavailable};
use crate::store::StoreError;

/// Every migration, oldest first: `(version, SQL)`. A database records the versions it has in
/// `keygate_schema_migrations`; opening applies the missing ones, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0001_keys.sql"
        )),
    ),
    (
        2,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0002_workspaces.sql"
        )),
    ),
    (
        3,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0003_plans.sql"
        )),
    ),
    (
        4,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0004_overrides.sql"
        )),
    ),
    (
        5,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0005_audit.sql"
        )),
    ),
    (
        6,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0006_lifecycle.sql"
        )),
    ),
    (
        7,
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0007_allowed_ips.sql"
        )),
    ),
];

/// The newest schema version this build knows.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Sets the busy timeout, WAL journaling (so readers never wait for a writer) and
/// `synchronous = NORMAL` (durable across a process crash; WAL's recommended setting).
pub(super) fn configure(conn: &Connection, busy_timeout: Duration) -> Result<(), StoreError> {
    conn.busy_timeout(busy_timeout).map_err(unavailable)?;
    // An in-memory database answers `memory`: that is fine too.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(unavailable)?;
    // Keys and workspaces refer to plans: the database keeps them from referring to none.
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(unavailable)?;
    Ok(())
}

/// Applies the migrations this database lacks, in one transaction. Refuses a database written
/// by a newer keygate rather than guessing at its schema.
pub(super) fn migrate(conn: &mut Connection, now: std::time::SystemTime) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS keygate_schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER
         )",
    )
    .map_err(unavailable)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM keygate_schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(unavailable)?;
    let latest = latest_version();
    if current > latest {
        return Err(StoreError::Unavailable(
            format!(
                "the database has keygate schema version {current}, newer than this build knows \
                 ({latest}): upgrade keygate"
            )
            .into(),
        ));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql).map_err(unavailable)?;
        tx.execute(
            "INSERT INTO keygate_schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, to_micros(now)),
        )
        .map_err(unavailable)?;
    }
    tx.commit().map_err(unavailable)
}
