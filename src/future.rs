//! [`ResponseFuture`]: the response future of [`ApiKeyService`](crate::ApiKeyService).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::config::{Config, Pending, RateHeaders};
use crate::limit::RateLimiter;
use crate::policy::ScopePolicy;
use crate::respond::RejectionResponder;
use crate::store::KeyStore;

/// A request still waiting for its store lookup or limiter decision.
pub(crate) struct Authorizing<S, K: KeyStore, L: RateLimiter, P, R, B> {
    inner: Option<S>,
    pending: Option<Pending<B, K::Future, L::Future>>,
    config: Arc<Config<K, L, P, R>>,
}

pin_project! {
    /// The response future of [`ApiKeyService`](crate::ApiKeyService).
    pub struct ResponseFuture<S, K, L, P, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        K: KeyStore,
        L: RateLimiter,
    {
        #[pin]
        kind: Kind<S::Future, Authorizing<S, K, L, P, R, ReqBody>>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, A> {
        Authorizing {
            auth: A,
        },
        Inner {
            #[pin]
            future: F,
            rate: Option<RateHeaders>,
        },
        Rejected {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<S, K, L, P, R, ReqBody> ResponseFuture<S, K, L, P, R, ReqBody>
where
    S: Service<Request<ReqBody>>,
    K: KeyStore,
    L: RateLimiter,
{
    pub(crate) fn inner(future: S::Future, rate: Option<RateHeaders>) -> Self {
        Self {
            kind: Kind::Inner { future, rate },
        }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn authorizing(
        inner: S,
        pending: Pending<ReqBody, K::Future, L::Future>,
        config: Arc<Config<K, L, P, R>>,
    ) -> Self {
        Self {
            kind: Kind::Authorizing {
                auth: Authorizing {
                    inner: Some(inner),
                    pending: Some(pending),
                    config,
                },
            },
        }
    }
}

const POLLED_AFTER_COMPLETION: &str = "keygate ResponseFuture polled after completion";

impl<S, K, L, P, R, ReqBody, ResBody> Future for ResponseFuture<S, K, L, P, R, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    K: KeyStore,
    L: RateLimiter,
    P: ScopePolicy,
    R: RejectionResponder,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut kind = self.as_mut().project().kind;
            let next = match kind.as_mut().project() {
                KindProj::Authorizing { auth } => {
                    let pending = auth.pending.as_mut().expect(POLLED_AFTER_COMPLETION);
                    match ready!(auth.config.poll_pending(pending, cx)) {
                        Ok(authorized) => {
                            let pending = auth.pending.take().expect(POLLED_AFTER_COMPLETION);
                            let mut inner = auth.inner.take().expect(POLLED_AFTER_COMPLETION);
                            let (request, rate) =
                                pending.into_request(authorized, &auth.config.headers);
                            Kind::Inner {
                                future: inner.call(request),
                                rate,
                            }
                        }
                        Err(rejection) => Kind::Rejected {
                            response: Some(auth.config.respond(rejection)),
                        },
                    }
                }
                KindProj::Inner { future, rate } => {
                    let result = ready!(future.poll(cx));
                    let rate = rate.take();
                    return Poll::Ready(result.map(|response| {
                        let mut response = response.map(ResponseBody::inner);
                        if let Some(rate) = rate {
                            rate.write(response.headers_mut());
                        }
                        response
                    }));
                }
                KindProj::Rejected { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
            };
            kind.set(next);
        }
    }
}
