//! [`PlainHttp`]: the answer of the plain-HTTP port of a server that serves its API over
//! HTTPS.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::header::{AUTHORIZATION, LOCATION};
use http::uri::Authority;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use tower_service::Service;

use crate::code::ErrorCode;
use crate::extract::ExtractError;
use crate::middleware::{KeyLocation, is_grpc};
use crate::realm::Realm;
use crate::rejection::Rejection;
use crate::respond::{DefaultRejection, RejectionResponder};

/// The `reason` of a request refused because it carried a key over plain HTTP.
const KEY_IN_CLEAR_REASON: &str = "The request sent an API key over plain HTTP";
/// The `fix` of a request refused because it carried a key over plain HTTP.
const KEY_IN_CLEAR_FIX: &str = "The key crossed the network in clear text and must be treated as leaked: rotate it (create a new key, move your clients to it, revoke this one), and send every request over HTTPS (https://…)";

/// The service of the plain-HTTP port: every request is refused with 403 `https_required`
/// (the error table's problem body, or a gRPC status for gRPC), or, with
/// [`redirect_to`](Self::redirect_to), redirected with 308 to the same path and query on the
/// HTTPS origin you name.
///
/// | request | [`refuse`](Self::refuse) | [`redirect_to`](Self::redirect_to) |
/// |---|---|---|
/// | carries a key: an `Authorization` header (any scheme), or a key where the [`KeyLocation`] looks | 403 `https_required`, `fix`: rotate the key | the same 403 |
/// | gRPC | `PERMISSION_DENIED` | `PERMISSION_DENIED` (gRPC clients do not follow redirects) |
/// | anything else | 403 `https_required` | 308, `Location: https://<host>[:<port>]<path>?<query>` |
///
/// A request that carries a key is never redirected: the key has already crossed the network
/// in clear, and a redirect would have the client send it again and go on working, so no one
/// would learn it must be rotated. No key is looked up or checked: the answer is the same
/// whether the key is valid or not.
///
/// The redirect's host is the one you configure, never the request's `Host` (which the client
/// writes): a redirect built from it would send the client wherever the request said. Only
/// the request's path and query are kept.
///
/// Serve it as a router's fallback, so routes of your own (a load balancer's health check)
/// can stay on plain HTTP:
///
/// ```
/// use axum::{Router, routing::get};
/// use keygate::transport::tls::PlainHttp;
///
/// # fn main() -> Result<(), keygate::transport::tls::InvalidHost> {
/// let plain: Router = Router::new()
///     .route("/healthz", get(|| async { "ok" }))
///     .fallback_service(PlainHttp::redirect_to("api.example.com", 443)?);
/// # let _ = plain;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PlainHttp {
    /// `https://<host>[:<port>]`, when requests without a key are redirected.
    origin: Option<Arc<str>>,
    location: KeyLocation,
    responder: DefaultRejection,
    /// `responder`, with the fix that says to rotate the key.
    key_in_clear: DefaultRejection,
    realm: Realm,
}

/// A host [`PlainHttp::redirect_to`] cannot redirect to: not a DNS name or IP address (IPv6 in
/// brackets), or one carrying a port or user information.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a host to redirect to: {host:?} (a DNS name or IP address, IPv6 in brackets, without port or user information)"
)]
pub struct InvalidHost {
    host: String,
}

impl PlainHttp {
    /// Refuses every request with 403 `https_required`.
    pub fn refuse() -> Self {
        let responder = DefaultRejection::new();
        Self {
            origin: None,
            key_in_clear: responder
                .clone()
                .fix(ErrorCode::HttpsRequired, KEY_IN_CLEAR_FIX),
            responder,
            location: KeyLocation::default(),
            realm: Realm::default(),
        }
    }

    /// Redirects requests without a key with 308 to `https://<host>:<port>` and their path and
    /// query (the port left out when it is 443); refuses the others as [`refuse`](Self::refuse)
    /// does. `host` is your canonical HTTPS host, e.g. `api.example.com` or `[2001:db8::1]`.
    pub fn redirect_to(host: &str, port: u16) -> Result<Self, InvalidHost> {
        let invalid = || InvalidHost {
            host: host.to_owned(),
        };
        let authority: Authority = host.parse().map_err(|_| invalid())?;
        if authority.port().is_some() || authority.as_str().contains('@') || host.is_empty() {
            return Err(invalid());
        }
        let origin = match port {
            443 => format!("https://{host}"),
            port => format!("https://{host}:{port}"),
        };
        Ok(Self {
            origin: Some(origin.into()),
            ..Self::refuse()
        })
    }

    /// Where the API's layer looks for the key (default `Authorization: Bearer`), so that a
    /// request carrying one in, say, `X-API-Key` is refused rather than redirected. An
    /// `Authorization` header counts as a key whatever the location.
    pub fn key_location(mut self, location: KeyLocation) -> Self {
        self.location = location;
        self
    }

    /// The responder of the refusals (default [`DefaultRejection::new`]), e.g. the one your
    /// API's layer uses, for the same problem `type` base and fixes. A request that carried a
    /// key is answered with `responder`'s body and a fix that says to rotate the key.
    pub fn rejection_response(mut self, responder: DefaultRejection) -> Self {
        self.key_in_clear = responder
            .clone()
            .fix(ErrorCode::HttpsRequired, KEY_IN_CLEAR_FIX);
        self.responder = responder;
        self
    }

    /// Whether `headers` carry a key: an `Authorization` header, or anything the key location
    /// finds (well-formed or not).
    fn carries_key(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(AUTHORIZATION)
            || !matches!(self.location.token(headers), Err(ExtractError::Missing))
    }

    /// The answer to `request`.
    fn answer<B>(&self, request: &Request<B>) -> Response {
        let grpc = is_grpc(request.headers());
        let refusal = Rejection::new(ErrorCode::HttpsRequired, &self.realm, grpc);
        if self.carries_key(request.headers()) {
            let refusal = refusal.with_reason(KEY_IN_CLEAR_REASON);
            return refuse(&self.key_in_clear, refusal);
        }
        match &self.origin {
            Some(origin) if !grpc => match redirect(origin, request) {
                Some(response) => response,
                None => refuse(&self.responder, refusal),
            },
            _ => refuse(&self.responder, refusal),
        }
    }
}

/// `responder`'s answer to `refusal`, the refusal left in the response's extensions for
/// access logs.
fn refuse(responder: &DefaultRejection, refusal: Rejection) -> Response {
    let mut response = responder.respond(&refusal).map(Body::from);
    response.extensions_mut().insert(refusal);
    response
}

/// 308 to `origin` followed by the request's path and query; `None` when they cannot make a
/// `Location` header.
fn redirect<B>(origin: &str, request: &Request<B>) -> Option<Response> {
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        // `OPTIONS *` and CONNECT's `host:port` have no path to keep.
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    let location = HeaderValue::try_from(format!("{origin}{target}")).ok()?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response.headers_mut().insert(LOCATION, location);
    Some(response)
}

impl<B> Service<Request<B>> for PlainHttp {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.answer(&request)))
    }
}

impl fmt::Debug for PlainHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainHttp")
            .field("redirect_to", &self.origin)
            .field("responder", &self.responder)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;
    use http_body_util::BodyExt;

    fn get(target: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::get(target).header("host", "evil.example");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    async fn problem(response: Response) -> serde_json::Value {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&body).unwrap()
    }

    fn redirecting() -> PlainHttp {
        PlainHttp::redirect_to("api.example.com", 8443).unwrap()
    }

    #[tokio::test]
    async fn refuse_answers_every_request_403_https_required() {
        let json = problem(PlainHttp::refuse().answer(&get("/v1/records", &[]))).await;
        assert_eq!(json["code"], "https_required");
        assert_eq!(json["fix"], ErrorCode::HttpsRequired.fix());
    }

    #[test]
    fn redirect_keeps_path_and_query_and_ignores_the_host_header() {
        let response = redirecting().answer(&get("/v1/records?page=2", &[]));
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            response.headers()[LOCATION],
            "https://api.example.com:8443/v1/records?page=2"
        );
    }

    #[test]
    fn redirect_of_an_absolute_form_request_keeps_only_its_path() {
        let response = redirecting().answer(&get("http://evil.example/x", &[]));
        assert_eq!(
            response.headers()[LOCATION],
            "https://api.example.com:8443/x"
        );
    }

    #[test]
    fn redirect_to_port_443_leaves_the_port_out() {
        let response = PlainHttp::redirect_to("api.example.com", 443)
            .unwrap()
            .answer(&get("/", &[]));
        assert_eq!(response.headers()[LOCATION], "https://api.example.com/");
    }

    #[test]
    fn redirect_of_options_asterisk_goes_to_the_root() {
        let request = Request::options("*").body(()).unwrap();
        let response = redirecting().answer(&request);
        assert_eq!(
            response.headers()[LOCATION],
            "https://api.example.com:8443/"
        );
    }

    #[tokio::test]
    async fn a_request_with_authorization_is_refused_and_told_to_rotate_the_key() {
        for value in ["Bearer kg_whatever", "Basic dXNlcjpwYXNz", ""] {
            let response = redirecting().answer(&get("/v1/records", &[("authorization", value)]));
            let json = problem(response).await;
            assert_eq!(json["code"], "https_required");
            assert_eq!(json["reason"], KEY_IN_CLEAR_REASON);
            assert!(json["fix"].as_str().unwrap().contains("rotate"), "{json}");
        }
    }

    #[tokio::test]
    async fn a_key_in_the_configured_header_is_refused_not_redirected() {
        let plain =
            redirecting().key_location(KeyLocation::header(HeaderName::from_static("x-api-key")));
        let json = problem(plain.answer(&get("/", &[("x-api-key", "kg_x")]))).await;
        assert_eq!(json["reason"], KEY_IN_CLEAR_REASON);
        let other = plain.answer(&get("/", &[("x-other", "kg_x")]));
        assert_eq!(other.status(), StatusCode::PERMANENT_REDIRECT);
    }

    #[test]
    fn grpc_requests_are_refused_with_permission_denied_not_redirected() {
        let request = get("/pkg.Svc/Call", &[("content-type", "application/grpc")]);
        let response = redirecting().answer(&request);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "7");
    }

    #[tokio::test]
    async fn the_responders_type_base_is_kept_for_both_refusals() {
        let plain = PlainHttp::refuse()
            .rejection_response(DefaultRejection::new().with_type_base("https://d.example/e/"));
        let json = problem(plain.answer(&get("/", &[]))).await;
        assert_eq!(json["type"], "https://d.example/e/https_required");
        let keyed = problem(plain.answer(&get("/", &[("authorization", "Bearer x")]))).await;
        assert_eq!(keyed["type"], "https://d.example/e/https_required");
        assert!(keyed["fix"].as_str().unwrap().contains("rotate"));
    }

    #[test]
    fn hosts_with_a_port_user_information_or_junk_are_refused() {
        for host in [
            "",
            "api.example.com:443",
            "user@api.example.com",
            "a b",
            "a/b",
            "::1",
        ] {
            assert!(PlainHttp::redirect_to(host, 443).is_err(), "{host:?}");
        }
        assert!(PlainHttp::redirect_to("[::1]", 8443).is_ok());
        assert!(PlainHttp::redirect_to("127.0.0.1", 8443).is_ok());
    }
}
