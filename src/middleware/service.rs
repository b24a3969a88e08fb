//! [`ApiKeyService`]: the middleware service built by [`ApiKeyLayer`](super::ApiKeyLayer).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower_service::Service;

use crate::limit::RateLimiter;
use crate::policy::ScopePolicy;
use crate::respond::RejectionResponder;
use crate::store::KeyStore;

use super::body::ResponseBody;
use super::future::ResponseFuture;
use super::pipeline::Pipeline;
use super::state::{Next, Pending, Refused};

/// Authenticates, authorizes and rate-limits each request before handing it to `S`.
///
/// Rejections are responses (`type Error = S::Error`), so it fits axum, hyper and tonic.
/// When the store and limiter answer at once (the in-memory ones always do), the whole check
/// happens in `call`, without cloning the inner service.
pub struct ApiKeyService<S, K, L, P, R> {
    inner: S,
    pipeline: Arc<Pipeline<K, L, P, R>>,
}

impl<S, K, L, P, R> ApiKeyService<S, K, L, P, R> {
    pub(crate) fn new(inner: S, pipeline: Arc<Pipeline<K, L, P, R>>) -> Self {
        Self { inner, pipeline }
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
            pipeline: Arc::clone(&self.pipeline),
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

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let pipeline = &*self.pipeline;
        let started = pipeline.started();
        let classified = pipeline
            .classify(&mut request)
            .and_then(|credential| Ok((pipeline.lookup(&credential)?, credential)));
        let (lookup, credential) = match classified {
            Ok(classified) => classified,
            Err(rejection) => {
                let refused = Refused::from(rejection);
                pipeline.observe(Err(&refused), None, started);
                let next = Next::Respond(pipeline.respond(refused.rejection));
                return ResponseFuture::next(next, &self.pipeline);
            }
        };
        let (parts, body) = request.into_parts();
        let (ticket, mut stage) = pipeline.start(&parts, credential, lookup, started);
        // Backends that answer at once (in memory) finish here. Polling with a no-op waker is
        // sound: a stage that is not ready yet is polled again, with the task's waker, by the
        // response future.
        let mut cx = Context::from_waker(Waker::noop());
        match pipeline.poll_stages(&mut stage, &ticket, &parts, &mut cx) {
            Poll::Ready(outcome) => {
                let next = pipeline.finish(outcome, &ticket, parts, body, &mut self.inner);
                ResponseFuture::next(next, &self.pipeline)
            }
            Poll::Pending => {
                // The inner service was made ready by poll_ready: take that one along and leave
                // a fresh clone behind (tower's usual pattern).
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let pending = Pending {
                    parts,
                    body,
                    ticket,
                    stage,
                };
                ResponseFuture::waiting(inner, pending, Arc::clone(&self.pipeline))
            }
        }
    }
}
