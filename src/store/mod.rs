//! Key stores: the [`KeyStore`] trait the layer reads from, the [`KeyManager`] trait operators
//! manage keys through, and the in-memory [`MemoryKeyStore`].
//!
//! The hot path needs one thing of a store: the record for a key id ([`KeyStore::get`]). Key
//! management (create, list, update, revoke, rotate) is a second trait, [`KeyManager`], so a
//! read-only replica or a cache can serve the layer without it.
//!
//! ```
//! use keygate::{KeyManager, KeyStore, MemoryKeyStore, NewKey, Scopes};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let created = store
//!     .create(NewKey::new("ci-pipeline".parse().unwrap(), "read:all,write:all".parse().unwrap()))
//!     .await
//!     .unwrap();
//! // The plaintext is returned once, here; the store keeps only its SHA-256 digest.
//! let record = store.get(&created.info.id).await.unwrap().unwrap();
//! assert_eq!(record.name.as_str(), "ci-pipeline");
//! assert!(!format!("{record:?}").contains(created.plaintext.expose_secret()));
//! # });
//! ```

#[cfg(any(feature = "cache", feature = "postgres"))]
mod abort;
#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub mod cache;
#[cfg(any(feature = "cache", feature = "postgres"))]
mod invalidation;
mod manage;
mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod usage;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "cache")]
#[cfg_attr(docsrs, doc(cfg(feature = "cache")))]
pub use cache::{CacheFuture, CachedKeyStore, CachedKeyStoreBuilder};
#[cfg(any(feature = "cache", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "cache", feature = "postgres"))))]
pub use invalidation::{Invalidation, InvalidationSender, Invalidations, invalidation_channel};
pub use manage::{
    CreatedKey, KeyInfo, KeyManager, KeyUpdate, LATEST_EXPIRY, MAX_EXPIRY_AHEAD, NewKey,
    check_expiry,
};
pub use memory::MemoryKeyStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresKeyStore, PostgresKeyStoreBuilder};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteFuture, SqliteKeyStore, SqliteKeyStoreBuilder};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) use usage::UsageLog;

use crate::BoxError;
use crate::key::{KeyId, KeyPrefix};
use crate::record::KeyRecord;

/// A boxed lookup future, for stores whose lookups do I/O.
pub type BoxLookup =
    Pin<Box<dyn Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send + 'static>>;

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered with an error. The layer answers
    /// 503 `auth_unavailable`, never 401.
    #[error("key store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The backend did not answer within the configured time (503 as well).
    #[error("key store did not answer within {0:?}")]
    Timeout(Duration),
    /// No key has this id.
    #[error("no key with id {0}")]
    NotFound(KeyId),
    /// The request was refused as invalid; nothing was changed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The request conflicts with the key's state (e.g. rotating a revoked key); nothing was
    /// changed.
    #[error("conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether this is a backend fault (unavailable or timed out) rather than an answer.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Timeout(_))
    }
}

/// The lookup side of a key store: what the layer needs on every request.
///
/// `get` returns a `'static`, `Unpin` future so the layer can hold it without boxing: an in-memory
/// store answers with [`std::future::Ready`], a database-backed one with its own future (a
/// boxed `async move` block owning a cloned pool handle is fine).
pub trait KeyStore: Send + Sync + 'static {
    /// The future returned by [`KeyStore::get`].
    type Future: Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>>
        + Send
        + Unpin
        + 'static;

    /// The record for `id`, or `None` if no key has that id.
    fn get(&self, id: &KeyId) -> Self::Future;

    /// Notes that key `id` was just used successfully. Called on the hot path: an
    /// implementation must not block (batch the writes). The default does nothing.
    fn touch(&self, id: &KeyId) {
        let _ = id;
    }

    /// The prefix of this store's keys (`kg` unless the store was given another).
    ///
    /// [`ApiKeyLayer`](crate::ApiKeyLayer) takes its prefix from here, so the layer and the
    /// store that issues the keys cannot disagree. A store of your own that issues keys with
    /// another prefix returns it here.
    fn prefix(&self) -> KeyPrefix {
        KeyPrefix::default()
    }
}

impl<K: KeyStore + ?Sized> KeyStore for Arc<K> {
    type Future = K::Future;

    fn get(&self, id: &KeyId) -> Self::Future {
        (**self).get(id)
    }

    fn touch(&self, id: &KeyId) {
        (**self).touch(id)
    }

    fn prefix(&self) -> KeyPrefix {
        (**self).prefix()
    }
}
