//! [`ErrorCode`]: the rows of the error table.

use std::fmt;

use http::StatusCode;

/// One row of the error table. Its string form is the `code` member of problem bodies.
///
/// | code | status | gRPC status |
/// |---|---|---|
/// | `missing_api_key` | 401 | 16 UNAUTHENTICATED |
/// | `malformed_api_key` | 401 | 16 UNAUTHENTICATED |
/// | `invalid_api_key` | 401 | 16 UNAUTHENTICATED |
/// | `revoked_api_key` | 401 | 16 UNAUTHENTICATED |
/// | `expired_api_key` | 401 | 16 UNAUTHENTICATED |
/// | `disabled_api_key` | 401 | 16 UNAUTHENTICATED |
/// | `insufficient_scope` | 403 | 7 PERMISSION_DENIED |
/// | `https_required` | 403 | 7 PERMISSION_DENIED |
/// | `ip_not_allowed` | 403 | 7 PERMISSION_DENIED |
/// | `rate_limited` | 429 | 8 RESOURCE_EXHAUSTED |
/// | `auth_unavailable` | 503 | 14 UNAVAILABLE |
/// | `malformed_request` | 400 | 3 INVALID_ARGUMENT |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No `Authorization` header.
    MissingApiKey,
    /// Not one well-formed `Bearer` credential carrying a key of this service.
    MalformedApiKey,
    /// Well-formed, but an unknown id or a wrong secret (the two are not told apart).
    InvalidApiKey,
    /// The right secret of a revoked key.
    RevokedApiKey,
    /// The right secret of an expired key.
    ExpiredApiKey,
    /// The right secret of a disabled key (refused until it is enabled again).
    DisabledApiKey,
    /// A valid key without the scope the endpoint needs.
    InsufficientScope,
    /// Over the key's rate limit.
    RateLimited,
    /// 429: over a calendar quota or out of credits of the key's plan.
    QuotaExceeded,
    /// Plain HTTP where HTTPS is required.
    HttpsRequired,
    /// The right secret of a key whose IP allowlist does not hold the client's address.
    IpNotAllowed,
    /// The key store or the rate limiter could not be reached.
    AuthUnavailable,
    /// A request path that routers can read differently (a dot segment, `//`, an encoded
    /// `/`, `\\` or unreserved character, a backslash, a `;` parameter): refused before the
    /// key is looked up, so that no spelling can dodge a
    /// [`RoutePolicy`](crate::policy::RoutePolicy) rule. See [`crate::policy`].
    MalformedRequest,
}

const DOC_401_DETAIL: &str = "The API key is missing, malformed, or has been revoked";
const DOC_401_FIX: &str = "Double-check the Authorization: Bearer ... header is present and the key is copied correctly with no whitespace";

impl ErrorCode {
    /// The `code` string, e.g. `missing_api_key`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingApiKey => "missing_api_key",
            ErrorCode::MalformedApiKey => "malformed_api_key",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::RevokedApiKey => "revoked_api_key",
            ErrorCode::ExpiredApiKey => "expired_api_key",
            ErrorCode::DisabledApiKey => "disabled_api_key",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::HttpsRequired => "https_required",
            ErrorCode::IpNotAllowed => "ip_not_allowed",
            ErrorCode::AuthUnavailable => "auth_unavailable",
            ErrorCode::MalformedRequest => "malformed_request",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::MissingApiKey
            | ErrorCode::MalformedApiKey
            | ErrorCode::InvalidApiKey
            | ErrorCode::RevokedApiKey
            | ErrorCode::ExpiredApiKey
            | ErrorCode::DisabledApiKey => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope | ErrorCode::HttpsRequired | ErrorCode::IpNotAllowed => {
                StatusCode::FORBIDDEN
            }
            ErrorCode::RateLimited | ErrorCode::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::MalformedRequest => StatusCode::BAD_REQUEST,
        }
    }

    /// The gRPC status code answered to gRPC requests.
    pub fn grpc_status(self) -> u8 {
        match self.status() {
            StatusCode::BAD_REQUEST => 3,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::FORBIDDEN => 7,
            StatusCode::TOO_MANY_REQUESTS => 8,
            _ => 14,
        }
    }

    /// The documented *Meaning* of the row (the problem body's `detail`).
    pub fn detail(self) -> &'static str {
        match self {
            ErrorCode::MissingApiKey
            | ErrorCode::MalformedApiKey
            | ErrorCode::InvalidApiKey
            | ErrorCode::RevokedApiKey
            | ErrorCode::ExpiredApiKey
            | ErrorCode::DisabledApiKey => DOC_401_DETAIL,
            ErrorCode::InsufficientScope => {
                "The key is valid but lacks the scope required for this endpoint"
            }
            ErrorCode::RateLimited => "Your key has exceeded its rate limit for the current window",
            ErrorCode::QuotaExceeded => {
                "Your key has used up a quota or the credits of its plan for the current period"
            }
            ErrorCode::HttpsRequired => {
                "All API endpoints are served over HTTPS — plain HTTP requests are rejected"
            }
            ErrorCode::IpNotAllowed => {
                "The key is valid but may not be used from the address the request came from"
            }
            ErrorCode::AuthUnavailable => {
                "The API key could not be checked because the authentication service is unavailable"
            }
            ErrorCode::MalformedRequest => {
                "The request path is ambiguous: servers could read it as different paths"
            }
        }
    }

    /// The default *Fix* of the row (the problem body's `fix`). For `insufficient_scope`
    /// this is the template; the response names the scope the endpoint needs.
    ///
    /// The defaults name no screen of any product: a service whose users manage keys in a
    /// panel says where with [`DefaultRejection::fix`](crate::respond::DefaultRejection::fix), e.g.
    /// "Open Settings → API Keys, edit the key, and add the necessary scope".
    pub fn fix(self) -> &'static str {
        match self {
            ErrorCode::MissingApiKey
            | ErrorCode::MalformedApiKey
            | ErrorCode::InvalidApiKey
            | ErrorCode::RevokedApiKey
            | ErrorCode::ExpiredApiKey => DOC_401_FIX,
            ErrorCode::DisabledApiKey => {
                "The key is disabled for now: ask an admin of the workspace to enable it, or use another key"
            }
            ErrorCode::InsufficientScope => {
                "Use a key that has the necessary scope, or add the scope to this key"
            }
            ErrorCode::RateLimited => {
                "Back off and retry after the number of seconds indicated in the Retry-After response header"
            }
            ErrorCode::QuotaExceeded => {
                "Wait until the period resets (the Retry-After response header says when, if a reset or refill will come), or move the key to a plan with a higher limit: review the Rate Limits page for per-plan limits"
            }
            ErrorCode::HttpsRequired => {
                "Send the request over HTTPS (https://…) instead of plain HTTP"
            }
            ErrorCode::IpNotAllowed => {
                "Send the request from a network the key allows, or ask an admin of the workspace to add this network to the key's allowlist"
            }
            ErrorCode::AuthUnavailable => {
                "Retry after the number of seconds indicated in the Retry-After response header"
            }
            ErrorCode::MalformedRequest => {
                "Send the path in its plain form: no '.' or '..' segments, no '//', no ';' parameters, no backslashes, and no percent-encoding of letters, digits, '-', '.', '_', '~', '/' or '\\'"
            }
        }
    }

    /// A one-line account of this particular cause (the problem body's `reason`).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorCode::MissingApiKey => "No Authorization header was sent",
            ErrorCode::MalformedApiKey => {
                "The Authorization header is not a well-formed Bearer API key"
            }
            ErrorCode::InvalidApiKey => "The API key is not valid",
            ErrorCode::RevokedApiKey => "The API key has been revoked",
            ErrorCode::ExpiredApiKey => "The API key has expired",
            ErrorCode::DisabledApiKey => "The API key is disabled",
            ErrorCode::InsufficientScope => "The API key lacks the scope this endpoint needs",
            ErrorCode::RateLimited => "The API key is over its rate limit",
            ErrorCode::QuotaExceeded => "The API key is over a quota or out of credits of its plan",
            ErrorCode::HttpsRequired => "The request was sent over plain HTTP",
            ErrorCode::IpNotAllowed => "The key may not be used from this address",
            ErrorCode::AuthUnavailable => "The key store or rate limiter could not be reached",
            ErrorCode::MalformedRequest => "The request path is ambiguous",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_request_is_400_and_grpc_invalid_argument() {
        let code = ErrorCode::MalformedRequest;
        assert_eq!(code.as_str(), "malformed_request");
        assert_eq!(code.status(), StatusCode::BAD_REQUEST);
        assert_eq!(code.grpc_status(), 3);
    }
}
