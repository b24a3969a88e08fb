//! The request's state machine, and the one place where it moves on.
//!
//! ```text
//!            classify (in `call`)
//!                 │ Credential
//!                 ▼
//!   ┌──────► Lookup ── store answered ──► verify ─► authorize ─┬─ no quota ─────────┐
//!   │                                                            ▼                    │
//!   │                                                          Limit ── decided ──────┤
//!   │                                                                                 ▼
//!   └─ not ready: the ResponseFuture polls again              Call inner service, or Respond
//! ```
//!
//! [`Pipeline::advance`] is the only transition out of the asynchronous stages: the service
//! runs it once in `call` (stores and limiters that answer at once finish there), and the
//! response future runs it on every later poll.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use tower_service::Service;

use crate::limit::{Quota, RateLimiter};
use crate::policy::ScopePolicy;
use crate::record::KeyRecord;
use crate::rejection::Rejection;
use crate::respond::RejectionResponder;
use crate::scope::Scope;
use crate::store::KeyStore;

use super::classify::Credential;
use super::limit::Authorized;
use super::pipeline::Pipeline;
use super::ratelimit_headers::PendingHeaders;

pub(crate) const POLLED_AFTER_COMPLETION: &str = "keygate ResponseFuture polled after completion";

/// A classified request waiting for its backends.
pub(crate) struct Pending<B, KF, LF> {
    parts: Parts,
    body: B,
    credential: Credential,
    required: Option<Scope>,
    stage: Stage<KF, LF>,
}

enum Stage<KF, LF> {
    /// Waiting for the key store.
    Lookup(KF),
    /// Waiting for the rate limiter.
    Limit {
        future: LF,
        record: Arc<KeyRecord>,
        quota: Quota,
    },
}

/// Where a request goes once its stages are over.
pub(crate) enum Next<F> {
    /// To the inner service, whose response gets these rate-limit headers.
    Call(F, Option<PendingHeaders>),
    /// Back to the client, with this answer.
    Respond(Response<Bytes>),
}

impl<K, L, P, R> Pipeline<K, L, P, R>
where
    K: KeyStore,
    L: RateLimiter,
    P: ScopePolicy,
    R: RejectionResponder,
{
    /// Runs the synchronous stages and starts the lookup.
    pub(crate) fn start<B>(
        &self,
        mut request: Request<B>,
    ) -> Result<Pending<B, K::Future, L::Future>, Rejection> {
        let credential = self.classify(&mut request)?;
        let (parts, body) = request.into_parts();
        let required = self.policy.required_scope(&parts);
        let lookup = self.store.get(&credential.id);
        Ok(Pending {
            parts,
            body,
            credential,
            required,
            stage: Stage::Lookup(lookup),
        })
    }

    /// Drives `pending` on; once its stages are over, calls `inner` with the request (the key
    /// attached) or renders its rejection. `pending` is left `None` then.
    pub(crate) fn advance<S, B>(
        &self,
        pending: &mut Option<Pending<B, K::Future, L::Future>>,
        inner: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Next<S::Future>>
    where
        S: Service<Request<B>>,
    {
        let outcome =
            ready!(self.poll_stages(pending.as_mut().expect(POLLED_AFTER_COMPLETION), cx));
        let Pending {
            mut parts, body, ..
        } = pending.take().expect(POLLED_AFTER_COMPLETION);
        Poll::Ready(match outcome {
            Ok(Authorized { key, rate }) => {
                parts.extensions.insert(key);
                let headers = rate.map(|(quota, decision)| self.headers.pending(quota, decision));
                Next::Call(inner.call(Request::from_parts(parts, body)), headers)
            }
            Err(rejection) => Next::Respond(self.respond(rejection)),
        })
    }

    /// Lookup, verify, authorize, limit: as far as the backends have answered.
    fn poll_stages<B>(
        &self,
        pending: &mut Pending<B, K::Future, L::Future>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Authorized, Rejection>> {
        loop {
            match &mut pending.stage {
                Stage::Lookup(lookup) => {
                    let found = ready!(Pin::new(lookup).poll(cx));
                    let credential = &pending.credential;
                    let record = self.verified(found, credential)?;
                    self.authorize(&record, pending.required.as_ref(), credential.grpc)?;
                    let Some(quota) = self.quota_of(&record) else {
                        return Poll::Ready(Ok(self.authorized(record, None)));
                    };
                    let future = self.limiter.check(&credential.id, &quota);
                    pending.stage = Stage::Limit {
                        future,
                        record,
                        quota,
                    };
                }
                Stage::Limit {
                    future,
                    record,
                    quota,
                } => {
                    let decided = ready!(Pin::new(future).poll(cx));
                    let record = Arc::clone(record);
                    return Poll::Ready(self.decided(decided, record, *quota, &pending.credential));
                }
            }
        }
    }
}
