//! Opening the key database named by `--db` as an `Arc<dyn KeyManager>`.
//!
//! Each backend is one arm of [`open`]: a PostgreSQL store plugs in as a `postgres://` arm
//! behind its feature.

use std::path::Path;
use std::sync::Arc;

use keygate::store::SqliteKeyStore;
use keygate::{KeyManager, KeyPrefix};

use crate::failure::{Exit, Failure};

/// Whether a command may create the database (only `create` does; the others refuse a
/// missing file rather than make an empty one at a mistyped path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    CreateIfMissing,
    MustExist,
}

pub async fn open(
    db: &str,
    prefix: &KeyPrefix,
    mode: Mode,
) -> Result<Arc<dyn KeyManager>, Failure> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Err(Failure::new(
            Exit::Invalid,
            "a postgres:// database needs the `postgres` feature, which this keygate was built \
             without (build it with --features cli,postgres)",
        ));
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
