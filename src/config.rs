//! The layer's shared configuration and the authorization pipeline it runs.
//!
//! ```text
//! request ─► transport ─► path ─► extract ─► parse ─► lookup ─► verify ─► authorize ─► limit ─► inner
//! ```
//!
//! Stages before `lookup` touch no store. Between `parse` and the hash of the secret, a client
//! over its failure budget (see [`FailureLimit`](crate::limit::FailureLimit)) is answered 429,
//! and every failed verification is counted against its client. Scope is checked before the
//! limiter, so a 403 never spends quota.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};

use crate::authenticated::AuthenticatedKey;
use crate::client_addr::ClientAddr;
use crate::clock::Clock;
use crate::code::ErrorCode;
use crate::extract::{self, ExtractError, Malformed};
use crate::key::{self, KeyDigest, KeyId, KeyPrefix};
use crate::limit::{
    Client, Decision, FailureLimiter, FailurePolicy, LimiterError, Quota, RateLimiter, Refusal,
};
use crate::policy::ScopePolicy;
use crate::ratelimit_headers::{HeaderStyle, PendingHeaders};
use crate::record::KeyRecord;
use crate::rejection::Rejection;
use crate::respond::RejectionResponder;
use crate::scope::Scope;
use crate::store::{KeyStore, StoreError};
use crate::transport;

/// Everything an [`ApiKeyLayer`](crate::ApiKeyLayer) and its services share.
pub(crate) struct Config<K, L, P, R> {
    pub(crate) store: K,
    pub(crate) limiter: L,
    pub(crate) policy: P,
    pub(crate) responder: R,
    pub(crate) prefix: KeyPrefix,
    pub(crate) realm: crate::realm::Realm,
    pub(crate) default_quota: Option<Quota>,
    pub(crate) headers: HeaderStyle,
    pub(crate) require_https: bool,
    pub(crate) trusted_proxy: Option<crate::transport::ProxyHeader>,
    pub(crate) limiter_failure: FailurePolicy,
    pub(crate) unavailable_retry_after: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    /// Failed authentications per client; `None` when switched off.
    pub(crate) failures: Option<FailureLimiter>,
}

/// Rate-limit headers to add to the inner service's response.
pub(crate) type RateHeaders = PendingHeaders;

/// A request between `parse` and the inner service.
pub(crate) struct Pending<B, KF, LF> {
    parts: Parts,
    body: B,
    id: KeyId,
    digest: KeyDigest,
    required: Option<Scope>,
    grpc: bool,
    /// Whom a failure of this request counts against (when failures are limited).
    client: Client,
    stage: Stage<KF, LF>,
}

enum Stage<KF, LF> {
    Lookup(KF),
    Limit {
        future: LF,
        record: Arc<KeyRecord>,
        quota: Quota,
    },
}

/// A request that passed every stage.
pub(crate) struct Authorized {
    key: AuthenticatedKey,
    rate: Option<(Quota, Decision)>,
}

impl<B, KF, LF> Pending<B, KF, LF> {
    /// The request to hand to the inner service, with the [`AuthenticatedKey`] attached.
    pub(crate) fn into_request(
        self,
        authorized: Authorized,
        headers: &HeaderStyle,
    ) -> (Request<B>, Option<RateHeaders>) {
        let mut parts = self.parts;
        parts.extensions.insert(authorized.key);
        let rate = authorized.rate.map(|(q, d)| headers.pending(q, d));
        (Request::from_parts(parts, self.body), rate)
    }
}

impl<K, L, P, R> Config<K, L, P, R>
where
    K: KeyStore,
    L: RateLimiter,
    P: ScopePolicy,
    R: RejectionResponder,
{
    fn reject(&self, code: ErrorCode, grpc: bool) -> Rejection {
        Rejection::new(code, &self.realm, grpc)
    }

    fn unavailable(&self, grpc: bool) -> Rejection {
        self.reject(ErrorCode::AuthUnavailable, grpc)
            .with_retry_after(self.unavailable_retry_after)
    }

    /// The synchronous stages: transport, path, extract, parse, policy; then starts the
    /// lookup.
    pub(crate) fn begin<B>(
        &self,
        mut request: Request<B>,
    ) -> Result<Pending<B, K::Future, L::Future>, Rejection> {
        let grpc = crate::respond::is_grpc_request(request.headers());
        if self.require_https && !transport::is_https(&request, self.trusted_proxy) {
            return Err(self.reject(ErrorCode::HttpsRequired, grpc));
        }
        if let Err(ambiguous) = crate::policy::check_path(request.uri().path()) {
            return Err(self
                .reject(ErrorCode::MalformedRequest, grpc)
                .with_reason(ambiguous.description()));
        }
        let parsed = match extract::bearer_token(request.headers()) {
            Err(ExtractError::Missing) => return Err(self.reject(ErrorCode::MissingApiKey, grpc)),
            Err(ExtractError::Malformed(m)) => {
                return Err(self
                    .reject(ErrorCode::MalformedApiKey, grpc)
                    .with_reason(m.description()));
            }
            Ok(token) => match key::parse(token, &self.prefix) {
                Ok(parsed) => parsed,
                Err(e) => {
                    return Err(self
                        .reject(ErrorCode::MalformedApiKey, grpc)
                        .with_reason(Malformed::NotAKey(e).description()));
                }
            },
        };
        let client = self.admit(&request, grpc)?;
        let (id, digest) = (parsed.id(), parsed.digest());
        // Never indexed by HPACK, printed as `Sensitive` by Debug, wherever the request goes.
        if let Some(value) = request.headers_mut().get_mut(http::header::AUTHORIZATION) {
            value.set_sensitive(true);
        }
        let (parts, body) = request.into_parts();
        let required = self.policy.required_scope(&parts);
        let lookup = self.store.get(&id);
        Ok(Pending {
            parts,
            body,
            id,
            digest,
            required,
            grpc,
            client,
            stage: Stage::Lookup(lookup),
        })
    }

    /// Drives the asynchronous stages: lookup, verify, authorize, limit.
    pub(crate) fn poll_pending<B>(
        &self,
        pending: &mut Pending<B, K::Future, L::Future>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Authorized, Rejection>> {
        loop {
            match &mut pending.stage {
                Stage::Lookup(future) => {
                    let found = ready!(Pin::new(future).poll(cx));
                    let record = match found {
                        Ok(record) => record,
                        Err(error) => return Poll::Ready(Err(self.store_failed(pending, &error))),
                    };
                    if let Err(code) =
                        crate::verify::verify(record.as_deref(), &pending.digest, &*self.clock)
                    {
                        self.failed(pending.client);
                        let mut rejection = self.reject(code, pending.grpc);
                        if let (Some(r), ErrorCode::RevokedApiKey | ErrorCode::ExpiredApiKey) =
                            (&record, code)
                        {
                            rejection = rejection.with_key(r.id, r.name.clone());
                        }
                        return Poll::Ready(Err(rejection));
                    }
                    let Some(record) = record else {
                        self.failed(pending.client);
                        return Poll::Ready(Err(
                            self.reject(ErrorCode::InvalidApiKey, pending.grpc)
                        ));
                    };
                    if let Some(required) = &pending.required
                        && !record.scopes.grants(required)
                    {
                        return Poll::Ready(Err(Rejection::insufficient_scope(
                            required.clone(),
                            record.id,
                            record.name.clone(),
                            &self.realm,
                            pending.grpc,
                        )));
                    }
                    match record.quota.or(self.default_quota) {
                        None => return Poll::Ready(Ok(self.authorized(record, None))),
                        Some(quota) => {
                            let future = self.limiter.check(&pending.id, &quota);
                            pending.stage = Stage::Limit {
                                future,
                                record,
                                quota,
                            };
                        }
                    }
                }
                Stage::Limit {
                    future,
                    record,
                    quota,
                } => {
                    let decided = ready!(Pin::new(future).poll(cx));
                    let quota = *quota;
                    let record = Arc::clone(record);
                    return Poll::Ready(match decided {
                        Ok(decision) if decision.allowed => {
                            Ok(self.authorized(record, Some((quota, decision))))
                        }
                        Ok(decision) => Err(self
                            .reject(ErrorCode::RateLimited, pending.grpc)
                            .with_rate_limit(quota, decision)
                            .with_key(record.id, record.name.clone())),
                        Err(error) => self.limiter_failed(pending, record, &error),
                    });
                }
            }
        }
    }

    /// Whom a failure of `request` would count against, unless its client is already over
    /// its failure budget: then the 429 that spares the hash and the lookup.
    fn admit<B>(&self, request: &Request<B>, grpc: bool) -> Result<Client, Rejection> {
        let Some(failures) = &self.failures else {
            return Ok(Client::Unattributed);
        };
        let client = Client::of(ClientAddr::of(request.extensions()));
        failures
            .admit(client)
            .map_err(|Refusal { quota, decision }| {
                self.reject(ErrorCode::RateLimited, grpc)
                    .with_reason("Too many failed authentication attempts from this client")
                    .with_rate_limit(quota, decision)
            })?;
        Ok(client)
    }

    /// Counts a failed authentication (unknown id, wrong secret, revoked or expired key).
    fn failed(&self, client: Client) {
        if let Some(failures) = &self.failures {
            failures.record(client);
        }
    }

    fn authorized(&self, record: Arc<KeyRecord>, rate: Option<(Quota, Decision)>) -> Authorized {
        self.store.touch(&record.id);
        let quota = rate.map(|(q, _)| q);
        Authorized {
            key: AuthenticatedKey::new(record, quota),
            rate,
        }
    }

    fn store_failed<B>(
        &self,
        pending: &Pending<B, K::Future, L::Future>,
        error: &StoreError,
    ) -> Rejection {
        tracing::warn!(key_id = %pending.id, %error, "key store failed; answering 503");
        self.unavailable(pending.grpc)
    }

    fn limiter_failed<B>(
        &self,
        pending: &Pending<B, K::Future, L::Future>,
        record: Arc<KeyRecord>,
        error: &LimiterError,
    ) -> Result<Authorized, Rejection> {
        match self.limiter_failure {
            FailurePolicy::FailClosed => {
                tracing::warn!(key_id = %pending.id, %error, "rate limiter failed; failing closed with 503");
                Err(self.unavailable(pending.grpc))
            }
            FailurePolicy::FailOpen => {
                tracing::warn!(key_id = %pending.id, %error, "rate limiter failed; failing open");
                Ok(self.authorized(record, None))
            }
        }
    }

    /// The response for a rejection, with the headers the error table promises.
    pub(crate) fn respond(&self, rejection: Rejection) -> Response<Bytes> {
        crate::respond::complete(&self.responder, rejection, self.headers.style())
    }
}
