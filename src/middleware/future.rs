//! [`ResponseFuture`]: the response future of [`ApiKeyService`](super::ApiKeyService).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::limit::RateLimiter;
use crate::policy::ScopePolicy;
use crate::respond::RejectionResponder;
use crate::store::KeyStore;

use super::body::ResponseBody;
use super::pipeline::Pipeline;
use super::ratelimit_headers::PendingHeaders;
use super::state::{Admitted, Next, POLLED_AFTER_COMPLETION, Pending, Spent};

type PendingOf<K, L, B> = Pending<B, <K as KeyStore>::Future, <L as RateLimiter>::Future>;

pin_project! {
    /// The response future of [`ApiKeyService`](super::ApiKeyService).
    pub struct ResponseFuture<S, K, L, P, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        K: KeyStore,
        L: RateLimiter,
    {
        #[pin]
        // Boxed: only requests whose backends did not answer in `call` need it, and the
        // future of every other request stays small to move.
        state: State<S::Future, Box<Waiting<S, K, L, P, R, ReqBody>>, Refund<K, L, P, R>>,
    }
}

/// A request whose store lookup or limiter decision was not ready in `call`.
struct Waiting<S, K: KeyStore, L: RateLimiter, P, R, B> {
    inner: S,
    /// `None` once the stages are over.
    pending: Option<PendingOf<K, L, B>>,
    pipeline: Arc<Pipeline<K, L, P, R>>,
}

/// What a request spent, and the limiter to give it back to.
struct Refund<K, L, P, R> {
    pipeline: Arc<Pipeline<K, L, P, R>>,
    spent: Spent,
}

pin_project! {
    #[project = StateProj]
    enum State<F, W, X> {
        Waiting {
            waiting: W,
        },
        Inner {
            #[pin]
            future: F,
            headers: Option<PendingHeaders>,
            refund: Option<X>,
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
    /// The future of a request whose stages are over.
    pub(crate) fn next(next: Next<S::Future>, pipeline: &Arc<Pipeline<K, L, P, R>>) -> Self {
        Self {
            state: State::after(next, pipeline),
        }
    }

    /// The future of a request still waiting for its backends.
    pub(crate) fn waiting(
        inner: S,
        pending: PendingOf<K, L, ReqBody>,
        pipeline: Arc<Pipeline<K, L, P, R>>,
    ) -> Self {
        Self {
            state: State::Waiting {
                waiting: Box::new(Waiting {
                    inner,
                    pending: Some(pending),
                    pipeline,
                }),
            },
        }
    }
}

impl<F, W, K, L, P, R> State<F, W, Refund<K, L, P, R>> {
    fn after(next: Next<F>, pipeline: &Arc<Pipeline<K, L, P, R>>) -> Self {
        match next {
            Next::Call(future, Admitted { headers, spent }) => State::Inner {
                future,
                headers,
                // The pipeline is shared only by requests that spent a unit.
                refund: spent.map(|spent| Refund {
                    pipeline: Arc::clone(pipeline),
                    spent,
                }),
            },
            Next::Respond(response) => State::Rejected {
                response: Some(response),
            },
        }
    }
}

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
            let mut state = self.as_mut().project().state;
            let next = match state.as_mut().project() {
                StateProj::Waiting { waiting } => {
                    let Waiting {
                        inner,
                        pending,
                        pipeline,
                    } = &mut **waiting;
                    let Pending {
                        stage,
                        ticket,
                        parts,
                        ..
                    } = pending.as_mut().expect(POLLED_AFTER_COMPLETION);
                    let outcome = ready!(pipeline.poll_stages(stage, ticket, parts, cx));
                    let Pending {
                        parts,
                        body,
                        ticket,
                        ..
                    } = pending.take().expect(POLLED_AFTER_COMPLETION);
                    let next = pipeline.finish(outcome, &ticket, parts, body, inner);
                    State::after(next, pipeline)
                }
                StateProj::Inner {
                    future,
                    headers,
                    refund,
                } => {
                    let response = ready!(future.poll(cx))?;
                    let refunded = refund.take().is_some_and(|Refund { pipeline, spent }| {
                        pipeline.refund_if_refused(spent, &response)
                    });
                    let mut response = response.map(ResponseBody::inner);
                    // A refused request that spent nothing reports no rate-limit state.
                    if let Some(headers) = headers.take().filter(|_| !refunded) {
                        headers.write(response.headers_mut());
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
            };
            state.set(next);
        }
    }
}
