//! [`RequireScopeFuture`]: the response future of [`RequireScope`](super::RequireScope).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;

pin_project! {
    /// The response future of [`RequireScope`](super::RequireScope): the inner service's, or
    /// the refusal.
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
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn refused(response: Response<Bytes>) -> Self {
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
