//! The schema migrations shipped with the crate, applied by
//! [`PostgresKeyStore::migrate`](super::PostgresKeyStore::migrate).

use deadpool_postgres::Client;

/// Every migration, in order: its version and its SQL.
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_keys.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_workspaces.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_plans.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_overrides.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_audit.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_lifecycle.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_allowed_ips.sql"),
    ),
];

/// Serialises concurrent migrators (several instances starting at once): an arbitrary
/// constant, "keygate" in ASCII.
const LOCK: i64 = 0x006b_6579_6761_7465;

/// Applies the migrations not yet recorded in `keygate_schema_migrations`, in one transaction
/// under an advisory lock. Returns how many were applied.
pub(super) async fn apply(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS keygate_schema_migrations (\
             version integer PRIMARY KEY, \
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM keygate_schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO keygate_schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tracing::info!(version, "applied keygate migration");
        applied += 1;
    }
    tx.commit().await?;
    Ok(applied)
}
