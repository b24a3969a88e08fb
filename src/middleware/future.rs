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
use super::state::{Next, POLLED_AFTER_COMPLETION, Pending};

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
        state: State<S::Future, Box<Waiting<S, K, L, P, R, ReqBody>>>,
    }
}

/// A request whose store lookup or limiter decision was not ready in `call`.
struct Waiting<S, K: KeyStore, L: RateLimiter, P, R, B> {
    inner: S,
    /// `None` once the stages are over.
    pending: Option<PendingOf<K, L, B>>,
    pipeline: Arc<Pipeline<K, L, P, R>>,
}

pin_project! {
    #[project = StateProj]
    enum State<F, W> {
        Waiting {
            waiting: W,
        },
        Inner {
            #[pin]
            future: F,
            headers: Option<PendingHeaders>,
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
    pub(crate) fn next(next: Next<S::Future>) -> Self {
        Self {
            state: State::from(next),
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

impl<F, W> From<Next<F>> for State<F, W> {
    fn from(next: Next<F>) -> Self {
        match next {
            Next::Call(future, headers) => State::Inner { future, headers },
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
                    let Pending { stage, ticket, .. } =
                        pending.as_mut().expect(POLLED_AFTER_COMPLETION);
                    let outcome = ready!(pipeline.poll_stages(stage, ticket, cx));
                    let Pending { parts, body, .. } =
                        pending.take().expect(POLLED_AFTER_COMPLETION);
                    pipeline.finish(outcome, parts, body, inner)
                }
                StateProj::Inner { future, headers } => {
                    let response = ready!(future.poll(cx))?;
                    let mut response = response.map(ResponseBody::inner);
                    if let Some(headers) = headers.take() {
                        headers.write(response.headers_mut());
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { response } => {
                    let response = response.take().expect(POLLED_AFTER_COMPLETION);
                    return Poll::Ready(Ok(response.map(ResponseBody::full)));
                }
            };
            state.set(State::from(next));
        }
    }
}
