//! Turning a [`Rejection`] into a response: RFC 9457 problem details for HTTP, a gRPC status
//! for gRPC, or whatever a [`RejectionResponder`] of your own builds.
//!
//! Whatever the responder returns, the layer then adds the headers the error table promises
//! when the response lacks them: `WWW-Authenticate` (HTTP 401 rows and `insufficient_scope`),
//! `Retry-After` (429 and 503), the rate-limit headers (429) and `Cache-Control: no-store`.
//!
//! ```
//! use bytes::Bytes;
//! use http::Response;
//! use keygate::Rejection;
//!
//! // A plain-text answer instead of problem+json.
//! let plain = |rejection: &Rejection| {
//!     Response::builder()
//!         .status(rejection.status())
//!         .header("content-type", "text/plain")
//!         .body(Bytes::from(rejection.reason()))
//!         .unwrap()
//! };
//! # let _ = plain;
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::code::ErrorCode;
use crate::ratelimit_headers::RateLimitHeaders;
use crate::rejection::Rejection;

/// Builds the response for a rejection.
pub trait RejectionResponder: Send + Sync + 'static {
    /// The response for `rejection`.
    fn respond(&self, rejection: &Rejection) -> Response<Bytes>;
}

impl<F> RejectionResponder for F
where
    F: Fn(&Rejection) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, rejection: &Rejection) -> Response<Bytes> {
        self(rejection)
    }
}

/// The default answer: `application/problem+json` (RFC 9457) for HTTP requests, a
/// trailers-only gRPC status for gRPC requests.
///
/// A problem body looks like this:
///
/// ```json
/// {"type":"about:blank","title":"Forbidden","status":403,
///  "detail":"The key is valid but lacks the scope required for this endpoint",
///  "code":"insufficient_scope","reason":"The API key lacks the scope this endpoint needs",
///  "fix":"Open Settings → API Keys, edit the key, and add the necessary scope (write:all)",
///  "required_scope":"write:all"}
/// ```
///
/// `type` is `about:blank` (so `title` is the HTTP status phrase), unless
/// [`DefaultRejection::with_type_base`] sets a documentation URL, to which the `code` is
/// appended. `fix` is [`ErrorCode::fix`] unless [`DefaultRejection::fix`] gives the row a text
/// of your product's own:
///
/// ```
/// use keygate::ErrorCode;
/// use keygate::respond::DefaultRejection;
///
/// let responder = DefaultRejection::new()
///     .fix(
///         ErrorCode::InsufficientScope,
///         "Open Settings → API Keys, edit the key, and add the necessary scope",
///     )
///     .fix(
///         ErrorCode::RateLimited,
///         "Back off and retry after the number of seconds indicated in the Retry-After \
///          response header; review the Rate Limits page for per-plan limits",
///     );
/// # let _ = responder;
/// ```
#[derive(Debug, Clone, Default)]
pub struct DefaultRejection {
    type_base: Option<String>,
    fixes: Vec<(ErrorCode, Cow<'static, str>)>,
}

impl DefaultRejection {
    /// The default responder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Problem `type` URIs become `base` followed by the code, e.g.
    /// `https://docs.example.com/errors/` → `https://docs.example.com/errors/rate_limited`.
    pub fn with_type_base(mut self, base: impl Into<String>) -> Self {
        self.type_base = Some(base.into());
        self
    }

    /// The `fix` text of `code`'s row, instead of the neutral default ([`ErrorCode::fix`]).
    /// For `insufficient_scope` the answer adds the missing scope after it, e.g.
    /// `… (write:all)`. Setting a row again replaces its text.
    pub fn fix(mut self, code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Self {
        let text = text.into();
        match self.fixes.iter_mut().find(|(c, _)| *c == code) {
            Some(slot) => slot.1 = text,
            None => self.fixes.push((code, text)),
        }
        self
    }

    /// The `fix` text this responder gives `code`'s row.
    fn fix_text(&self, code: ErrorCode) -> &str {
        self.fixes
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code.fix(), |(_, text)| text)
    }
}

impl RejectionResponder for DefaultRejection {
    fn respond(&self, rejection: &Rejection) -> Response<Bytes> {
        if rejection.is_grpc() {
            grpc_response(rejection)
        } else {
            let fix = rejection.fix_with(self.fix_text(rejection.code()));
            let body = render_problem(rejection, self.type_base.as_deref(), &fix);
            let mut response = Response::new(Bytes::from(body));
            *response.status_mut() = rejection.status();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            response
        }
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The RFC 9457 body for a rejection, with the default `fix` ([`Rejection::fix`]).
pub fn problem_json(rejection: &Rejection, type_base: Option<&str>) -> String {
    render_problem(rejection, type_base, &rejection.fix())
}

fn render_problem(rejection: &Rejection, type_base: Option<&str>, fix: &str) -> String {
    let code = rejection.code();
    let status = rejection.status();
    let mut out = String::with_capacity(384);
    out.push_str("{\"type\":");
    match type_base {
        Some(base) => json_string(&mut out, &format!("{base}{}", code.as_str())),
        None => out.push_str("\"about:blank\""),
    }
    out.push_str(",\"title\":");
    json_string(&mut out, status.canonical_reason().unwrap_or("Error"));
    let _ = write!(out, ",\"status\":{}", status.as_u16());
    out.push_str(",\"detail\":");
    json_string(&mut out, code.detail());
    out.push_str(",\"code\":");
    json_string(&mut out, code.as_str());
    out.push_str(",\"reason\":");
    json_string(&mut out, rejection.reason());
    out.push_str(",\"fix\":");
    json_string(&mut out, fix);
    if let Some(scope) = rejection.required_scope() {
        out.push_str(",\"required_scope\":");
        json_string(&mut out, &scope.to_string());
    }
    if let Some(secs) = rejection.retry_after_secs() {
        let _ = write!(out, ",\"retry_after\":{secs}");
    }
    out.push('}');
    out
}

/// Percent-encodes a `grpc-message` value (gRPC over HTTP/2: bytes outside 0x20–0x7E, and `%`).
fn grpc_percent_encode(message: &str) -> String {
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

/// Whether a request is a gRPC request: its `content-type` begins with `application/grpc`
/// (`application/grpc`, `application/grpc+proto`, …), the test the gRPC over HTTP/2 spec gives
/// servers.
pub(crate) fn is_grpc_request(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The `grpc-message` of a rejection: the documented meaning, the particular cause and, for
/// `insufficient_scope`, the scope the method needs (gRPC has no `WWW-Authenticate` to carry
/// it).
fn grpc_message(rejection: &Rejection) -> String {
    let mut message = format!("{}: {}", rejection.code().detail(), rejection.reason());
    if let Some(scope) = rejection.required_scope() {
        let _ = write!(message, " ({scope})");
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
/// | `rate_limited` (429) | 8 `RESOURCE_EXHAUSTED` |
/// | `auth_unavailable` (503) | 14 `UNAVAILABLE` |
/// | `malformed_request` (400) | 3 `INVALID_ARGUMENT` |
///
/// For 8 and 14 the retry delay is also given as `grpc-retry-pushback-ms`, which gRPC clients
/// with a retry policy honour (gRFC A6); the layer adds `retry-after` metadata (whole seconds)
/// beside it.
pub fn grpc_response(rejection: &Rejection) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(
        "grpc-status",
        HeaderValue::from(u16::from(rejection.code().grpc_status())),
    );
    if let Ok(value) = HeaderValue::try_from(grpc_percent_encode(&grpc_message(rejection))) {
        headers.insert("grpc-message", value);
    }
    if let Some(secs) = rejection.retry_after_secs() {
        headers.insert(
            "grpc-retry-pushback-ms",
            HeaderValue::from(secs.saturating_mul(1000)),
        );
    }
    response
}

/// The response for `rejection` from `responder`, with the headers the error table promises
/// added where the responder left them out, and the rejection left in the extensions.
pub(crate) fn complete(
    responder: &impl RejectionResponder,
    rejection: Rejection,
    rate_headers: RateLimitHeaders,
) -> Response<Bytes> {
    let mut response = responder.respond(&rejection);
    let headers = response.headers_mut();
    if !rejection.is_grpc()
        && !headers.contains_key(WWW_AUTHENTICATE)
        && let Some(challenge) = rejection.www_authenticate()
        && let Ok(value) = HeaderValue::try_from(challenge)
    {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    if let Some(secs) = rejection.retry_after_secs()
        && !headers.contains_key(RETRY_AFTER)
    {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some((quota, decision)) = rejection.rate_limit() {
        rate_headers.write(quota, decision, headers);
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response.extensions_mut().insert(rejection);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::ErrorCode;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\n\u{1}→");
        assert_eq!(out, r#""a\"b\\c\n\u0001→""#);
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(grpc_percent_encode("50% → ok"), "50%25 %E2%86%92 ok");
    }

    fn grpc_rejection(code: ErrorCode) -> Rejection {
        Rejection::new(code, &std::sync::Arc::from("api"), true)
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

    #[test]
    fn grpc_content_types_are_recognised_and_others_are_not() {
        let with = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::try_from(ct).unwrap());
            is_grpc_request(&headers)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(!with("application/json"));
        assert!(!is_grpc_request(&HeaderMap::new()));
    }
}
