//! [`router`]: the endpoint that receives leak reports, checks their signature, labels their
//! tokens and acts on the live keys among them.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, body::Bytes};
use http::StatusCode;
use http::header::CACHE_CONTROL;

use crate::respond::NO_STORE;
use crate::store::{KeyManager, KeyStore};

use super::triage::Triage;
use super::{LeakConfig, LeakError, ReportVerifier, ReportedToken};

/// The leak-report endpoint over `store`: `POST` at the router's root, to nest where the
/// service registered it (`Router::new().nest("/github/leaks", keygate::leaks::router(…))`).
///
/// For each report, in this order:
///
/// 1. The `Github-Public-Key-Identifier` and `Github-Public-Key-Signature` headers are read:
///    a missing, repeated or unknown identifier, or a signature that is not base64 DER, is 401
///    `invalid_signature` before the body is read.
/// 2. The body is read, up to [`max_body_bytes`](LeakConfig::max_body_bytes) (413 over it),
///    and its signature checked as received (401 `invalid_signature` when it does not match).
///    Nothing else is looked at before this.
/// 3. The body is parsed: not a JSON array of `{"token", "type", "url", "source"}` is 400
///    `malformed_request`; more than [`max_tokens`](LeakConfig::max_tokens) tokens is 413
///    `too_many_tokens`. Nothing is done for a refused report.
/// 4. Each token is labelled. Not of this store's [format](crate::key) (another prefix, a bad
///    checksum): `false_positive`, with no lookup. Otherwise the store is asked for its id,
///    and the token's secret compared with the key's in constant time: an unknown id or a
///    wrong secret is `false_positive`, the same answer. A key the secret proves (revoked,
///    expired or disabled ones included) is `true_positive` and, unless already so, revoked
///    or disabled as [configured](LeakConfig::action), recorded in the audit log with
///    [`Actor::LeakReport`](crate::audit::Actor::LeakReport) (`github:<source>`, the URL),
///    and told to the [notifier](LeakConfig::notifier).
/// 5. The answer is 200 `application/json`, one `{"token_raw", "token_type", "label"}` per
///    token in the report's order (`Cache-Control: no-store`: it echoes the tokens).
///
/// A store failure, or a report still running at its [deadline](LeakConfig::deadline), is 503
/// `store_unavailable` for the whole report (never a wrong label): the reporter retries, and
/// since keys acted on stay so and a settled key is not acted on again, the retried report
/// gets the same answer without a second audit event or notification. Refusals are
/// problem+json ([`LeakError`]).
pub fn router<S>(store: Arc<S>, config: LeakConfig) -> Router
where
    S: KeyStore + KeyManager + 'static,
{
    let manager: Arc<dyn KeyManager> = store.clone();
    router_with(store, manager, config)
}

/// [`router`] with the lookups and the changes made through two handles: `lookup` (a cache in
/// front of the store, say, or the layer's own store) and `manager`. `lookup`'s prefix is the
/// format reported tokens must have.
pub fn router_with<K: KeyStore>(
    lookup: K,
    manager: Arc<dyn KeyManager>,
    config: LeakConfig,
) -> Router {
    let max_body_bytes = config.max_body_bytes;
    let reports = Reports {
        triage: Triage {
            prefix: lookup.prefix(),
            lookup,
            manager,
            action: config.action,
            notifier: config.notifier,
            reporter: config.reporter,
            clock: config.clock,
        },
        verifier: config.verifier,
        max_tokens: config.max_tokens,
        deadline: config.deadline,
    };
    Router::new()
        .route("/", post(receive::<K>))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(Arc::new(reports))
}

/// The router's state.
struct Reports<K> {
    triage: Triage<K>,
    verifier: ReportVerifier,
    max_tokens: usize,
    deadline: std::time::Duration,
}

async fn receive<K: KeyStore>(
    State(reports): State<Arc<Reports<K>>>,
    request: Request,
) -> Response {
    match reports.answer(request).await {
        Ok(labels) => ([(CACHE_CONTROL, NO_STORE)], Json(labels)).into_response(),
        Err(refusal) => {
            tracing::info!(code = refusal.code(), "keygate leaks: a report was refused");
            refusal.into_response()
        }
    }
}

impl<K: KeyStore> Reports<K> {
    async fn answer(&self, request: Request) -> Result<Vec<super::TokenLabel>, LeakError> {
        let claimed = self
            .verifier
            .claimed(request.headers())
            .map_err(LeakError::Signature)?;
        let body = Bytes::from_request(request, &())
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    LeakError::TooLarge
                } else {
                    LeakError::Malformed(rejection.body_text())
                }
            })?;
        claimed.check(&body).map_err(LeakError::Signature)?;
        let report: Vec<ReportedToken> = serde_json::from_slice(&body).map_err(malformed)?;
        if report.len() > self.max_tokens {
            return Err(LeakError::TooManyTokens {
                count: report.len(),
                max: self.max_tokens,
            });
        }
        match tokio::time::timeout(self.deadline, self.triage.labels(&report)).await {
            Ok(Ok(labels)) => Ok(labels),
            Ok(Err(error)) => {
                tracing::error!(%error, "keygate leaks: the key store failed; answering 503");
                Err(LeakError::Unavailable)
            }
            Err(_) => {
                tracing::error!(
                    deadline = ?self.deadline,
                    "keygate leaks: a report outran its deadline; answering 503"
                );
                Err(LeakError::Unavailable)
            }
        }
    }
}

/// Why the body is not a report, without quoting it (it may hold live keys).
fn malformed(error: serde_json::Error) -> LeakError {
    let what = match error.classify() {
        serde_json::error::Category::Data => {
            "not an array of {\"token\", \"type\", \"url\", \"source\"}"
        }
        _ => "not JSON",
    };
    LeakError::Malformed(format!(
        "{what} (line {}, column {})",
        error.line(),
        error.column()
    ))
}
