//! The one writer of RFC 9457 problem bodies: the layer's rows, the admin API's refusals and
//! the missing-layer answer all go through [`ProblemBody`].

use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

use crate::rejection::Rejection;

/// `application/problem+json`, the content type of every problem answer.
pub(crate) const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");

/// `no-store`: no answer of the error table may be cached.
pub(crate) const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// A problem body being written: `type`, `title`, `status`, `detail` and `code` first, in that
/// order, then the members a caller adds (`reason`, `fix`, `errors`, …).
pub(crate) struct ProblemBody {
    out: String,
}

impl ProblemBody {
    /// The five members every problem carries. `type_base` set: the `type` is the base followed
    /// by `code`; else `about:blank`, and `title` is the status phrase.
    pub(crate) fn new(
        status: StatusCode,
        type_base: Option<&str>,
        detail: &str,
        code: &str,
    ) -> Self {
        let mut out = String::with_capacity(384);
        out.push_str("{\"type\":");
        match type_base {
            Some(base) => {
                out.push('"');
                escape_into(&mut out, base);
                escape_into(&mut out, code);
                out.push('"');
            }
            None => out.push_str("\"about:blank\""),
        }
        let mut body = Self { out };
        body = body.string("title", status.canonical_reason().unwrap_or("Error"));
        let _ = write!(body.out, ",\"status\":{}", status.as_u16());
        body.string("detail", detail).string("code", code)
    }

    /// Adds a string member.
    pub(crate) fn string(mut self, name: &str, value: &str) -> Self {
        self.member(name);
        json_string(&mut self.out, value);
        self
    }

    /// Adds a number member.
    pub(crate) fn number(mut self, name: &str, value: u64) -> Self {
        self.member(name);
        let _ = write!(self.out, "{value}");
        self
    }

    /// Adds a member whose value is JSON already (the admin API's field errors).
    #[cfg(any(test, feature = "axum"))]
    pub(crate) fn json(mut self, name: &str, value: &str) -> Self {
        self.member(name);
        self.out.push_str(value);
        self
    }

    fn member(&mut self, name: &str) {
        self.out.push(',');
        json_string(&mut self.out, name);
        self.out.push(':');
    }

    /// The body so far, without its closing brace: members can still follow.
    pub(crate) fn open(self) -> String {
        self.out
    }

    /// The finished body.
    pub(crate) fn finish(mut self) -> Bytes {
        self.out.push('}');
        Bytes::from(self.out)
    }
}

/// The problem answer: `status`, `content-type: application/problem+json`, `body`.
pub(crate) fn problem_response<B>(status: StatusCode, body: B) -> Response<B> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, PROBLEM_JSON);
    response
}

/// The same, with `Cache-Control: no-store`, for answers that do not go through
/// [`complete`](super::complete) (the admin API, the missing-layer answer).
pub(crate) fn uncached_problem(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = problem_response(status, body);
    response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    response
}

/// The layer's problem body for `rejection`, with `fix` as its `fix` member.
pub(crate) fn rejection_body(
    rejection: &Rejection,
    type_base: Option<&str>,
    fix: &str,
) -> ProblemBody {
    let code = rejection.code();
    let mut body = ProblemBody::new(rejection.status(), type_base, code.detail(), code.as_str())
        .string("reason", rejection.reason())
        .string("fix", fix);
    if let Some(scope) = rejection.required_scope() {
        body = body.string("required_scope", &scope.to_string());
    }
    if let (Some(limit), Some(plan)) = (rejection.refused_limit(), rejection.plan()) {
        body = body
            .string("limit", limit.name().as_str())
            .string("plan", plan.name().as_str());
    }
    body
}

/// The RFC 9457 body for a rejection, with the default `fix` ([`Rejection::fix`]).
pub fn problem_json(rejection: &Rejection, type_base: Option<&str>) -> String {
    let mut body = rejection_body(rejection, type_base, &rejection.fix());
    if let Some(secs) = rejection.retry_after_secs() {
        body = body.number("retry_after", secs);
    }
    let mut out = body.open();
    out.push('}');
    out
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    escape_into(out, s);
    out.push('"');
}

/// Appends `s` escaped for the inside of a JSON string literal.
fn escape_into(out: &mut String, s: &str) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\n\u{1}→");
        assert_eq!(out, r#""a\"b\\c\n\u0001→""#);
    }

    #[test]
    fn members_follow_the_five_common_ones_in_order() {
        let body = ProblemBody::new(StatusCode::NOT_FOUND, None, "No key", "key_not_found")
            .string("fix", "look again")
            .number("retry_after", 3)
            .json("errors", "[]")
            .finish();
        assert_eq!(
            body,
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"No key","code":"key_not_found","fix":"look again","retry_after":3,"errors":[]}"#
        );
    }

    #[test]
    fn a_type_base_is_followed_by_the_code() {
        let body = ProblemBody::new(
            StatusCode::TOO_MANY_REQUESTS,
            Some("https://d/e/"),
            "d",
            "rate_limited",
        )
        .finish();
        assert!(
            body.starts_with(br#"{"type":"https://d/e/rate_limited","title":"Too Many Requests""#)
        );
    }
}
