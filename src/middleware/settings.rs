//! [`Settings`]: everything the layer is configured with that does not depend on its type
//! parameters, in one place.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::key::KeyPrefix;
use crate::limit::{FailureLimit, FailurePolicy, Quota};
use crate::realm::Realm;
use crate::transport::ProxyHeader;

use super::key_location::KeyLocation;
use super::observe::Observe;
use super::ratelimit_headers::RateLimitHeaders;
use super::trusted_proxies::TrustedProxies;

/// The layer's plain settings. The builder carries one of these beside the store, limiter,
/// policy and responder, so its type-changing methods move five fields, not fifteen.
#[derive(Clone)]
pub(crate) struct Settings {
    /// The key prefix, taken from the store ([`KeyStore::prefix`](crate::KeyStore::prefix)).
    pub(crate) prefix: KeyPrefix,
    pub(crate) realm: Realm,
    pub(crate) default_quota: Option<Quota>,
    pub(crate) headers: RateLimitHeaders,
    pub(crate) require_https: bool,
    pub(crate) trusted_proxy: Option<ProxyHeader>,
    /// The proxies whose forwarding header names the client (none: the peer is the client).
    pub(crate) trusted_proxies: Option<TrustedProxies>,
    pub(crate) limiter_failure: FailurePolicy,
    pub(crate) unavailable_retry_after: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) failure_limit: Option<FailureLimit>,
    pub(crate) observe: Observe,
    pub(crate) location: KeyLocation,
    /// Whether tokens in another format are looked up by their digest (imported keys).
    pub(crate) imported_keys: bool,
}

impl Settings {
    /// The defaults, for keys of `prefix`.
    pub(crate) fn new(prefix: KeyPrefix) -> Self {
        Self {
            prefix,
            realm: Realm::default(),
            default_quota: None,
            headers: RateLimitHeaders::default(),
            require_https: false,
            trusted_proxy: None,
            trusted_proxies: None,
            limiter_failure: FailurePolicy::default(),
            unavailable_retry_after: Duration::from_secs(5),
            clock: Arc::new(SystemClock::new()),
            failure_limit: Some(FailureLimit::default()),
            observe: Observe::default(),
            location: KeyLocation::default(),
            imported_keys: false,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("prefix", &self.prefix)
            .field("realm", &self.realm)
            .field("default_quota", &self.default_quota)
            .field("headers", &self.headers)
            .field("require_https", &self.require_https)
            .field("trusted_proxy", &self.trusted_proxy)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("limiter_failure", &self.limiter_failure)
            .field("unavailable_retry_after", &self.unavailable_retry_after)
            .field("failure_limit", &self.failure_limit.is_some())
            .field("observe", &self.observe)
            .field("location", &self.location)
            .field("imported_keys", &self.imported_keys)
            .finish_non_exhaustive()
    }
}
