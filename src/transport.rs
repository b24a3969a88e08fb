//! Whether a request came over HTTPS.
//!
//! A request counts as HTTPS when
//! 1. its URI has the `https` scheme (HTTP/2 `:scheme`, absolute-form requests), or
//! 2. its extensions hold [`SecureTransport`], which the TLS acceptor of the server inserts, or
//! 3. only when the layer is told to trust a proxy: the `Forwarded` header's `proto` (or, if
//!    there is no `Forwarded`, `X-Forwarded-Proto`) in its **last** element says `https`. The
//!    last element is the one the nearest proxy wrote; earlier ones come from the client.
//!
//! ```
//! use http::Request;
//! use keygate::transport::{is_https, SecureTransport};
//!
//! let plain = Request::get("/v1/records").body(()).unwrap();
//! assert!(!is_https(&plain, false));
//!
//! let mut tls = Request::get("/v1/records").body(()).unwrap();
//! tls.extensions_mut().insert(SecureTransport);
//! assert!(is_https(&tls, false));
//!
//! let proxied = Request::get("/v1/records").header("x-forwarded-proto", "https").body(()).unwrap();
//! assert!(!is_https(&proxied, false));
//! assert!(is_https(&proxied, true));
//! ```

use http::header::{FORWARDED, HeaderName};
use http::{HeaderMap, Request};

/// A marker a TLS acceptor inserts into each request's extensions: "this came over TLS".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecureTransport;

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Whether `request` came over HTTPS; `trust_forwarded` lets proxy headers say so.
pub fn is_https<B>(request: &Request<B>, trust_forwarded: bool) -> bool {
    request.uri().scheme_str() == Some("https")
        || request.extensions().get::<SecureTransport>().is_some()
        || (trust_forwarded && forwarded_https(request.headers()))
}

fn last_element(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let last_header = headers.get_all(name).iter().next_back()?;
    let text = last_header.to_str().ok()?;
    Some(text.rsplit(',').next().unwrap_or("").trim().to_owned())
}

fn forwarded_https(headers: &HeaderMap) -> bool {
    if let Some(element) = last_element(headers, &FORWARDED) {
        return element.split(';').any(|pair| {
            let mut kv = pair.splitn(2, '=');
            let key = kv.next().unwrap_or("").trim();
            let value = kv.next().unwrap_or("").trim().trim_matches('"');
            key.eq_ignore_ascii_case("proto") && value.eq_ignore_ascii_case("https")
        });
    }
    last_element(headers, &X_FORWARDED_PROTO).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> Request<()> {
        Request::get("/").header(name, value).body(()).unwrap()
    }

    #[test]
    fn https_uri_scheme_counts_as_https() {
        let req = Request::get("https://api.example.com/x").body(()).unwrap();
        assert!(is_https(&req, false));
    }

    #[test]
    fn forwarded_headers_are_ignored_unless_the_proxy_is_trusted() {
        assert!(!is_https(&with("forwarded", "proto=https"), false));
        assert!(is_https(
            &with("forwarded", "for=1.2.3.4;proto=https"),
            true
        ));
    }

    #[test]
    fn only_the_last_forwarded_element_counts() {
        assert!(!is_https(&with("x-forwarded-proto", "https, http"), true));
        assert!(is_https(&with("x-forwarded-proto", "http, HTTPS"), true));
        assert!(!is_https(
            &with("forwarded", "proto=https, proto=http"),
            true
        ));
        assert!(is_https(
            &with("forwarded", "proto=http, for=x;proto=\"https\""),
            true
        ));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_proto() {
        let req = Request::get("/")
            .header("forwarded", "proto=http")
            .header("x-forwarded-proto", "https")
            .body(())
            .unwrap();
        assert!(!is_https(&req, true));
    }
}
