//! [`Pipeline`]: what an [`ApiKeyLayer`](super::ApiKeyLayer) and all its services share — the
//! backends, the policy, the responder and the settings — and the answers it gives.

use bytes::Bytes;
use http::Response;

use crate::code::ErrorCode;
use crate::limit::FailureLimiter;
use crate::rejection::Rejection;
use crate::respond::RejectionResponder;

use super::settings::Settings;

/// The layer's shared state, built once by the builder and held in an `Arc` by every service.
///
/// The stages are methods of this type, one file each, in the order a request meets them:
/// [`classify`](super::classify), [`verify`](super::verify), [`authorize`](super::authorize),
/// [`limit`](super::limit); [`state`](super::state) drives them.
pub(crate) struct Pipeline<K, L, P, R> {
    pub(crate) store: K,
    pub(crate) limiter: L,
    pub(crate) policy: P,
    pub(crate) responder: R,
    pub(crate) settings: Settings,
    /// Failed authentications per client; `None` when switched off.
    pub(crate) failures: Option<FailureLimiter>,
    /// The metrics' handles, registered on first use.
    #[cfg(feature = "metrics")]
    pub(crate) handles: super::observe::Handles,
}

impl<K, L, P, R> Pipeline<K, L, P, R> {
    pub(crate) fn new(store: K, limiter: L, policy: P, responder: R, settings: Settings) -> Self {
        let failures = settings
            .failure_limit
            .map(|limit| FailureLimiter::new(limit, settings.clock.clone()));
        Self {
            store,
            limiter,
            policy,
            responder,
            settings,
            failures,
            #[cfg(feature = "metrics")]
            handles: super::observe::Handles::default(),
        }
    }

    /// The rejection of row `code`.
    pub(crate) fn reject(&self, code: ErrorCode, grpc: bool) -> Rejection {
        Rejection::new(code, &self.settings.realm, grpc)
    }

    /// 503 `auth_unavailable`, with the configured `Retry-After`.
    pub(crate) fn unavailable(&self, grpc: bool) -> Rejection {
        self.reject(ErrorCode::AuthUnavailable, grpc)
            .with_retry_after(self.settings.unavailable_retry_after)
    }
}

impl<K, L, P, R: RejectionResponder> Pipeline<K, L, P, R> {
    /// The response for a rejection, with the headers the error table promises.
    pub(crate) fn respond(&self, rejection: Rejection) -> Response<Bytes> {
        crate::respond::complete(&self.responder, rejection, self.settings.headers)
    }
}
