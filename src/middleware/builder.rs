//! [`ApiKeyLayerBuilder`]: configures an [`ApiKeyLayer`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::events::DecisionSink;
use crate::limit::{FailureLimit, FailurePolicy, Quota, RateLimiter};
use crate::policy::{MethodPolicy, ScopePolicy};
use crate::realm::{InvalidRealm, Realm};
use crate::respond::{DefaultRejection, RejectionResponder};
use crate::store::KeyStore;
use crate::transport::ProxyHeader;

use super::key_location::KeyLocation;
use super::layer::ApiKeyLayer;
use super::observe::Hook;
use super::pipeline::Pipeline;
use super::ratelimit_headers::RateLimitHeaders;
use super::settings::Settings;
use super::trusted_proxies::TrustedProxies;

/// Configures an [`ApiKeyLayer`].
///
/// | setting | default |
/// |---|---|
/// | [`policy`](Self::policy) | [`MethodPolicy`]: `read:all` for safe methods, `write:all` otherwise |
/// | [`rejection_response`](Self::rejection_response) | [`DefaultRejection`]: problem+json, or gRPC status |
/// | [`realm`](Self::realm) | `api` |
/// | [`default_quota`](Self::default_quota) | none: keys without a quota of their own are not limited |
/// | [`rate_limit_headers`](Self::rate_limit_headers) | IETF `RateLimit` / `RateLimit-Policy` |
/// | [`key_location`](Self::key_location) | [`KeyLocation::bearer`]: `Authorization: Bearer <key>` |
/// | [`imported_keys`](Self::imported_keys) | off: only keys of this service's format |
/// | [`require_https`](Self::require_https) | off |
/// | [`trusted_proxy_header`](Self::trusted_proxy_header) | none: only the TLS acceptor's [`SecureTransport`](crate::transport::SecureTransport) makes a request HTTPS |
/// | [`trusted_proxies`](Self::trusted_proxies) | none: the connection's peer is the client; forwarding headers are never read |
/// | [`on_limiter_failure`](Self::on_limiter_failure) | fail closed (503) |
/// | [`unavailable_retry_after`](Self::unavailable_retry_after) | 5 s |
/// | [`failure_limit`](Self::failure_limit) | on, [`FailureLimit::default`] (off with [`without_failure_limit`](Self::without_failure_limit)) |
/// | [`on_decision`](Self::on_decision) | none |
/// | `metrics`, `metrics_workspace_label`, `metrics_key_label`, `metrics_latency` (feature `metrics`) | on, on, off, off |
///
/// The key prefix is not a setting of its own: the layer accepts the keys of its store's
/// [`prefix`](KeyStore::prefix).
pub struct ApiKeyLayerBuilder<K, L, P = MethodPolicy, R = DefaultRejection> {
    store: K,
    limiter: L,
    policy: P,
    responder: R,
    settings: Settings,
}

impl<K: KeyStore, L: RateLimiter> ApiKeyLayerBuilder<K, L> {
    /// The defaults, for `store`'s keys.
    pub(crate) fn new(store: K, limiter: L) -> Self {
        let settings = Settings::new(store.prefix());
        Self {
            store,
            limiter,
            policy: MethodPolicy,
            responder: DefaultRejection::default(),
            settings,
        }
    }
}

impl<K, L, P, R> fmt::Debug for ApiKeyLayerBuilder<K, L, P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayerBuilder")
            .field("settings", &self.settings)
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
            settings: self.settings,
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
            settings: self.settings,
        }
    }

    /// The `realm` of `WWW-Authenticate` challenges.
    pub fn realm(self, realm: &str) -> Result<Self, InvalidRealm> {
        Ok(self.with_realm(Realm::new(realm)?))
    }

    /// The same, with a realm validated already (say, one shared with a
    /// [`RequireScopeLayer`](crate::RequireScopeLayer) and the admin router).
    pub fn with_realm(mut self, realm: Realm) -> Self {
        self.settings.realm = realm;
        self
    }

    /// The quota of keys that have none of their own. Without one, such keys are not
    /// rate-limited.
    pub fn default_quota(mut self, quota: Quota) -> Self {
        self.settings.default_quota = Some(quota);
        self
    }

    /// Which rate-limit headers responses carry.
    pub fn rate_limit_headers(mut self, headers: RateLimitHeaders) -> Self {
        self.settings.headers = headers;
        self
    }

    /// Refuse plain HTTP with 403 `https_required` (see [`crate::transport`]).
    pub fn require_https(mut self, require: bool) -> Self {
        self.settings.require_https = require;
        self
    }

    /// Believe the one header your reverse proxy sets about the scheme the client used
    /// ([`ProxyHeader::XForwardedProto`] or [`ProxyHeader::Forwarded`]), reading only its last
    /// element, the one the proxy appended; the other header, and earlier elements, are the
    /// client's and ignored. Set this only behind a proxy that sets that header on every
    /// request (see [`crate::transport`]).
    pub fn trusted_proxy_header(mut self, header: ProxyHeader) -> Self {
        self.settings.trusted_proxy = Some(header);
        self
    }

    /// Believe `proxies` about the client's address: a request whose peer is one of them is
    /// from the address their [`ForwardedHeader`](crate::ForwardedHeader) names (walked from
    /// the right, past the proxies: see [`TrustedProxies`]). Keys' IP allowlists and the
    /// failed-authentication budget both use that address. Without this setting the peer
    /// ([`ClientAddr`](crate::ClientAddr), else axum's `ConnectInfo`) is the client and no
    /// forwarding header is read.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.settings.trusted_proxies = Some(proxies);
        self
    }

    /// Where the key is read from: `Authorization: Bearer` (the default), a named header such
    /// as `X-API-Key`, or a function of the request headers (see [`KeyLocation`]). Never the
    /// query string.
    pub fn key_location(mut self, location: KeyLocation) -> Self {
        self.settings.location = location;
        self
    }

    /// Whether keys imported in another format (say `sk_live_…`, brought in with
    /// [`KeyManager::import`](crate::KeyManager::import)) are accepted (off by default).
    ///
    /// On, a token that is not a key of this service's format, but is a b64token of
    /// [`MIN_IMPORTED_TOKEN_LEN`](crate::store::MIN_IMPORTED_TOKEN_LEN) to
    /// [`MAX_TOKEN_LEN`](crate::extract::MAX_TOKEN_LEN) characters that does not start with
    /// this service's `<prefix>_`, is hashed whole (SHA-256) and looked up by that digest
    /// ([`KeyStore::get_by_digest`]). The key found is then checked as any other: its digest
    /// against the presented one in constant time (the previous secret's within its grace
    /// period), then revoked, expired and disabled, scopes and limits. An unknown token is
    /// `invalid_api_key` and counts against the client's failure budget, as an unknown id does.
    /// A store that keeps no imported keys (its `get_by_digest` answers `None`) leaves such
    /// tokens `malformed_api_key`, as they are with this off. Keys of this service's format,
    /// imported or issued, are found by their id either way.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use http::{Request, Response, StatusCode};
    /// use keygate::key::ApiKey;
    /// use keygate::store::{ImportKey, ImportedSecret};
    /// use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = MemoryKeyStore::new();
    /// // A key the old system issued: its customer keeps using it as it is.
    /// let old = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    /// let import = ImportKey::new(
    ///     ImportedSecret::Plaintext(ApiKey::from_plaintext(old)),
    ///     "legacy-backend".parse().unwrap(),
    ///     "read:all".parse().unwrap(),
    /// );
    /// store.import(import).await.unwrap();
    ///
    /// let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::new())
    ///     .imported_keys(true)
    ///     .build();
    /// let service = ServiceBuilder::new()
    ///     .layer(layer)
    ///     .service(service_fn(|_req: Request<String>| async {
    ///         Ok::<_, Infallible>(Response::new(String::from("records")))
    ///     }));
    /// let request = Request::get("/v1/records")
    ///     .header("authorization", format!("Bearer {old}"))
    ///     .body(String::new())
    ///     .unwrap();
    /// assert_eq!(service.oneshot(request).await.unwrap().status(), StatusCode::OK);
    /// # });
    /// ```
    pub fn imported_keys(mut self, accept: bool) -> Self {
        self.settings.imported_keys = accept;
        self
    }

    /// What to do when the rate limiter fails.
    pub fn on_limiter_failure(mut self, policy: FailurePolicy) -> Self {
        self.settings.limiter_failure = policy;
        self
    }

    /// The `Retry-After` sent with 503 `auth_unavailable`.
    pub fn unavailable_retry_after(mut self, after: Duration) -> Self {
        self.settings.unavailable_retry_after = after;
        self
    }

    /// Throttles failed authentication per client address (on by default, see
    /// [`FailureLimit`]): a client over its failure budget is answered 429 `rate_limited`
    /// before its key is hashed or looked up. The client address comes from
    /// [`ClientAddr`](crate::ClientAddr) or axum's `ConnectInfo<SocketAddr>`, and from a
    /// forwarding header only behind [`trusted_proxies`](Self::trusted_proxies).
    pub fn failure_limit(mut self, limit: FailureLimit) -> Self {
        self.settings.failure_limit = Some(limit);
        self
    }

    /// Never throttles failed authentication: every failure costs a hash and a store lookup.
    pub fn without_failure_limit(mut self) -> Self {
        self.settings.failure_limit = None;
        self
    }

    /// The clock used for expiry, rotation grace and the failure limit (a
    /// [`ManualClock`](crate::clock::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.settings.clock = Arc::new(clock);
        self
    }

    /// Calls `sink` with a [`DecisionEvent`](crate::events::DecisionEvent) for every request
    /// the layer decides, allowed or refused (see [`crate::events`]). Any
    /// `Fn(&DecisionEvent<'_>) + Send + Sync + 'static` closure is a sink. It runs
    /// synchronously after the decision; a panic in it is caught and logged, and the request
    /// goes on unchanged. A second call replaces the first sink.
    pub fn on_decision(mut self, sink: impl DecisionSink) -> Self {
        self.settings.observe.hook = Some(Hook::new(sink));
        self
    }

    /// Whether the layer records [`crate::metrics`] (on by default with the feature): off, it
    /// neither reads the metrics' clock nor calls the recorder.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(mut self, record: bool) -> Self {
        self.settings.observe.metrics = record;
        self
    }

    /// Whether [`keygate_decisions_total`](crate::metrics::DECISIONS_TOTAL) carries a
    /// `workspace` label (on by default). Turn it off when workspaces are many, to keep the
    /// number of series small.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_workspace_label(mut self, label: bool) -> Self {
        self.settings.observe.workspace_label = label;
        self
    }

    /// Whether [`keygate_decisions_total`](crate::metrics::DECISIONS_TOTAL) carries a `key_id`
    /// label (off by default): one series per key and outcome, so only for a bounded number
    /// of keys.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_key_label(mut self, label: bool) -> Self {
        self.settings.observe.key_label = label;
        self
    }

    /// Whether the layer records the latency histograms
    /// [`keygate_store_lookup_seconds`](crate::metrics::STORE_LOOKUP_SECONDS) and
    /// [`keygate_limiter_seconds`](crate::metrics::LIMITER_SECONDS) (off by default). On,
    /// each request reads a clock before and after each backend call and records two
    /// samples: with the Prometheus recorder, about 180 ns more a request on a 2 vCPU VM,
    /// where the rest of the metrics add about 30 ns (`cargo bench --features metrics --bench
    /// metrics`). Worth it where lookups and limiter calls cross a network.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_latency(mut self, record: bool) -> Self {
        self.settings.observe.latency = record;
        self
    }

    /// Builds the layer.
    pub fn build(self) -> ApiKeyLayer<K, L, P, R> {
        ApiKeyLayer::from_pipeline(Pipeline::new(
            self.store,
            self.limiter,
            self.policy,
            self.responder,
            self.settings,
        ))
    }
}
