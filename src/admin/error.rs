//! [`AdminError`]: why the admin API refused a request, as an RFC 9457 problem.

use std::sync::OnceLock;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::code::ErrorCode;
use crate::key::KeyId;
use crate::limit::LimiterError;
use crate::ratelimit_headers::RateLimitHeaders;
use crate::realm::Realm;
use crate::record::KeyName;
use crate::rejection::Rejection;
use crate::respond::{self, DefaultRejection, ProblemBody};
use crate::scope::Scope;
use crate::store::StoreError;

/// One refused field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The JSON member, e.g. `name` or `scopes[1]`; `None` for the request as a whole.
    pub field: Option<String>,
    /// What is wrong and how to write it.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// Why the admin API refused a request. Every refusal changes nothing.
///
/// | variant | status | `code` |
/// |---|---|---|
/// | [`MissingLayer`](Self::MissingLayer) | 500 | `admin_unprotected` |
/// | [`NotAdmin`](Self::NotAdmin) | 403 | `insufficient_scope` (as the layer says it, `scope="admin"`, in the router's realm) |
/// | [`Malformed`](Self::Malformed) | 400 | `malformed_request` (not JSON, or a path that is not a key id) |
/// | [`TooLarge`](Self::TooLarge) | 413 | `request_too_large` |
/// | [`Invalid`](Self::Invalid) | 422 | `invalid_request` (with `errors`: one per field; unknown, missing and mistyped members included, metadata that is not an object of at most 1 KiB, a `workspace` other than the caller's, an `allowed_ips[i]` entry that is no address or CIDR range, more than 64 `allowed_ips`) |
/// | [`NotFound`](Self::NotFound) | 404 | `key_not_found` (also for a key of another workspace, byte for byte) |
/// | [`NameTaken`](Self::NameTaken) | 409 | `name_taken` (an unrevoked key of the caller's workspace has the name) |
/// | [`Conflict`](Self::Conflict) | 409 | `key_conflict` |
/// | [`OperatorOnly`](Self::OperatorOnly) | 403 | `operator_only` (topping up credits, or naming another workspace, by a key that is not an admin of the operator's workspace) |
/// | [`Unavailable`](Self::Unavailable) | 503 | `store_unavailable` (`Retry-After: 1`) |
/// | [`LimiterUnavailable`](Self::LimiterUnavailable) | 503 | `store_unavailable` (`Retry-After: 1`; the limiter keeping credits could not answer) |
///
/// Every refusal is `application/problem+json` with `Cache-Control: no-store`, written by the
/// same renderer as the layer's answers.
#[derive(Debug)]
#[non_exhaustive]
pub enum AdminError {
    /// The request carries no `AuthenticatedKey`: the router is mounted without `ApiKeyLayer`
    /// in front of it. A deployment fault, never the caller's.
    MissingLayer,
    /// The caller's key lacks the `admin` scope.
    NotAdmin {
        /// The caller's key id.
        id: KeyId,
        /// The caller's key name.
        name: KeyName,
        /// The realm of the `WWW-Authenticate` challenge (see
        /// [`router_with_realm`](super::router_with_realm)).
        realm: Realm,
    },
    /// The body is not JSON at all, or the path is not a key id. (JSON of the wrong shape —
    /// an unknown, missing or mistyped member — is [`Invalid`](Self::Invalid), naming it.)
    Malformed(String),
    /// The body is larger than the admin API accepts.
    TooLarge,
    /// Well-formed, but some values are refused.
    Invalid(Vec<FieldError>),
    /// No key of the caller's workspace has this id (a key of another workspace is not found
    /// either, with the very same answer).
    NotFound(KeyId),
    /// An unrevoked key of the caller's workspace already has this name.
    NameTaken(KeyName),
    /// The change conflicts with the key's state (e.g. rotating a revoked key).
    Conflict(String),
    /// The key store could not answer.
    Unavailable,
    /// Only the operator may do this: top up credits, or act in another workspace
    /// (`?workspace=`). The caller is an admin of its own workspace only, or the router names
    /// no operator ([`Admin::operator`](super::Admin::operator)).
    OperatorOnly,
    /// The limiter that keeps credits (its Redis, for one) could not answer within its
    /// timeout.
    LimiterUnavailable,
}

impl AdminError {
    /// One refused field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotAdmin { .. } | Self::OperatorOnly => StatusCode::FORBIDDEN,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NameTaken(_) | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable | Self::LimiterUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::MissingLayer => "admin_unprotected",
            Self::NotAdmin { .. } => ErrorCode::InsufficientScope.as_str(),
            Self::Malformed(_) => "malformed_request",
            Self::TooLarge => "request_too_large",
            Self::Invalid(_) => "invalid_request",
            Self::NotFound(_) => "key_not_found",
            Self::NameTaken(_) => "name_taken",
            Self::Conflict(_) => "key_conflict",
            Self::Unavailable | Self::LimiterUnavailable => "store_unavailable",
            Self::OperatorOnly => "operator_only",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::MissingLayer => "The admin API received a request without an authenticated key: \
                 mount keygate::admin::router behind ApiKeyLayer"
                .to_owned(),
            Self::NotAdmin { .. } => String::new(),
            Self::Malformed(message) | Self::Conflict(message) => message.clone(),
            Self::TooLarge => "The request body is too large for the admin API".to_owned(),
            Self::Invalid(errors) => errors
                .iter()
                .map(|e| match &e.field {
                    Some(field) => format!("{field}: {}", e.message),
                    None => e.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            Self::NotFound(id) => format!("No key has the id {id}"),
            Self::NameTaken(name) => format!(
                "A key named {name} already exists in this workspace: choose another name, \
                 or revoke that key first"
            ),
            Self::Unavailable => {
                "The key store could not be reached; nothing was changed".to_owned()
            }
            Self::LimiterUnavailable => "The rate limiter that keeps credits could not be \
                 reached; nothing was changed"
                .to_owned(),
            Self::OperatorOnly => "Only the operator tops up credits or acts in another \
                 workspace: a workspace's admin key reads its own keys' credits; use an admin \
                 key of the operator's workspace, or ask the operator to add credits"
                .to_owned(),
        }
    }

    /// The same 403 the layer gives a key without a route's scope, naming `admin`.
    fn not_admin(id: KeyId, name: KeyName, realm: &Realm) -> Response {
        static RESPONDER: OnceLock<DefaultRejection> = OnceLock::new();
        let rejection = Rejection::insufficient_scope(Scope::Admin, id, name, realm, false);
        respond::complete(
            RESPONDER.get_or_init(DefaultRejection::new),
            rejection,
            RateLimitHeaders::None,
        )
        .map(axum::body::Body::from)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => Self::NotFound(id),
            StoreError::Invalid(message) => Self::Invalid(vec![FieldError {
                field: None,
                message,
            }]),
            StoreError::Conflict(message) => Self::Conflict(message),
            // The workspace is the caller's own: the detail names only the name.
            StoreError::NameTaken { name, .. } => Self::NameTaken(name),
            other => {
                tracing::error!(error = %other, "keygate admin: the key store failed");
                Self::Unavailable
            }
        }
    }
}

impl From<LimiterError> for AdminError {
    fn from(e: LimiterError) -> Self {
        tracing::error!(error = %e, "keygate admin: the limiter keeping credits failed");
        Self::LimiterUnavailable
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::NotAdmin { id, name, realm } = self {
            return Self::not_admin(id, name, &realm);
        }
        let mut body = ProblemBody::new(status, None, &self.detail(), self.code());
        if let Self::Invalid(errors) = &self {
            match serde_json::to_string(errors) {
                Ok(errors) => body = body.json("errors", &errors),
                Err(error) => tracing::error!(%error, "keygate admin: field errors not written"),
            }
        }
        let mut response = respond::uncached_problem(status, body.finish());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.map(axum::body::Body::from)
    }
}
