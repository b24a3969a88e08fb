//! The conformance suite against `SqliteKeyStore`, each test on its own temporary database file.

#![cfg(feature = "sqlite")]

mod conformance;

use std::sync::Arc;
use std::time::Duration;

use keygate::key::{KeyDigest, KeyId};
use keygate::store::sqlite::{SqliteFuture, SqliteKeyStore};
use keygate::{KeyRecord, KeyStore};

/// A store on a file in a temporary directory that lives as long as the store.
struct TempStore {
    store: SqliteKeyStore,
    _dir: tempfile::TempDir,
}

async fn store() -> Option<TempStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteKeyStore::builder(dir.path().join("keys.db"))
        .flush_interval(Duration::from_millis(50))
        .open()
        .await
        .unwrap();
    Some(TempStore { store, _dir: dir })
}

impl KeyStore for TempStore {
    type Future = SqliteFuture<Option<Arc<KeyRecord>>>;
    fn get(&self, id: &KeyId) -> Self::Future {
        self.store.get(id)
    }
    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        self.store.get_by_digest(digest)
    }
    fn touch(&self, id: &KeyId) {
        self.store.touch(id)
    }
}

key_manager_via!(TempStore, store);
plan_manager_via!(TempStore, store);

store_conformance!(store());

mod plans {
    use super::*;
    plan_conformance!(store());
}
