//! The one writer of gRPC "Trailers-Only" answers: the layer's rows and the missing-layer
//! answer.

use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Response, StatusCode};

use super::problem::NO_STORE;
use crate::rejection::Rejection;

const APPLICATION_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");
pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
pub(crate) const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_PUSHBACK: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");

/// The `grpc-status` and percent-encoded `grpc-message` values of an answer.
pub(crate) fn status_and_message(status: u8, message: &str) -> (HeaderValue, HeaderValue) {
    let message = HeaderValue::try_from(percent_encode(message))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    (HeaderValue::from(u16::from(status)), message)
}

/// A trailers-only answer: HTTP 200, `content-type: application/grpc`, `grpc-status`,
/// `grpc-message`, an empty body.
pub(crate) fn trailers_only(status: HeaderValue, message: HeaderValue) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, APPLICATION_GRPC);
    headers.insert(GRPC_STATUS, status);
    if !message.is_empty() {
        headers.insert(GRPC_MESSAGE, message);
    }
    response
}

/// The same, with `Cache-Control: no-store`, for answers that do not go through
/// [`complete`](super::complete).
pub(crate) fn uncached_trailers_only(status: u8, message: &str) -> Response<Bytes> {
    let (status, message) = status_and_message(status, message);
    let mut response = trailers_only(status, message);
    response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    response
}

/// Adds `grpc-retry-pushback-ms` for a rejection with a retry delay.
pub(crate) fn push_back(rejection: &Rejection, response: &mut Response<Bytes>) {
    if let Some(secs) = rejection.retry_after_secs() {
        response
            .headers_mut()
            .insert(GRPC_PUSHBACK, HeaderValue::from(secs.saturating_mul(1000)));
    }
}

/// The `grpc-message` of a rejection: the documented meaning, the particular cause and, for
/// `insufficient_scope`, the scope the method needs (gRPC has no `WWW-Authenticate` to carry
/// it).
pub(crate) fn message(rejection: &Rejection) -> String {
    let mut message = format!("{}: {}", rejection.code().detail(), rejection.reason());
    if let Some(scope) = rejection.required_scope() {
        let _ = write!(message, " ({scope})");
    }
    if let (Some(limit), Some(plan)) = (rejection.refused_limit(), rejection.plan()) {
        let _ = write!(message, " (limit {} of plan {})", limit.name(), plan.name());
    }
    message
}

/// The trailers-only gRPC answer for a rejection (gRPC over HTTP/2, "Trailers-Only"): HTTP 200,
/// `content-type: application/grpc`, `grpc-status`, `grpc-message` (the documented meaning,
/// percent-encoded) and an empty body, so the whole answer is one HEADERS frame that ends the
/// stream.
///
/// | rows | `grpc-status` |
/// |---|---|
/// | every 401 row | 16 `UNAUTHENTICATED` |
/// | `insufficient_scope`, `https_required` (403) | 7 `PERMISSION_DENIED` |
/// | `rate_limited`, `quota_exceeded` (429) | 8 `RESOURCE_EXHAUSTED` |
/// | `auth_unavailable` (503) | 14 `UNAVAILABLE` |
/// | `malformed_request` (400) | 3 `INVALID_ARGUMENT` |
///
/// For 8 and 14 the retry delay is also given as `grpc-retry-pushback-ms`, which gRPC clients
/// with a retry policy honour (gRFC A6); the layer adds `retry-after` metadata (whole seconds)
/// beside it.
pub fn grpc_response(rejection: &Rejection) -> Response<Bytes> {
    let (status, message) = status_and_message(rejection.code().grpc_status(), &message(rejection));
    let mut response = trailers_only(status, message);
    push_back(rejection, &mut response);
    response
}

/// Percent-encodes a `grpc-message` value (gRPC over HTTP/2: bytes outside 0x20–0x7E, and `%`).
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7E).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::ErrorCode;
    use crate::realm::Realm;

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(percent_encode("50% → ok"), "50%25 %E2%86%92 ok");
    }

    fn grpc_rejection(code: ErrorCode) -> Rejection {
        Rejection::new(code, &Realm::default(), true)
    }

    #[test]
    fn grpc_answer_for_a_missing_scope_names_the_scope() {
        let rejection = grpc_rejection(ErrorCode::InsufficientScope)
            .with_required_scope(crate::scope::Scope::Admin);
        let response = grpc_response(&rejection);
        assert_eq!(response.headers()["grpc-status"], "7");
        assert_eq!(
            response.headers()["grpc-message"],
            "The key is valid but lacks the scope required for this endpoint: \
             The API key lacks the scope this endpoint needs (admin)"
        );
        assert!(!response.headers().contains_key("grpc-retry-pushback-ms"));
    }

    #[test]
    fn grpc_answer_with_a_retry_delay_carries_it_as_pushback_in_milliseconds() {
        let rejection = grpc_rejection(ErrorCode::AuthUnavailable)
            .with_retry_after(std::time::Duration::from_millis(2500));
        let response = grpc_response(&rejection);
        assert_eq!(response.headers()["grpc-status"], "14");
        assert_eq!(response.headers()["grpc-retry-pushback-ms"], "3000");
        assert!(response.body().is_empty());
    }
}
