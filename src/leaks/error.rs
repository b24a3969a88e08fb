//! [`LeakError`]: why the leak-report router refused a report, as an RFC 9457 problem.

use axum::response::{IntoResponse, Response};
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};

use crate::respond::{self, ProblemBody};

use super::SignatureError;

/// Why a report was refused. A refused report changes no key.
///
/// | variant | status | `code` |
/// |---|---|---|
/// | [`Signature`](Self::Signature) | 401 | `invalid_signature` (with `reason`: `missing_key_identifier`, `unknown_key_identifier`, `missing_signature`, `undecodable_signature`, `bad_signature`) |
/// | [`Malformed`](Self::Malformed) | 400 | `malformed_request` (not a JSON array of matches) |
/// | [`TooLarge`](Self::TooLarge) | 413 | `request_too_large` |
/// | [`TooManyTokens`](Self::TooManyTokens) | 413 | `too_many_tokens` |
/// | [`Unavailable`](Self::Unavailable) | 503 | `store_unavailable` (`Retry-After: 1`) |
///
/// Every refusal is `application/problem+json` with `Cache-Control: no-store`. Only
/// `Unavailable` comes after keys may have been acted on: those stay as they are, and the
/// report retried is answered as if whole.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeakError {
    /// The report is unsigned, or not signed by a configured key.
    Signature(SignatureError),
    /// The body is not a JSON array of `{"token", "type", "url", "source"}`: what it is
    /// instead and where, never quoting the body.
    Malformed(String),
    /// The body is larger than [`max_body_bytes`](super::LeakConfig::max_body_bytes).
    TooLarge,
    /// The report carries more tokens than [`max_tokens`](super::LeakConfig::max_tokens).
    TooManyTokens {
        /// How many it carries.
        count: usize,
        /// How many are accepted.
        max: usize,
    },
    /// The key store failed, or the report took longer than its
    /// [`deadline`](super::LeakConfig::deadline): answered 503 so that the reporter retries,
    /// rather than with a wrong label.
    Unavailable,
}

impl LeakError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Signature(_) => StatusCode::UNAUTHORIZED,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge | Self::TooManyTokens { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(_) => "invalid_signature",
            Self::Malformed(_) => "malformed_request",
            Self::TooLarge => "request_too_large",
            Self::TooManyTokens { .. } => "too_many_tokens",
            Self::Unavailable => "store_unavailable",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Signature(why) => format!("{why}; no key was touched"),
            Self::Malformed(why) => format!("The report is {why}"),
            Self::TooLarge => "The report is larger than this endpoint reads".to_owned(),
            Self::TooManyTokens { count, max } => format!(
                "The report carries {count} tokens, more than the {max} this endpoint takes at \
                 once; nothing was done"
            ),
            Self::Unavailable => "The key store could not answer in time; retry the report \
                 (keys already acted on stay so)"
                .to_owned(),
        }
    }
}

impl IntoResponse for LeakError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = ProblemBody::new(status, None, &self.detail(), self.code());
        if let Self::Signature(why) = self {
            body = body.string("reason", why.reason());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_signature_is_a_401_problem_naming_the_reason() {
        let response = LeakError::Signature(SignatureError::BadSignature).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    #[test]
    fn an_unavailable_store_asks_for_a_retry() {
        let response = LeakError::Unavailable.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}
