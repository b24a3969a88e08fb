//! Opening the key database named by `--db` as an `Arc<dyn Store>`: its keys and its plans.
//!
//! Each backend is one arm of [`open`]: a SQLite file (a path or `sqlite:` URL), or, with the
//! `postgres` feature, a `postgres://` URL.

use std::path::Path;
use std::sync::Arc;

use keygate::{KeyManager, PlanManager};

/// What the commands need of a database: its keys and its plans.
pub trait Store: KeyManager + PlanManager {}

impl<S: KeyManager + PlanManager> Store for S {}
use keygate::key::KeyPrefix;
use keygate::store::sqlite::SqliteKeyStore;

use crate::failure::{Exit, Failure};

/// Whether a command may create the database (only `create` does; the others refuse a
/// missing file rather than make an empty one at a mistyped path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    CreateIfMissing,
    MustExist,
}

pub async fn open(db: &str, prefix: &KeyPrefix, mode: Mode) -> Result<Arc<dyn Store>, Failure> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return open_postgres(db, prefix, mode).await;
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    if mode == Mode::MustExist && !Path::new(path).exists() {
        return Err(Failure::new(
            Exit::Unavailable,
            format!(
                "no key database at {path} (check --db or KEYGATE_DB; `keygate create` makes one)"
            ),
        ));
    }
    let store = SqliteKeyStore::builder(path)
        .prefix(prefix.clone())
        .open()
        .await?;
    Ok(Arc::new(store))
}

/// A PostgreSQL database. `create` applies the shipped migrations first (harmless when they are
/// in place); the other commands expect them.
#[cfg(feature = "postgres")]
async fn open_postgres(
    url: &str,
    prefix: &KeyPrefix,
    mode: Mode,
) -> Result<Arc<dyn Store>, Failure> {
    let store = keygate::store::postgres::PostgresKeyStore::builder(url)
        .prefix(prefix.clone())
        .build()?;
    if mode == Mode::CreateIfMissing {
        store.migrate().await?;
    }
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(
    _url: &str,
    _prefix: &KeyPrefix,
    _mode: Mode,
) -> Result<Arc<dyn Store>, Failure> {
    Err(Failure::new(
        Exit::Invalid,
        "a postgres:// database needs the `postgres` feature, which this keygate was built \
         without (build it with --features cli,postgres)",
    ))
}
