//! Key-store backends (`sqlite`, `postgres`, the `cache` in front of either) and what
//! they share: invalidations, expiry bounds, the boxed lookup future.
//!
//! The traits, the in-memory store and the types they work with are at the crate root:
//! [`KeyStore`], the lookup the layer makes on every request, and [`KeyManager`], the
//! management side (create, list, update, revoke, rotate), a second trait so a read-only
//! replica or a cache can serve the layer without it;
//! [`MemoryKeyStore`](crate::MemoryKeyStore) implements both.
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
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod definitions;
mod import;
#[cfg(any(feature = "cache", feature = "postgres"))]
mod invalidation;
pub(crate) mod lookup;
pub(crate) mod manage;
pub(crate) mod memory;
mod page;
pub(crate) mod plans;
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

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) use definitions::{Definitions, overrides, overrides_column, workspace_plan};
pub use import::{ImportKey, ImportedSecret, MIN_IMPORTED_TOKEN_LEN};
#[cfg(any(feature = "cache", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "cache", feature = "postgres"))))]
pub use invalidation::{Invalidation, InvalidationSender, Invalidations, invalidation_channel};
pub use manage::{LATEST_EXPIRY, MAX_EXPIRY_AHEAD, check_expiry};
pub use page::{
    DEFAULT_KEY_PAGE, InvalidCursor, KeyCursor, KeyListQuery, KeyPage, MAX_KEY_PAGE,
    MAX_NAME_PREFIX,
};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) use usage::UsageLog;

// Crate-internal paths; the public ones are at the crate root.
pub(crate) use lookup::{KeyStore, StoreError};
pub(crate) use manage::{CreatedKey, KeyInfo, KeyManager, KeyUpdate, NewKey};

use crate::record::KeyRecord;

/// A boxed lookup future, for stores whose lookups do I/O.
pub type BoxLookup =
    Pin<Box<dyn Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>> + Send + 'static>>;
