//! [`RedisCheck`]: the future of one [`RedisRateLimiter`](super::RedisRateLimiter) check.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::limit::{Decision, LimiterError};

type Remote = Pin<Box<dyn Future<Output = Result<Decision, LimiterError>> + Send>>;

/// The answer to one check: ready at once when the local deny cache answers, else the round
/// trip to Redis (bounded by the limiter's timeout).
#[must_use = "futures do nothing unless polled"]
pub struct RedisCheck {
    kind: Kind,
}

enum Kind {
    Cached(Option<Decision>),
    Remote(Remote),
}

impl RedisCheck {
    pub(super) fn cached(refused: Decision) -> Self {
        Self {
            kind: Kind::Cached(Some(refused)),
        }
    }

    pub(super) fn remote(
        ask: impl Future<Output = Result<Decision, LimiterError>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Remote(Box::pin(ask)),
        }
    }
}

impl Future for RedisCheck {
    type Output = Result<Decision, LimiterError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().kind {
            Kind::Cached(decision) => match decision.take() {
                Some(decision) => Poll::Ready(Ok(decision)),
                None => Poll::Ready(Err(LimiterError::Unavailable(
                    "rate-limit check polled after completion".into(),
                ))),
            },
            Kind::Remote(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for RedisCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Cached(_) => "Cached",
            Kind::Remote(_) => "Remote",
        };
        f.debug_struct("RedisCheck").field("kind", &kind).finish()
    }
}
