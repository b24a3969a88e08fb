//! The [`KeyStore`] trait: what the layer reads on every request, and [`StoreError`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::BoxError;
use crate::key::{KeyDigest, KeyId, KeyPrefix};
use crate::record::{KeyName, KeyRecord};
use crate::workspace::Workspace;

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
    /// An unrevoked key of the workspace already has this name; nothing was changed.
    #[error(
        "workspace {workspace} already has a key named {name}: choose another name, or revoke that key first"
    )]
    NameTaken {
        /// The workspace.
        workspace: Workspace,
        /// The name asked for.
        name: KeyName,
    },
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

    /// The key imported in another format whose whole token has `digest`
    /// ([`KeyRecord::legacy_digest`]), for a layer built with
    /// [`imported_keys(true)`](crate::ApiKeyLayerBuilder::imported_keys). `None` (the default)
    /// when the store keeps no such keys: such tokens are then refused as malformed.
    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        let _ = digest;
        None
    }

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

    fn get_by_digest(&self, digest: &KeyDigest) -> Option<Self::Future> {
        (**self).get_by_digest(digest)
    }

    fn touch(&self, id: &KeyId) {
        (**self).touch(id)
    }

    fn prefix(&self) -> KeyPrefix {
        (**self).prefix()
    }
}
