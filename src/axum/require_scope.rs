//! [`RequireScopeLayer`]: one route needs a scope beyond the layer's own check.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::MissingApiKeyLayer;
use crate::authenticated::AuthenticatedKey;
use crate::body::ResponseBody;
use crate::layer::InvalidRealm;
use crate::ratelimit_headers::RateLimitHeaders;
use crate::rejection::Rejection;
use crate::respond::{self, DefaultRejection, RejectionResponder};
use crate::scope::Scope;

struct Requirement<R> {
    scope: Scope,
    realm: Arc<str>,
    responder: R,
}

/// A route layer: requests to the route need `scope`, besides whatever the
/// [`ApiKeyLayer`](crate::ApiKeyLayer) in front of it asked for.
///
/// A key without the scope gets the layer's own answer: 403 `insufficient_scope`
/// (`application/problem+json`, `WWW-Authenticate: Bearer realm="api",
/// error="insufficient_scope", scope="admin"`), or gRPC status 7 `PERMISSION_DENIED` for gRPC
/// requests. Give it the same [`realm`](Self::realm) and
/// [`rejection_response`](Self::rejection_response) as the layer if you changed those.
///
/// It must sit inside the `ApiKeyLayer` (in axum: `.route_layer(..)` on the route, with the
/// `ApiKeyLayer` added by `Router::layer` or `Router::route_layer`); without one it answers
/// 500 [`MissingApiKeyLayer`]. It runs after the layer's rate limiter, so a request it refuses
/// has counted against the key's quota.
///
/// ```
/// use axum::{routing::delete, Router};
/// use keygate::axum::RequireScopeLayer;
/// use keygate::Scope;
///
/// let app: Router = Router::new().route(
///     "/v1/records/{id}",
///     delete(|| async { "deleted" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
/// );
/// # let _ = app;
/// ```
pub struct RequireScopeLayer<R = DefaultRejection> {
    requirement: Arc<Requirement<R>>,
}

impl RequireScopeLayer {
    /// Requests need `scope`; refusals use the default realm (`api`) and response.
    pub fn new(scope: Scope) -> Self {
        Self {
            requirement: Arc::new(Requirement {
                scope,
                realm: Arc::from("api"),
                responder: DefaultRejection::new(),
            }),
        }
    }
}

impl<R: RejectionResponder> RequireScopeLayer<R> {
    fn rebuild<R2>(self, realm: Arc<str>, responder: R2) -> RequireScopeLayer<R2>
    where
        R: Clone,
    {
        RequireScopeLayer {
            requirement: Arc::new(Requirement {
                scope: self.requirement.scope.clone(),
                realm,
                responder,
            }),
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenge (the layer's, if you set one there).
    pub fn realm(self, realm: &str) -> Result<Self, InvalidRealm>
    where
        R: Clone,
    {
        let realm = InvalidRealm::check(realm)?;
        let responder = self.requirement.responder.clone();
        Ok(self.rebuild(realm, responder))
    }

    /// Replaces the response (any `Fn(&Rejection) -> Response<Bytes>`), as
    /// [`ApiKeyLayerBuilder::rejection_response`](crate::ApiKeyLayerBuilder::rejection_response)
    /// does for the layer.
    pub fn rejection_response<R2: RejectionResponder>(self, responder: R2) -> RequireScopeLayer<R2>
    where
        R: Clone,
    {
        let realm = Arc::clone(&self.requirement.realm);
        self.rebuild(realm, responder)
    }

    /// The scope the route needs.
    pub fn scope(&self) -> &Scope {
        &self.requirement.scope
    }
}

impl<R> Clone for RequireScopeLayer<R> {
    fn clone(&self) -> Self {
        Self {
            requirement: Arc::clone(&self.requirement),
        }
    }
}

impl<R> fmt::Debug for RequireScopeLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("scope", &self.requirement.scope)
            .field("realm", &self.requirement.realm)
            .finish_non_exhaustive()
    }
}

impl<S, R> Layer<S> for RequireScopeLayer<R> {
    type Service = RequireScope<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            requirement: Arc::clone(&self.requirement),
        }
    }
}

/// The service built by [`RequireScopeLayer`].
pub struct RequireScope<S, R = DefaultRejection> {
    inner: S,
    requirement: Arc<Requirement<R>>,
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
        let grpc = respond::is_grpc_request(request.headers());
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

pin_project! {
    /// The response future of [`RequireScope`].
    pub struct RequireScopeFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
        },
        Refused {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<F> RequireScopeFuture<F> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn refused(response: Response<Bytes>) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for RequireScopeFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(ResponseBody::inner))),
            KindProj::Refused { response } => {
                let response = response
                    .take()
                    .expect("RequireScopeFuture polled after completion");
                Poll::Ready(Ok(response.map(ResponseBody::full)))
            }
        }
    }
}
