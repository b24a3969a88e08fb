//! Whether a request came over HTTPS.
//!
//! Only the server side may make a request count as HTTPS, never the client's own words. A
//! request counts as HTTPS when
//! 1. its extensions hold [`SecureTransport`], which the server's TLS acceptor inserts, or
//! 2. only when the operator names the one header their reverse proxy sets
//!    ([`ApiKeyLayerBuilder::trusted_proxy_header`](crate::ApiKeyLayerBuilder::trusted_proxy_header)):
//!    the **last** element of that header says `https`. The proxy appends its element last;
//!    anything before it, and any other forwarding header, came from the client.
//!
//! The URI's scheme does not count: an absolute-form request line (`GET https://x/ HTTP/1.1`)
//! and HTTP/2's `:scheme` are both written by the client, over whatever transport it likes.
//!
//! | [`ProxyHeader`] | the proxy sets | counts as HTTPS |
//! |---|---|---|
//! | [`XForwardedProto`](ProxyHeader::XForwardedProto) | `X-Forwarded-Proto: https` | its last comma-separated value is `https`; `Forwarded` is ignored |
//! | [`Forwarded`](ProxyHeader::Forwarded) | `Forwarded: for=…;proto=https` (RFC 7239) | its last element has `proto=https`; `X-Forwarded-Proto` is ignored |
//!
//! Name a header only if your proxy overwrites or appends to it on every request; otherwise
//! a client can send it to a server reached directly.
//!
//! With feature `tls`, [`tls`] serves axum over rustls and marks every request of a TLS
//! connection with [`SecureTransport`], and answers the plain-HTTP port (403 or a redirect).
//!
//! ```
//! use http::Request;
//! use keygate::transport::{is_https, ProxyHeader, SecureTransport};
//!
//! let plain = Request::get("/v1/records").body(()).unwrap();
//! assert!(!is_https(&plain, None));
//!
//! let claimed = Request::get("https://api.example.com/v1/records").body(()).unwrap();
//! assert!(!is_https(&claimed, None));
//!
//! let mut tls = Request::get("/v1/records").body(()).unwrap();
//! tls.extensions_mut().insert(SecureTransport);
//! assert!(is_https(&tls, None));
//!
//! let proxied = Request::get("/v1/records")
//!     .header("x-forwarded-proto", "https")
//!     .header("forwarded", "proto=http")
//!     .body(())
//!     .unwrap();
//! assert!(!is_https(&proxied, None));
//! assert!(is_https(&proxied, Some(ProxyHeader::XForwardedProto)));
//! assert!(!is_https(&proxied, Some(ProxyHeader::Forwarded)));
//! ```

use http::header::{FORWARDED, HeaderName};
use http::{HeaderMap, Request};

#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;

/// A marker a TLS acceptor inserts into each request's extensions: "this came over TLS".
///
/// With feature `tls`, [`tls::SecureConnections`] inserts it into every request of a
/// [`tls::TlsListener`]'s connections. Insert it yourself only where your own server reads the
/// request off a TLS connection; never from anything in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecureTransport;

/// The one header the operator's reverse proxy sets to tell the scheme the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-Proto` (de facto standard): its last value.
    XForwardedProto,
    /// `Forwarded` (RFC 7239): the `proto` parameter of its last element.
    Forwarded,
}

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

impl ProxyHeader {
    /// Whether the element the proxy wrote last says `https`.
    fn says_https(self, headers: &HeaderMap) -> bool {
        match self {
            ProxyHeader::XForwardedProto => last_element(headers, &X_FORWARDED_PROTO)
                .is_some_and(|v| v.eq_ignore_ascii_case("https")),
            ProxyHeader::Forwarded => last_element(headers, &FORWARDED).is_some_and(|element| {
                element.split(';').any(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    key.trim().eq_ignore_ascii_case("proto")
                        && value.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            }),
        }
    }
}

/// Whether `request` came over HTTPS: the TLS acceptor's [`SecureTransport`] marker, or, when
/// `proxy` names the header the operator's proxy sets, that header's last element.
pub fn is_https<B>(request: &Request<B>, proxy: Option<ProxyHeader>) -> bool {
    request.extensions().get::<SecureTransport>().is_some()
        || proxy.is_some_and(|header| header.says_https(request.headers()))
}

/// The last comma-separated element of the last `name` header.
fn last_element<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let last_header = headers.get_all(name).iter().next_back()?;
    let text = last_header.to_str().ok()?;
    Some(text.rsplit(',').next().unwrap_or("").trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> Request<()> {
        Request::get("/").header(name, value).body(()).unwrap()
    }

    const XFP: Option<ProxyHeader> = Some(ProxyHeader::XForwardedProto);
    const FWD: Option<ProxyHeader> = Some(ProxyHeader::Forwarded);

    #[test]
    fn an_https_uri_scheme_is_the_clients_word_and_does_not_count() {
        let req = Request::get("https://api.example.com/x").body(()).unwrap();
        assert!(!is_https(&req, None));
        assert!(!is_https(&req, XFP));
    }

    #[test]
    fn proxy_headers_are_ignored_unless_one_is_trusted() {
        assert!(!is_https(&with("forwarded", "proto=https"), None));
        assert!(!is_https(&with("x-forwarded-proto", "https"), None));
        assert!(is_https(&with("forwarded", "for=1.2.3.4;proto=https"), FWD));
        assert!(is_https(&with("x-forwarded-proto", "https"), XFP));
    }

    #[test]
    fn only_the_trusted_header_counts() {
        assert!(!is_https(&with("forwarded", "proto=https"), XFP));
        assert!(!is_https(&with("x-forwarded-proto", "https"), FWD));
    }

    #[test]
    fn only_the_last_element_counts() {
        assert!(!is_https(&with("x-forwarded-proto", "https, http"), XFP));
        assert!(is_https(&with("x-forwarded-proto", "http, HTTPS"), XFP));
        assert!(!is_https(
            &with("forwarded", "proto=https, proto=http"),
            FWD
        ));
        assert!(is_https(
            &with("forwarded", "proto=http, for=x;proto=\"https\""),
            FWD
        ));
    }

    #[test]
    fn only_the_last_header_line_counts() {
        let req = Request::get("/")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-proto", "http")
            .body(())
            .unwrap();
        assert!(!is_https(&req, XFP));
    }
}
