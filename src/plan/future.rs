//! [`UsageFuture`]: a limiter's answer for a request under a plan.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::UsageDecision;
use crate::limit::LimiterError;

type Boxed = Pin<Box<dyn Future<Output = Result<UsageDecision, LimiterError>> + Send>>;

/// The answer of [`RateLimiter::admit`](crate::RateLimiter::admit): ready at once (an
/// in-memory limiter, no allocation) or a boxed future (a networked one).
#[must_use = "futures do nothing unless polled"]
pub struct UsageFuture {
    state: State,
}

// The ready answer is held inline: an in-memory decision allocates nothing. (The layer
// boxes the whole future, so that a key without a plan does not carry it.)
#[allow(clippy::large_enum_variant)]
enum State {
    Ready(Option<Result<UsageDecision, LimiterError>>),
    Boxed(Boxed),
}

impl UsageFuture {
    /// An answer already known.
    pub fn ready(answer: Result<UsageDecision, LimiterError>) -> Self {
        Self {
            state: State::Ready(Some(answer)),
        }
    }

    /// An answer still to come.
    pub fn boxed(
        future: impl Future<Output = Result<UsageDecision, LimiterError>> + Send + 'static,
    ) -> Self {
        Self {
            state: State::Boxed(Box::pin(future)),
        }
    }
}

impl Future for UsageFuture {
    type Output = Result<UsageDecision, LimiterError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Ready(answer) => Poll::Ready(answer.take().unwrap_or_else(|| {
                Err(LimiterError::Unavailable(
                    "a usage answer was polled after it completed".into(),
                ))
            })),
            State::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for UsageFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageFuture").finish_non_exhaustive()
    }
}
