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

mod default;
mod grpc;
mod problem;

use std::any::Any;
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response};

pub use default::DefaultRejection;
pub use grpc::grpc_response;
pub(crate) use grpc::uncached_trailers_only;
pub use problem::problem_json;
pub(crate) use problem::{NO_STORE, ProblemBody, uncached_problem};

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

/// The response for `rejection` from `responder`, with the headers the error table promises
/// added where the responder left them out (`WWW-Authenticate`, `Retry-After`, the rate-limit
/// headers, `Cache-Control: no-store`), and the rejection left in the extensions.
pub(crate) fn complete<R: RejectionResponder>(
    responder: &R,
    rejection: Rejection,
    rate_headers: RateLimitHeaders,
) -> Response<Bytes> {
    let mut response = responder.respond(&rejection);
    let headers = response.headers_mut();
    // The default responder writes every promised header itself, from what it rendered once.
    if (responder as &dyn Any).is::<DefaultRejection>() {
        write_rate_headers(&rejection, rate_headers, headers);
        response.extensions_mut().insert(rejection);
        return response;
    }
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
        headers.insert(RETRY_AFTER, seconds_value(secs));
    }
    write_rate_headers(&rejection, rate_headers, headers);
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, NO_STORE);
    }
    response.extensions_mut().insert(rejection);
    response
}

/// Seconds up to this many are header values made once and cloned.
/// The rate-limit headers of a 429: the one quota's, or every limit of the plan's.
fn write_rate_headers(rejection: &Rejection, style: RateLimitHeaders, headers: &mut HeaderMap) {
    if let Some((quota, decision)) = rejection.rate_limit() {
        style.write(quota, decision, headers);
    } else if let Some(decision) = rejection.usage() {
        style.write_usage(decision, headers);
    }
}

const KEPT_SECONDS: u64 = 120;

/// `secs` as a header value: a clone of one made once for the usual delays, else a new one.
pub(crate) fn seconds_value(secs: u64) -> HeaderValue {
    static KEPT: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    let kept = KEPT.get_or_init(|| (0..=KEPT_SECONDS).map(HeaderValue::from).collect());
    usize::try_from(secs)
        .ok()
        .and_then(|i| kept.get(i))
        .cloned()
        .unwrap_or_else(|| HeaderValue::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_in_full_inside_and_beyond_the_kept_range() {
        assert_eq!(seconds_value(0), "0");
        assert_eq!(seconds_value(7), "7");
        assert_eq!(seconds_value(KEPT_SECONDS), "120");
        assert_eq!(seconds_value(KEPT_SECONDS + 1), "121");
        assert_eq!(seconds_value(u64::MAX), "18446744073709551615");
    }
}
