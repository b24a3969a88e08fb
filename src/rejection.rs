//! [`Rejection`]: why the layer stopped a request.

use std::fmt;
use std::time::Duration;

use crate::code::ErrorCode;
use crate::key::KeyId;
use crate::limit::{Decision, Quota, ceil_secs};
use crate::plan::{Limit, Plan, UsageDecision};
use crate::realm::Realm;
use crate::record::KeyName;
use crate::scope::Scope;

/// What a 429 was decided on: one quota, or every limit of a plan.
#[derive(Clone)]
enum Limited {
    Rate(Quota, Decision),
    Usage(UsageDecision),
}

/// Why the layer stopped a request: the error-table row and what the response needs to say.
///
/// A rejection becomes a response (never a service error). The rejection is also left in the
/// response's extensions, so outer layers and access logs can read it.
#[derive(Clone)]
pub struct Rejection {
    code: ErrorCode,
    reason: &'static str,
    realm: Realm,
    grpc: bool,
    required_scope: Option<Scope>,
    limited: Option<Box<Limited>>,
    retry_after: Option<Duration>,
    key: Option<(KeyId, KeyName)>,
}

impl Rejection {
    pub(crate) fn new(code: ErrorCode, realm: &Realm, grpc: bool) -> Self {
        Self {
            code,
            reason: code.reason(),
            realm: realm.clone(),
            grpc,
            required_scope: None,
            limited: None,
            retry_after: None,
            key: None,
        }
    }

    /// The `insufficient_scope` rejection of a key that proved its secret but lacks `required`.
    pub(crate) fn insufficient_scope(
        required: Scope,
        id: KeyId,
        name: KeyName,
        realm: &Realm,
        grpc: bool,
    ) -> Self {
        Self::new(ErrorCode::InsufficientScope, realm, grpc)
            .with_required_scope(required)
            .with_key(id, name)
    }

    pub(crate) fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    pub(crate) fn with_required_scope(mut self, scope: Scope) -> Self {
        self.required_scope = Some(scope);
        self
    }

    pub(crate) fn with_rate_limit(mut self, quota: Quota, decision: Decision) -> Self {
        self.retry_after = Some(decision.retry_after);
        self.limited = Some(Box::new(Limited::Rate(quota, decision)));
        self
    }

    /// The refusal of a request under a plan: the limits' states for the headers, and the
    /// refusing limit's retry delay (none when only a top-up can help).
    pub(crate) fn with_usage(mut self, decision: UsageDecision) -> Self {
        self.retry_after = decision
            .refused_by()
            .and_then(|limit| decision.state(limit.name().as_str()))
            .and_then(|state| state.retry_after);
        self.limited = Some(Box::new(Limited::Usage(decision)));
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub(crate) fn with_key(mut self, id: KeyId, name: KeyName) -> Self {
        self.key = Some((id, name));
        self
    }

    /// The error-table row.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status of the row.
    pub fn status(&self) -> http::StatusCode {
        self.code.status()
    }

    /// A one-line account of the cause, safe to send to the client.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The `realm` of `WWW-Authenticate`.
    pub fn realm(&self) -> &str {
        self.realm.as_str()
    }

    /// The realm, as the type.
    pub(crate) fn realm_value(&self) -> &Realm {
        &self.realm
    }

    /// Whether the request was a gRPC request (its `content-type` starts with
    /// `application/grpc`), so the answer must be a gRPC status.
    pub fn is_grpc(&self) -> bool {
        self.grpc
    }

    /// For `insufficient_scope`: the scope the endpoint needs.
    pub fn required_scope(&self) -> Option<&Scope> {
        self.required_scope.as_ref()
    }

    /// For `rate_limited`: the quota applied and the limiter's decision.
    pub fn rate_limit(&self) -> Option<(&Quota, &Decision)> {
        match self.limited.as_deref()? {
            Limited::Rate(quota, decision) => Some((quota, decision)),
            Limited::Usage(_) => None,
        }
    }

    /// For a request under a plan: every limit's state, for the rate-limit headers.
    pub fn usage(&self) -> Option<&UsageDecision> {
        match self.limited.as_deref()? {
            Limited::Usage(decision) => Some(decision),
            Limited::Rate(..) => None,
        }
    }

    /// For a request refused under a plan: the limit that refused it.
    pub fn refused_limit(&self) -> Option<&Limit> {
        self.usage().and_then(UsageDecision::refused_by)
    }

    /// For a request refused under a plan: the plan.
    pub fn plan(&self) -> Option<&Plan> {
        self.usage().map(UsageDecision::plan)
    }

    /// For `rate_limited` and `auth_unavailable`: `Retry-After` in whole seconds, rounded up,
    /// never 0. Saturates at `u64::MAX` seconds (say, for `Duration::MAX`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| ceil_secs(d).max(1))
    }

    /// The key's id, once the caller has proved they hold its secret (403 and 429 rows but
    /// `https_required`, and revoked, expired or disabled keys).
    pub fn key_id(&self) -> Option<KeyId> {
        self.key.as_ref().map(|(id, _)| *id)
    }

    /// The key's name, under the same condition as [`Rejection::key_id`].
    pub fn key_name(&self) -> Option<&KeyName> {
        self.key.as_ref().map(|(_, name)| name)
    }

    /// The `WWW-Authenticate` challenge this rejection calls for (RFC 6750 §3), if any.
    ///
    /// `https_required` and `ip_not_allowed` carry none: the key is good, and no other
    /// credential would be let in over plain HTTP or from that address (RFC 6750 has no error
    /// code for either, and `invalid_token` would send the client to fetch a new key).
    pub fn www_authenticate(&self) -> Option<String> {
        match self.code {
            ErrorCode::MissingApiKey => Some(format!("Bearer realm=\"{}\"", self.realm)),
            ErrorCode::MalformedApiKey
            | ErrorCode::InvalidApiKey
            | ErrorCode::RevokedApiKey
            | ErrorCode::ExpiredApiKey
            | ErrorCode::DisabledApiKey => Some(format!(
                "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                self.realm, self.reason
            )),
            ErrorCode::InsufficientScope => {
                let scope = self
                    .required_scope
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Some(format!(
                    "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{scope}\"",
                    self.realm
                ))
            }
            _ => None,
        }
    }

    /// The default fix to show the caller ([`ErrorCode::fix`]); for `insufficient_scope` it
    /// names the missing scope, and for a refusal under a plan the limit and the plan.
    pub fn fix(&self) -> String {
        self.fix_with(self.code.fix())
    }

    /// `fix`, the text of this row's fix, completed as [`fix`](Self::fix) completes the
    /// default: for `insufficient_scope`, followed by the missing scope, e.g. `… (write:all)`;
    /// under a plan, by the limit and plan, e.g. `… (limit daily of plan trial)`.
    pub fn fix_with(&self, fix: &str) -> String {
        match (&self.code, &self.required_scope) {
            (ErrorCode::InsufficientScope, Some(scope)) => format!("{fix} ({scope})"),
            _ => match (self.plan(), self.refused_limit()) {
                (Some(plan), Some(limit)) => {
                    format!("{fix} (limit {} of plan {})", limit.name(), plan.name())
                }
                _ => fix.to_owned(),
            },
        }
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("code", &self.code)
            .field("reason", &self.reason)
            .field("grpc", &self.grpc)
            .field("required_scope", &self.required_scope)
            .field("retry_after", &self.retry_after)
            .field("limit", &self.refused_limit().map(Limit::name))
            .field("plan", &self.plan().map(Plan::name))
            .field("key", &self.key)
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.status().as_u16(),
            self.reason
        )
    }
}

impl std::error::Error for Rejection {}
