//! [`ApiKeyLayer`]: the tower layer, and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::key::KeyPrefix;
use crate::limit::{FailureLimit, FailureLimiter, FailurePolicy, Quota, RateLimiter};
use crate::policy::{MethodPolicy, ScopePolicy};
use crate::ratelimit_headers::{HeaderStyle, RateLimitHeaders};
pub(crate) use crate::realm::InvalidRealm;
use crate::realm::Realm;
use crate::respond::{DefaultRejection, RejectionResponder};
use crate::service::ApiKeyService;
use crate::store::KeyStore;
use crate::transport::ProxyHeader;

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
    config: Arc<Config<K, L, P, R>>,
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
        let prefix = store.prefix();
        ApiKeyLayerBuilder {
            store,
            limiter,
            policy: MethodPolicy,
            responder: DefaultRejection::default(),
            prefix,
            realm: Realm::default(),
            default_quota: None,
            headers: RateLimitHeaders::default(),
            require_https: false,
            trusted_proxy: None,
            limiter_failure: FailurePolicy::default(),
            unavailable_retry_after: Duration::from_secs(5),
            clock: Arc::new(SystemClock::new()),
            failure_limit: Some(FailureLimit::default()),
        }
    }
}

impl<K, L, P, R> Clone for ApiKeyLayer<K, L, P, R> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
        }
    }
}

impl<K, L, P, R> fmt::Debug for ApiKeyLayer<K, L, P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayer")
            .field("prefix", &self.config.prefix)
            .field("realm", &self.config.realm)
            .field("default_quota", &self.config.default_quota)
            .field("require_https", &self.config.require_https)
            .field("failure_limit", &self.config.failures.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, K, L, P, R> Layer<S> for ApiKeyLayer<K, L, P, R> {
    type Service = ApiKeyService<S, K, L, P, R>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyService::new(inner, Arc::clone(&self.config))
    }
}

/// Configures an [`ApiKeyLayer`].
///
/// | setting | default |
/// |---|---|
/// | [`policy`](Self::policy) | [`MethodPolicy`]: `read:all` for safe methods, `write:all` otherwise |
/// | [`rejection_response`](Self::rejection_response) | [`DefaultRejection`]: problem+json, or gRPC status |
/// | [`realm`](Self::realm) | `api` |
/// | [`default_quota`](Self::default_quota) | none: keys without a quota of their own are not limited |
/// | [`rate_limit_headers`](Self::rate_limit_headers) | IETF `RateLimit` / `RateLimit-Policy` |
/// | [`require_https`](Self::require_https) | off |
/// | [`trusted_proxy_header`](Self::trusted_proxy_header) | none: only the TLS acceptor's [`SecureTransport`](crate::SecureTransport) makes a request HTTPS |
/// | [`on_limiter_failure`](Self::on_limiter_failure) | fail closed (503) |
/// | [`unavailable_retry_after`](Self::unavailable_retry_after) | 5 s |
/// | [`failure_limit`](Self::failure_limit) | on, [`FailureLimit::default`] (off with [`without_failure_limit`](Self::without_failure_limit)) |
///
/// The key prefix is not a setting of its own: the layer accepts the keys of its store's
/// [`prefix`](KeyStore::prefix).
pub struct ApiKeyLayerBuilder<K, L, P = MethodPolicy, R = DefaultRejection> {
    store: K,
    limiter: L,
    policy: P,
    responder: R,
    prefix: KeyPrefix,
    realm: Realm,
    default_quota: Option<Quota>,
    headers: RateLimitHeaders,
    require_https: bool,
    trusted_proxy: Option<ProxyHeader>,
    limiter_failure: FailurePolicy,
    unavailable_retry_after: Duration,
    clock: Arc<dyn Clock>,
    failure_limit: Option<FailureLimit>,
}

impl<K, L, P, R> fmt::Debug for ApiKeyLayerBuilder<K, L, P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayerBuilder")
            .field("prefix", &self.prefix)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl<K, L, P, R> ApiKeyLayerBuilder<K, L, P, R>
where
    K: KeyStore,
    L: RateLimiter,
    P: ScopePolicy,
    R: RejectionResponder,
{
    /// Decides which scope each request needs (a [`ScopePolicy`], e.g. a
    /// [`RoutePolicy`](crate::policy::RoutePolicy) or a closure).
    pub fn policy<P2: ScopePolicy>(self, policy: P2) -> ApiKeyLayerBuilder<K, L, P2, R> {
        ApiKeyLayerBuilder {
            store: self.store,
            limiter: self.limiter,
            policy,
            responder: self.responder,
            prefix: self.prefix,
            realm: self.realm,
            default_quota: self.default_quota,
            headers: self.headers,
            require_https: self.require_https,
            trusted_proxy: self.trusted_proxy,
            limiter_failure: self.limiter_failure,
            unavailable_retry_after: self.unavailable_retry_after,
            clock: self.clock,
            failure_limit: self.failure_limit,
        }
    }

    /// Replaces the rejection response (any `Fn(&Rejection) -> Response<Bytes>` works).
    pub fn rejection_response<R2: RejectionResponder>(
        self,
        responder: R2,
    ) -> ApiKeyLayerBuilder<K, L, P, R2> {
        ApiKeyLayerBuilder {
            store: self.store,
            limiter: self.limiter,
            policy: self.policy,
            responder,
            prefix: self.prefix,
            realm: self.realm,
            default_quota: self.default_quota,
            headers: self.headers,
            require_https: self.require_https,
            trusted_proxy: self.trusted_proxy,
            limiter_failure: self.limiter_failure,
            unavailable_retry_after: self.unavailable_retry_after,
            clock: self.clock,
            failure_limit: self.failure_limit,
        }
    }

    /// The `realm` of `WWW-Authenticate` challenges.
    pub fn realm(mut self, realm: &str) -> Result<Self, InvalidRealm> {
        self.realm = InvalidRealm::check(realm)?;
        Ok(self)
    }

    /// The quota of keys that have none of their own. Without one, such keys are not
    /// rate-limited.
    pub fn default_quota(mut self, quota: Quota) -> Self {
        self.default_quota = Some(quota);
        self
    }

    /// Which rate-limit headers responses carry.
    pub fn rate_limit_headers(mut self, headers: RateLimitHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// Refuse plain HTTP with 403 `https_required` (see [`crate::transport`]).
    pub fn require_https(mut self, require: bool) -> Self {
        self.require_https = require;
        self
    }

    /// Believe the one header your reverse proxy sets about the scheme the client used
    /// ([`ProxyHeader::XForwardedProto`] or [`ProxyHeader::Forwarded`]), reading only its last
    /// element, the one the proxy appended; the other header, and earlier elements, are the
    /// client's and ignored. Set this only behind a proxy that sets that header on every
    /// request (see [`crate::transport`]).
    pub fn trusted_proxy_header(mut self, header: ProxyHeader) -> Self {
        self.trusted_proxy = Some(header);
        self
    }

    /// What to do when the rate limiter fails.
    pub fn on_limiter_failure(mut self, policy: FailurePolicy) -> Self {
        self.limiter_failure = policy;
        self
    }

    /// The `Retry-After` sent with 503 `auth_unavailable`.
    pub fn unavailable_retry_after(mut self, after: Duration) -> Self {
        self.unavailable_retry_after = after;
        self
    }

    /// Throttles failed authentication per client address (on by default, see
    /// [`FailureLimit`]): a client over its failure budget is answered 429 `rate_limited`
    /// before its key is hashed or looked up. The client address comes from
    /// [`ClientAddr`](crate::ClientAddr) or axum's `ConnectInfo<SocketAddr>`, never from
    /// forwarding headers.
    pub fn failure_limit(mut self, limit: FailureLimit) -> Self {
        self.failure_limit = Some(limit);
        self
    }

    /// Never throttles failed authentication: every failure costs a hash and a store lookup.
    pub fn without_failure_limit(mut self) -> Self {
        self.failure_limit = None;
        self
    }

    /// The clock used for expiry, rotation grace and the failure limit (a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the layer.
    pub fn build(self) -> ApiKeyLayer<K, L, P, R> {
        ApiKeyLayer {
            config: Arc::new(Config {
                store: self.store,
                limiter: self.limiter,
                policy: self.policy,
                responder: self.responder,
                prefix: self.prefix,
                realm: self.realm,
                default_quota: self.default_quota,
                headers: HeaderStyle::new(self.headers, self.default_quota),
                require_https: self.require_https,
                trusted_proxy: self.trusted_proxy,
                limiter_failure: self.limiter_failure,
                unavailable_retry_after: self.unavailable_retry_after,
                failures: self
                    .failure_limit
                    .map(|limit| FailureLimiter::new(limit, Arc::clone(&self.clock))),
                clock: self.clock,
            }),
        }
    }
}
