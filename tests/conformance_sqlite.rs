//! The conformance suite against `SqliteKeyStore`, each test on its own temporary database file.

#![cfg(feature = "sqlite")]

mod conformance;

use keygate::Workspace;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keygate::key::KeyId;
use keygate::store::sqlite::{SqliteFuture, SqliteKeyStore};
use keygate::{
    CreatedKey, KeyInfo, KeyManager, KeyRecord, KeyStore, KeyUpdate, NewKey, StoreError,
};

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
    fn touch(&self, id: &KeyId) {
        self.store.touch(id)
    }
}

#[async_trait]
impl KeyManager for TempStore {
    async fn create(&self, new: NewKey) -> Result<CreatedKey, StoreError> {
        self.store.create(new).await
    }
    async fn info(&self, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.store.info(id).await
    }
    async fn list(&self) -> Result<Vec<KeyInfo>, StoreError> {
        self.store.list(&Workspace::default()).await
    }
    async fn update(&self, id: &KeyId, update: KeyUpdate) -> Result<KeyInfo, StoreError> {
        self.store.update(id, update).await
    }
    async fn revoke(&self, id: &KeyId) -> Result<KeyInfo, StoreError> {
        self.store.revoke(id).await
    }
    async fn rotate(&self, id: &KeyId, grace: Duration) -> Result<CreatedKey, StoreError> {
        self.store.rotate(id, grace).await
    }
}

store_conformance!(store());
