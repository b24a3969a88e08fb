//! [`ApiKeyService`]: the middleware service built by [`ApiKeyLayer`](crate::ApiKeyLayer).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::config::Config;
use crate::future::ResponseFuture;
use crate::limit::RateLimiter;
use crate::policy::ScopePolicy;
use crate::respond::RejectionResponder;
use crate::store::KeyStore;

/// Authenticates, authorizes and rate-limits each request before handing it to `S`.
///
/// Rejections are responses (`type Error = S::Error`), so it fits axum, hyper and tonic.
/// When the store and limiter answer at once (the in-memory ones always do), the whole check
/// happens in `call`, with no allocation of its own besides the request extension and the
/// rate-limit header values.
pub struct ApiKeyService<S, K, L, P, R> {
    inner: S,
    config: Arc<Config<K, L, P, R>>,
}

impl<S, K, L, P, R> ApiKeyService<S, K, L, P, R> {
    pub(crate) fn new(inner: S, config: Arc<Config<K, L, P, R>>) -> Self {
        Self { inner, config }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the wrapped service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, K, L, P, R> Clone for ApiKeyService<S, K, L, P, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug, K, L, P, R> fmt::Debug for ApiKeyService<S, K, L, P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, L, P, R, ReqBody, ResBody> Service<Request<ReqBody>> for ApiKeyService<S, K, L, P, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    K: KeyStore,
    L: RateLimiter,
    P: ScopePolicy,
    R: RejectionResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, K, L, P, R, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let mut pending = match self.config.begin(request) {
            Ok(pending) => pending,
            Err(rejection) => return ResponseFuture::rejected(self.config.respond(rejection)),
        };
        // Stores and limiters that answer at once (in memory) finish here, without cloning the
        // inner service or the configuration. Polling with a no-op waker is sound: a future
        // that is not ready yet is polled again, with the task's waker, by ResponseFuture.
        let mut cx = Context::from_waker(Waker::noop());
        match self.config.poll_pending(&mut pending, &mut cx) {
            Poll::Ready(Ok(authorized)) => {
                let (request, rate) = pending.into_request(authorized, &self.config.headers);
                ResponseFuture::inner(self.inner.call(request), rate)
            }
            Poll::Ready(Err(rejection)) => ResponseFuture::rejected(self.config.respond(rejection)),
            Poll::Pending => {
                // The inner service was made ready by poll_ready: take that one along and leave
                // a fresh clone behind (tower's usual pattern).
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::authorizing(inner, pending, Arc::clone(&self.config))
            }
        }
    }
}
