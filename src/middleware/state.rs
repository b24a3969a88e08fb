//! The request's state machine, and the one place where it moves on.
//!
//! ```text
//!   classify ─► Lookup ── store answered ──► verify ─► authorize ─┬─ no quota ────────┐
//!   (in call)      ▲                                               ▼                   │
//!                  │                                             Limit ── decided ─────┤
//!                  │                                                                   ▼
//!   not ready: the response future polls again           finish: call inner, or answer
//! ```
//!
//! [`Pipeline::poll_stages`] drives the asynchronous stages and [`Pipeline::finish`] is the
//! only transition out of them. The service runs both in `call` with its own locals (stores
//! and limiters that answer at once finish there, and the request is never copied into a
//! state object); only a request whose backends are not ready yet is moved, once, into a
//! boxed [`Pending`] that the response future drives with the same two functions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use tower_service::Service;

use crate::key::KeyId;
use crate::limit::{Quota, RateLimiter};
use crate::plan::{Usage, UsageFuture};
use crate::policy::ScopePolicy;
use crate::record::KeyRecord;
use crate::rejection::Rejection;
use crate::respond::RejectionResponder;
use crate::scope::Scope;
use crate::store::KeyStore;

use super::classify::{Credential, Lookup};
use super::limit::{AdmittedUsage, Authorized};
use super::observe::Stamp;
use super::pipeline::Pipeline;
use super::ratelimit_headers::PendingHeaders;

pub(crate) const POLLED_AFTER_COMPLETION: &str = "keygate ResponseFuture polled after completion";

/// What the asynchronous stages need to know about a classified request.
pub(crate) struct Ticket {
    pub(crate) credential: Credential,
    pub(crate) required: Option<Scope>,
    /// The units the route costs a key under a plan.
    pub(crate) cost: u32,
    /// When the request arrived, if a decision hook wants to know ([`Pipeline::started`]).
    pub(crate) started: Option<Instant>,
}

/// A refused request: its rejection, and the key's record when the caller proved they hold
/// its secret (for the decision's event and metrics; never sent to the client).
pub(crate) struct Refused {
    pub(crate) rejection: Rejection,
    pub(crate) record: Option<Arc<KeyRecord>>,
}

impl Refused {
    /// The refusal of the key of `record`.
    pub(crate) fn of_key(rejection: Rejection, record: Arc<KeyRecord>) -> Self {
        Self {
            rejection,
            record: Some(record),
        }
    }
}

impl From<Rejection> for Refused {
    fn from(rejection: Rejection) -> Self {
        Self {
            rejection,
            record: None,
        }
    }
}

/// Where the asynchronous stages are.
pub(crate) enum Stage<KF, LF> {
    /// Waiting for the key store, asked at the stamp.
    Lookup(KF, Stamp),
    /// Waiting for the rate limiter.
    Limit {
        future: LF,
        record: Arc<KeyRecord>,
        quota: Quota,
        since: Stamp,
    },
    /// Waiting for the limiter's decision on every limit of the key's plan.
    Usage {
        /// Boxed: a decision under a plan is a couple of hundred bytes, and every request's
        /// response future holds a stage.
        future: Box<UsageFuture>,
        record: Arc<KeyRecord>,
        since: Stamp,
    },
}

/// A request whose backends did not answer in `call`, kept until they do.
pub(crate) struct Pending<B, KF, LF> {
    pub(crate) parts: Parts,
    pub(crate) body: B,
    pub(crate) ticket: Ticket,
    pub(crate) stage: Stage<KF, LF>,
}

/// Where a request goes once its stages are over.
pub(crate) enum Next<F> {
    /// To the inner service.
    Call(F, Admitted),
    /// Back to the client, with this answer.
    Respond(Response<Bytes>),
}

/// What the layer still owes a request it handed to the inner service.
pub(crate) struct Admitted {
    /// The rate-limit headers for its response.
    pub(crate) headers: Option<PendingHeaders>,
    /// What it spent, to give back if a route layer inside refuses it with 403
    /// `insufficient_scope` (a 403 never spends quota).
    pub(crate) spent: Option<Spent>,
}

/// What an admitted request spent.
pub(crate) enum Spent {
    /// One unit of a key's quota.
    Rate(KeyId, Quota),
    /// Its cost on every limit of the key's plan, counted in the periods of `counted_at`.
    Usage {
        record: Arc<KeyRecord>,
        cost: u32,
        counted_at: SystemTime,
    },
}

impl<K, L, P, R> Pipeline<K, L, P, R>
where
    K: KeyStore,
    L: RateLimiter,
    P: ScopePolicy,
    R: RejectionResponder,
{
    /// The store's lookup of `credential`'s key: by its id, or by the digest of a token in
    /// another format. `Err`: the store keeps no keys in another format, so the token is
    /// `malformed_api_key`, as it is with imported keys off.
    pub(crate) fn lookup(&self, credential: &Credential) -> Result<K::Future, Rejection> {
        match credential.lookup {
            Lookup::Id(id) => Ok(self.store.get(&id)),
            Lookup::Digest(not_a_key) => self
                .store
                .get_by_digest(&credential.digest)
                .ok_or_else(|| self.not_imported(not_a_key, credential.grpc)),
        }
    }

    /// Runs the synchronous stages on `parts` and starts the stages with `lookup`, the
    /// store's lookup of the key ([`Pipeline::lookup`]).
    pub(crate) fn start(
        &self,
        parts: &Parts,
        credential: Credential,
        lookup: K::Future,
        started: Option<Instant>,
    ) -> (Ticket, Stage<K::Future, L::Future>) {
        let required = self.policy.required_scope(parts);
        let cost = self.policy.cost(parts);
        let since = self.stamp();
        (
            Ticket {
                credential,
                required,
                cost,
                started,
            },
            Stage::Lookup(lookup, since),
        )
    }

    /// Lookup, verify, authorize, limit: as far as the backends have answered.
    pub(crate) fn poll_stages(
        &self,
        stage: &mut Stage<K::Future, L::Future>,
        ticket: &Ticket,
        parts: &Parts,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Authorized, Refused>> {
        let credential = &ticket.credential;
        loop {
            match stage {
                Stage::Lookup(lookup, since) => {
                    let found = ready!(Pin::new(lookup).poll(cx));
                    let answered = self.lookup_answered(*since);
                    let record = self.verified(found, credential, parts)?;
                    if let Err(rejection) =
                        self.authorize(&record, ticket.required.as_ref(), credential.grpc)
                    {
                        return Poll::Ready(Err(Refused::of_key(rejection, record)));
                    }
                    let since = answered;
                    if let Some(plan) = &record.plan {
                        let usage =
                            Usage::new(&record.id, &record.workspace, plan).cost(ticket.cost);
                        let future = Box::new(self.limiter.admit(&usage));
                        *stage = Stage::Usage {
                            future,
                            record,
                            since,
                        };
                        continue;
                    }
                    let Some(quota) = self.quota_of(&record) else {
                        return Poll::Ready(Ok(self.authorized(record, None)));
                    };
                    let future = self.limiter.check(&record.id, &quota);
                    *stage = Stage::Limit {
                        future,
                        record,
                        quota,
                        since,
                    };
                }
                Stage::Limit {
                    future,
                    record,
                    quota,
                    since,
                } => {
                    let decided = ready!(Pin::new(future).poll(cx));
                    self.limiter_answered(*since);
                    let record = Arc::clone(record);
                    return Poll::Ready(self.decided(decided, record, *quota, credential));
                }
                Stage::Usage {
                    future,
                    record,
                    since,
                } => {
                    let decided = ready!(Pin::new(&mut **future).poll(cx));
                    self.limiter_answered(*since);
                    let record = Arc::clone(record);
                    return Poll::Ready(self.usage_decided(
                        decided,
                        record,
                        ticket.cost,
                        credential,
                    ));
                }
            }
        }
    }

    /// The end of the stages: the decision is reported ([`Pipeline::observe`]), then the
    /// request, its key attached, goes to `inner`, or its rejection is rendered.
    pub(crate) fn finish<S, B>(
        &self,
        outcome: Result<Authorized, Refused>,
        ticket: &Ticket,
        mut parts: Parts,
        body: B,
        inner: &mut S,
    ) -> Next<S::Future>
    where
        S: Service<Request<B>>,
    {
        self.observe(outcome.as_ref(), Some(ticket), ticket.started);
        match outcome {
            Ok(Authorized {
                key, rate, usage, ..
            }) => {
                let (spent, headers) = match (rate, usage) {
                    (Some((quota, decision)), _) => (
                        Some(Spent::Rate(key.id(), quota)),
                        Some(self.settings.headers.pending(quota, decision)),
                    ),
                    (None, Some(usage)) => {
                        let AdmittedUsage { constraint, cost } = *usage;
                        let spent = Spent::Usage {
                            record: Arc::clone(key.record()),
                            cost,
                            counted_at: constraint.counted_at,
                        };
                        (
                            Some(spent),
                            Some(self.settings.headers.pending_usage(constraint)),
                        )
                    }
                    (None, None) => (None, None),
                };
                parts.extensions.insert(key);
                let future = inner.call(Request::from_parts(parts, body));
                Next::Call(future, Admitted { headers, spent })
            }
            Err(refused) => Next::Respond(self.respond(refused.rejection)),
        }
    }
}

impl<K, L: RateLimiter, P, R> Pipeline<K, L, P, R> {
    /// Gives back `spent` if `response` is a route layer's 403 `insufficient_scope`; whether
    /// it did.
    pub(crate) fn refund_if_refused<B>(&self, spent: Spent, response: &Response<B>) -> bool {
        let refused = response
            .extensions()
            .get::<Rejection>()
            .is_some_and(|r| r.code() == crate::code::ErrorCode::InsufficientScope);
        if refused {
            match spent {
                Spent::Rate(id, quota) => self.limiter.refund(&id, &quota),
                Spent::Usage {
                    record,
                    cost,
                    counted_at,
                } => {
                    if let Some(plan) = &record.plan {
                        let usage = Usage::new(&record.id, &record.workspace, plan).cost(cost);
                        self.limiter.refund_usage(&usage, counted_at);
                    }
                }
            }
        }
        refused
    }
}
