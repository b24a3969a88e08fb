//! [`RequireScope`]: the service built by [`RequireScopeLayer`](super::RequireScopeLayer).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::future::RequireScopeFuture;
use super::layer::Requirement;
use super::missing_layer::MissingApiKeyLayer;
use crate::authenticated::AuthenticatedKey;
use crate::body::ResponseBody;
use crate::ratelimit_headers::RateLimitHeaders;
use crate::rejection::Rejection;
use crate::respond::{self, DefaultRejection, RejectionResponder};

/// The service built by [`RequireScopeLayer`](super::RequireScopeLayer): checks the scope,
/// then calls `S`.
pub struct RequireScope<S, R = DefaultRejection> {
    inner: S,
    requirement: Arc<Requirement<R>>,
}

impl<S, R> RequireScope<S, R> {
    pub(super) fn new(inner: S, requirement: Arc<Requirement<R>>) -> Self {
        Self { inner, requirement }
    }
}

impl<S: Clone, R> Clone for RequireScope<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            requirement: Arc::clone(&self.requirement),
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for RequireScope<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("scope", &self.requirement.scope)
            .finish_non_exhaustive()
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: RejectionResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = RequireScopeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let grpc = crate::middleware::is_grpc(request.headers());
        let requirement = &*self.requirement;
        let refusal = match request.extensions().get::<AuthenticatedKey>() {
            None => MissingApiKeyLayer.response(grpc),
            Some(key) if key.grants(&requirement.scope) => {
                return RequireScopeFuture::inner(self.inner.call(request));
            }
            Some(key) => {
                let rejection = Rejection::insufficient_scope(
                    requirement.scope.clone(),
                    key.id(),
                    key.name().clone(),
                    &requirement.realm,
                    grpc,
                );
                respond::complete(
                    &requirement.responder,
                    rejection,
                    RateLimitHeaders::default(),
                )
            }
        };
        RequireScopeFuture::refused(refusal)
    }
}
