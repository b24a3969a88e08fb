//! [`ApiKeyLayer`]: the tower layer.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::limit::RateLimiter;
use crate::policy::MethodPolicy;
use crate::respond::DefaultRejection;
use crate::store::KeyStore;

use super::builder::ApiKeyLayerBuilder;
use super::pipeline::Pipeline;
use super::service::ApiKeyService;

/// A tower layer that authenticates requests by API key, authorizes them by scope and
/// rate-limits them per key. Wraps services in [`ApiKeyService`].
///
/// The layer holds its configuration in an `Arc`: every service it builds (one per
/// connection, say) shares the same store and limiter, so limits hold across connections.
///
/// ```
/// use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter};
///
/// let layer = ApiKeyLayer::new(MemoryKeyStore::new(), MemoryRateLimiter::new());
/// # let _ = layer;
/// ```
pub struct ApiKeyLayer<K, L, P = MethodPolicy, R = DefaultRejection> {
    pipeline: Arc<Pipeline<K, L, P, R>>,
}

impl<K: KeyStore, L: RateLimiter> ApiKeyLayer<K, L> {
    /// A layer with the default settings (see [`ApiKeyLayerBuilder`]).
    pub fn new(store: K, limiter: L) -> Self {
        Self::builder(store, limiter).build()
    }

    /// A builder to configure the layer.
    ///
    /// The layer accepts keys of the store's [`prefix`](KeyStore::prefix), so a store that
    /// issues `acme_…` keys and its layer always agree.
    pub fn builder(store: K, limiter: L) -> ApiKeyLayerBuilder<K, L> {
        ApiKeyLayerBuilder::new(store, limiter)
    }
}

impl<K, L, P, R> ApiKeyLayer<K, L, P, R> {
    pub(crate) fn from_pipeline(pipeline: Pipeline<K, L, P, R>) -> Self {
        Self {
            pipeline: Arc::new(pipeline),
        }
    }
}

impl<K, L, P, R> Clone for ApiKeyLayer<K, L, P, R> {
    fn clone(&self) -> Self {
        Self {
            pipeline: Arc::clone(&self.pipeline),
        }
    }
}

impl<K, L, P, R> fmt::Debug for ApiKeyLayer<K, L, P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayer")
            .field("settings", &self.pipeline.settings)
            .finish_non_exhaustive()
    }
}

impl<S, K, L, P, R> Layer<S> for ApiKeyLayer<K, L, P, R> {
    type Service = ApiKeyService<S, K, L, P, R>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyService::new(inner, Arc::clone(&self.pipeline))
    }
}
