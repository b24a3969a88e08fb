//! Authorization bypasses in the request path, tried against a real axum router on a real
//! socket with requests written as raw bytes (an attacker does not use a normalising client):
//! respelled paths, HEAD under a GET rule, and the client's own claims about HTTPS.
//!
//! Each handler names the route that ran in an `x-route` header, so a test can tell which
//! handler a spelling reached.

mod common;
mod wire;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{MethodRouter, get};
use common::Harness;
use http::Method;
use keygate::Scope;
use keygate::policy::RoutePolicy;
use keygate::transport::ProxyHeader;
use wire::{RawAnswer, raw_request, send_raw};

/// Routes guarded by an `admin` rule.
const ADMIN_ROUTES: [&str; 4] = ["admin-id", "admin-files", "tenant-billing", "reports"];

fn route(name: &'static str) -> MethodRouter {
    get(move || async move { ([("x-route", name)], name) })
}

fn policy() -> RoutePolicy {
    RoutePolicy::new()
        .route("/v1/admin/**", Scope::Admin)
        .route("/v1/tenants/*/billing", Scope::Admin)
        .route_method(Method::GET, "/v1/reports", Scope::Admin)
}

fn router() -> Router {
    Router::new()
        .route("/v1/admin/{id}", route("admin-id"))
        .route("/v1/admin/files/{*rest}", route("admin-files"))
        .route("/v1/tenants/{t}/billing", route("tenant-billing"))
        .route("/v1/reports", route("reports"))
        .route("/v1/{resource}/list", route("resource-list"))
        .route("/v1/records", route("records"))
}

struct Site {
    h: Harness,
    addr: SocketAddr,
    reader: String,
    admin: String,
}

async fn site() -> Site {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let (_, admin) = h.key("production-backend", "admin").await;
    let app = router().layer(h.builder().policy(policy()).build());
    let addr = wire::serve_axum(app).await;
    Site {
        h,
        addr,
        reader,
        admin,
    }
}

impl Site {
    async fn get(&self, target: &str, key: &str) -> RawAnswer {
        send_raw(self.addr, &raw_request("GET", target, Some(key), &[])).await
    }
}

/// Asserts `answer` is the 400 `malformed_request` problem.
fn assert_refused(target: &str, answer: &RawAnswer) {
    assert_eq!(answer.status, 400, "{target}: {answer:?}");
    assert_eq!(
        answer.problem_code().as_deref(),
        Some("malformed_request"),
        "{target}: {answer:?}"
    );
    assert_eq!(answer.header("x-route"), None, "{target}");
}

/// Asserts every one of `targets`, sent with the admin key, is refused with 400
/// `malformed_request` before any key is looked up.
async fn assert_all_refused(targets: &[&str]) {
    let s = site().await;
    for target in targets {
        assert_refused(target, &s.get(target, &s.admin).await);
    }
    assert_eq!(s.h.lookups(), 0);
}

/// Every spelling an attacker might try for the admin handlers.
const SPELLINGS: &[&str] = &[
    "/v1/admin/x",
    "/v1/admin/..",
    "/v1/admin/.",
    "/v1/admin/files/a/../../..",
    "/v1/admin/files/..",
    "/v1/admin/files/a/..",
    "/v1/tenants/./billing",
    "/v1/tenants/../billing",
    "/v1/tenants/t1/billing",
    "/v1/admin/%2e%2e",
    "/v1/admin/%2E%2E",
    "/v1/admin/.%2e",
    "/v1/admin/%2e.",
    "/v1/admin/%2E",
    "/v1/admin/files/a/%2e%2e/%2e%2e/%2e%2e",
    "/v1/tenants/%2e/billing",
    "/v1/tenants/%2E%2e/billing",
    "/v1/records/../admin/x",
    "/v1/records/%2e%2e/admin/x",
    "/v1//admin/x",
    "//v1/admin/x",
    "/v1/admin//x",
    "/v1/admin/files//a",
    "/v1/tenants//billing",
    "/v1/admin/",
    "/v1/admin/x/",
    "/v1/admin/files/a/",
    "/v1/tenants/t1/billing/",
    "/v1/reports/",
    "/v1/admin;x=1/x",
    "/v1/admin/x;y=1",
    "/v1/tenants;a/t1/billing",
    "/v1/admin;/list",
    "/V1/ADMIN/x",
    "/v1/Admin/x",
    "/v1/Admin/list",
    "/v1/admin/list",
    "/v1/%61dmin/list",
    "/v1/%61dmin/x",
    "/v1/%41dmin/list",
    "/v1/admin%2fx",
    "/v1/admin%2Fx/list",
    "/v1/admin%5cx/list",
    "/v1/admin%5Cfiles/list",
    "/v1/tenants/t1%2fbilling",
    "/v1/tenants/t1/%62illing",
    "/v1/tenants/t1/billin%67",
    "/v1/%72eports",
    "/v1/admin/files/%2e%2e%2f%2e%2e",
    "/v1/admin/%2e%2e%2fx/list",
];

#[tokio::test]
async fn a_read_all_key_never_gets_a_2xx_from_an_admin_handler_whatever_the_spelling() {
    let s = site().await;
    let mut reached = Vec::new();
    for target in SPELLINGS {
        let answer = s.get(target, &s.reader).await;
        assert!(answer.status < 500, "{target}: {answer:?}");
        let route = answer.header("x-route").unwrap_or("");
        if (200..300).contains(&answer.status) && ADMIN_ROUTES.contains(&route) {
            reached.push(format!("{target} reached {route}"));
        }
    }
    assert!(reached.is_empty(), "{reached:#?}");
}

#[tokio::test]
async fn a_spelling_that_reaches_a_handler_reaches_only_one_whose_rule_the_key_satisfies() {
    let s = site().await;
    for target in SPELLINGS {
        let answer = s.get(target, &s.reader).await;
        match answer.status {
            400 => assert_refused(target, &answer),
            403 => assert_eq!(
                answer.problem_code().as_deref(),
                Some("insufficient_scope"),
                "{target}"
            ),
            404 => assert_eq!(answer.header("x-route"), None, "{target}"),
            200 => assert!(
                matches!(answer.header("x-route"), Some("resource-list" | "records")),
                "{target}: {answer:?}"
            ),
            other => panic!("{target}: unexpected {other}: {answer:?}"),
        }
    }
}

#[tokio::test]
async fn dot_segments_in_every_spelling_are_refused_with_400_before_any_lookup() {
    assert_all_refused(&[
        "/v1/admin/..",
        "/v1/admin/.",
        "/v1/admin/files/a/../../..",
        "/v1/tenants/./billing",
        "/v1/tenants/../billing",
        "/v1/admin/%2e%2e",
        "/v1/admin/%2E%2E",
        "/v1/admin/.%2e",
        "/v1/admin/%2e.",
        "/v1/admin/%2E",
        "/v1/records/..",
        "/v1/./records",
        "/./v1/records",
    ])
    .await;
}

#[tokio::test]
async fn encoded_slashes_backslashes_and_unreserved_characters_are_refused_with_400() {
    assert_all_refused(&[
        "/v1/admin%2fx",
        "/v1/admin%2Fx",
        "/v1/admin%5cx/list",
        "/v1/admin%5Cx/list",
        "/v1/%61dmin/list",
        "/v1/%41dmin/list",
        "/v1/tenants/t1/billin%67",
        "/v1/records%2D1",
        "/v1/records%5f",
        "/v1/records%7E",
        "/v1/records%30",
    ])
    .await;
}

#[tokio::test]
async fn a_raw_backslash_in_the_path_is_refused_with_400() {
    assert_all_refused(&["/v1/admin\\x", "/v1\\admin/x", "/v1/records\\"]).await;
}

#[tokio::test]
async fn empty_inner_segments_are_refused_with_400() {
    assert_all_refused(&[
        "/v1//admin/x",
        "//v1/admin/x",
        "/v1/admin//x",
        "/v1/records//",
    ])
    .await;
}

#[tokio::test]
async fn semicolon_parameters_are_refused_with_400() {
    assert_all_refused(&[
        "/v1/admin;x=1/x",
        "/v1/admin/x;y=1",
        "/v1/records;jsessionid=1",
    ])
    .await;
}

#[tokio::test]
async fn a_grpc_client_with_an_ambiguous_path_gets_invalid_argument() {
    let s = site().await;
    let raw = raw_request(
        "POST",
        "/pkg.Admin/../Delete",
        Some(&s.admin),
        &["Content-Type: application/grpc", "Content-Length: 0"],
    );
    let answer = send_raw(s.addr, &raw).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("grpc-status"), Some("3"), "{answer:?}");
    assert_eq!(s.h.lookups(), 0);
}

#[tokio::test]
async fn a_trailing_slash_still_needs_the_scope_of_the_rule() {
    let s = site().await;
    for target in [
        "/v1/admin/",
        "/v1/admin/x/",
        "/v1/tenants/t1/billing/",
        "/v1/reports/",
    ] {
        let answer = s.get(target, &s.reader).await;
        assert_eq!(answer.status, 403, "{target}: {answer:?}");
        assert_eq!(answer.problem_code().as_deref(), Some("insufficient_scope"));
    }
}

#[tokio::test]
async fn query_strings_are_not_part_of_the_path() {
    let s = site().await;
    let answer = s
        .get("/v1/records?next=/../admin/x&x=%2e%2e", &s.reader)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-route"), Some("records"));
}

#[tokio::test]
async fn the_admin_key_reaches_every_admin_handler_and_a_read_key_none() {
    let s = site().await;
    for (target, route) in [
        ("/v1/admin/x", "admin-id"),
        ("/v1/admin/files/a/b", "admin-files"),
        ("/v1/tenants/t1/billing", "tenant-billing"),
        ("/v1/reports", "reports"),
    ] {
        let answer = s.get(target, &s.admin).await;
        assert_eq!(answer.status, 200, "{target}: {answer:?}");
        assert_eq!(answer.header("x-route"), Some(route));
        let answer = s.get(target, &s.reader).await;
        assert_eq!(answer.status, 403, "{target}: {answer:?}");
    }
}

#[tokio::test]
async fn head_under_a_get_rule_needs_the_scope_of_the_rule() {
    let s = site().await;
    let head = |key: &str| raw_request("HEAD", "/v1/reports", Some(key), &[]);
    let answer = send_raw(s.addr, &head(&s.reader)).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.header("x-route"), None);
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|c| c.contains("error=\"insufficient_scope\", scope=\"admin\"")),
        "{answer:?}"
    );
    let answer = send_raw(s.addr, &head(&s.admin)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-route"), Some("reports"));
}

/// A site that requires HTTPS, served over plain TCP, trusting `proxy` if given.
async fn https_site(proxy: Option<ProxyHeader>) -> (SocketAddr, String) {
    let h = Harness::new();
    let (_, reader) = h.key("local-dev", "read:all").await;
    let mut builder = h.builder().require_https(true);
    if let Some(header) = proxy {
        builder = builder.trusted_proxy_header(header);
    }
    let addr = wire::serve_axum(router().layer(builder.build())).await;
    (addr, reader)
}

/// The answer to `GET /v1/records` with the given extra header lines, on a site that
/// requires HTTPS and trusts `proxy`.
async fn records_behind(proxy: ProxyHeader, extra: &[&str]) -> RawAnswer {
    let (addr, key) = https_site(Some(proxy)).await;
    send_raw(addr, &raw_request("GET", "/v1/records", Some(&key), extra)).await
}

fn assert_https_required(answer: &RawAnswer) {
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.problem_code().as_deref(), Some("https_required"));
}

#[tokio::test]
async fn an_absolute_form_https_request_line_over_plain_tcp_gets_403_https_required() {
    let (addr, key) = https_site(None).await;
    for target in [
        "https://localhost/v1/records",
        "HTTPS://localhost/v1/records",
    ] {
        let answer = send_raw(addr, &raw_request("GET", target, Some(&key), &[])).await;
        assert_https_required(&answer);
    }
}

#[tokio::test]
async fn an_http2_https_scheme_over_plain_tcp_gets_403_https_required() {
    let (addr, key) = https_site(None).await;
    let request = wire::request("GET", "https://localhost/v1/records", Some(&key));
    let answer = wire::send_h2(addr, request).await;
    assert_eq!(answer.version(), http::Version::HTTP_2);
    assert_eq!(answer.status(), 403);
    assert_eq!(wire::problem_code(&answer), "https_required");
}

#[tokio::test]
async fn a_client_forwarded_header_cannot_override_the_trusted_x_forwarded_proto() {
    let answer = records_behind(
        ProxyHeader::XForwardedProto,
        &["Forwarded: proto=https", "X-Forwarded-Proto: http"],
    )
    .await;
    assert_https_required(&answer);
}

#[tokio::test]
async fn a_client_x_forwarded_proto_cannot_override_the_trusted_forwarded_header() {
    let answer = records_behind(
        ProxyHeader::Forwarded,
        &[
            "X-Forwarded-Proto: https",
            "Forwarded: for=10.0.0.1;proto=http",
        ],
    )
    .await;
    assert_https_required(&answer);
}

#[tokio::test]
async fn a_client_element_before_the_proxy_element_does_not_count() {
    let answer = records_behind(
        ProxyHeader::XForwardedProto,
        &["X-Forwarded-Proto: https, http"],
    )
    .await;
    assert_https_required(&answer);
}

#[tokio::test]
async fn the_trusted_proxy_header_saying_https_lets_the_request_through() {
    for (proxy, line) in [
        (ProxyHeader::XForwardedProto, "X-Forwarded-Proto: https"),
        (
            ProxyHeader::Forwarded,
            "Forwarded: for=10.0.0.1;proto=https",
        ),
    ] {
        let answer = records_behind(proxy, &[line]).await;
        assert_eq!(answer.status, 200, "{line}: {answer:?}");
        assert_eq!(answer.header("x-route"), Some("records"));
    }
}
