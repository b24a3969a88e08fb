//! Keys' IP allowlists over real sockets: axum routers on IPv4, IPv6 and dual-stack loopback
//! listeners learning the peer from `ConnectInfo`, forwarding headers believed only from
//! trusted proxies, and a hyper server that tells the layer no address at all.

mod wire;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::StatusCode;
use keygate::events::{DecisionEvent, Outcome};
use keygate::key::{KeyId, KeyPrefix};
use keygate::{
    ApiKeyLayer, ApiKeyLayerBuilder, ErrorCode, FailureLimit, ForwardedHeader, IpAllowlist,
    KeyManager, KeyUpdate, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota, TrustedProxies,
    Workspace,
};
use tokio::net::{TcpListener, TcpSocket};
use wire::{header, problem_code, request, request_with, send};

type Builder = ApiKeyLayerBuilder<MemoryKeyStore, MemoryRateLimiter>;

/// What the handler answers: the peer address the server saw, if it was told one.
async fn peer(request: axum::extract::Request) -> String {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => addr.ip().to_string(),
        None => "none".to_owned(),
    }
}

/// A key store, a key in it, and the router guarding `/v1/records` with it.
struct Setup {
    store: MemoryKeyStore,
    id: KeyId,
    key: String,
    router: Router,
}

impl Setup {
    /// A `read:all` key allowed from `allowed` ("" for anywhere), behind a layer built with
    /// `configure`.
    async fn new(allowed: &str, configure: impl FnOnce(Builder) -> Builder) -> Self {
        let store = MemoryKeyStore::new();
        let mut new = NewKey::new("edge".parse().unwrap(), "read:all".parse().unwrap());
        new.allowed_ips = allowed.parse().unwrap();
        let created = store.create(new).await.unwrap();
        let layer = configure(ApiKeyLayer::builder(
            store.clone(),
            MemoryRateLimiter::new(),
        ))
        .build();
        let router = Router::new().route("/v1/records", get(peer)).layer(layer);
        Self {
            store,
            id: created.info.id,
            key: created.plaintext.expose_secret().to_owned(),
            router,
        }
    }

    /// Replaces the key's allowlist.
    async fn allow(&self, allowed: &str) {
        let mut update = KeyUpdate::new();
        update.allowed_ips = Some(allowed.parse::<IpAllowlist>().unwrap());
        self.store
            .update(&Workspace::default(), &self.id, update)
            .await
            .unwrap();
    }

    /// The router served on a free 127.0.0.1 port, with `ConnectInfo`.
    async fn serve(&self) -> SocketAddr {
        self.serve_on("127.0.0.1:0").await
    }

    /// The router served on a listener bound to `bind`, with `ConnectInfo`.
    async fn serve_on(&self, bind: &str) -> SocketAddr {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        wire::serve_axum_with_peers(listener, self.router.clone());
        addr
    }
}

/// Loopback (IPv4 and IPv6) as the trusted proxy, naming the client in `header`.
fn loopback_proxy(header: ForwardedHeader) -> impl FnOnce(Builder) -> Builder {
    move |builder| {
        builder.trusted_proxies(
            TrustedProxies::new("127.0.0.0/8, ::1".parse().unwrap()).header(header),
        )
    }
}

fn no_settings(builder: Builder) -> Builder {
    builder
}

/// Asserts the answer is the 403 `ip_not_allowed` problem, without a challenge.
fn assert_ip_not_allowed(response: &http::Response<bytes::Bytes>) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_code(response), "ip_not_allowed");
    assert!(!response.headers().contains_key("www-authenticate"));
}

async fn get_with(
    addr: SocketAddr,
    key: &str,
    headers: &[(&str, &str)],
) -> http::Response<bytes::Bytes> {
    let bearer = format!("Bearer {key}");
    let mut lines = vec![("authorization", bearer.as_str())];
    lines.extend_from_slice(headers);
    send(addr, request_with("GET", "/v1/records", &lines)).await
}

#[tokio::test]
async fn ipv4_client_in_the_allowlist_is_let_through() {
    let setup = Setup::new("127.0.0.1", no_settings).await;
    let addr = setup.serve().await;
    let response = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"127.0.0.1");
}

#[tokio::test]
async fn ipv4_client_outside_the_allowlist_is_refused_with_403_ip_not_allowed() {
    let setup = Setup::new("192.0.2.0/24, 2001:db8::/32", no_settings).await;
    let addr = setup.serve().await;
    let response = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_ip_not_allowed(&response);
}

#[tokio::test]
async fn a_key_without_an_allowlist_is_usable_from_anywhere() {
    let setup = Setup::new("", no_settings).await;
    let addr = setup.serve().await;
    let response = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn ipv6_client_is_matched_against_ipv6_networks() {
    let setup = Setup::new("::1/128", no_settings).await;
    let addr = setup.serve_on("[::1]:0").await;
    let allowed = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.body().as_ref(), b"::1");

    setup.allow("2001:db8::/32, 127.0.0.1").await;
    let refused = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_ip_not_allowed(&refused);
}

#[tokio::test]
async fn ipv4_client_of_a_dual_stack_socket_is_matched_by_an_ipv4_list() {
    let setup = Setup::new("127.0.0.0/8", no_settings).await;
    let listener = TcpSocket::new_v6().unwrap();
    listener.bind("[::]:0".parse().unwrap()).unwrap();
    let port = listener.local_addr().unwrap().port();
    wire::serve_axum_with_peers(listener.listen(16).unwrap(), setup.router.clone());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let response = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"::ffff:127.0.0.1");

    setup.allow("192.0.2.0/24").await;
    let refused = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_ip_not_allowed(&refused);
}

#[tokio::test]
async fn a_wrong_secret_from_a_refused_address_gets_invalid_api_key() {
    let setup = Setup::new("192.0.2.0/24", no_settings).await;
    let addr = setup.serve().await;
    let forged = keygate::key::generate_for(&KeyPrefix::default(), setup.id).unwrap();
    let wrong = forged.plaintext.expose_secret().to_owned();
    let response = send(addr, request("GET", "/v1/records", Some(&wrong))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(&response), "invalid_api_key");
}

#[tokio::test]
async fn a_revoked_key_used_from_a_refused_address_learns_only_ip_not_allowed() {
    let setup = Setup::new("::1", no_settings).await;
    setup
        .store
        .revoke(&Workspace::default(), &setup.id)
        .await
        .unwrap();
    let refused_v4 = setup.serve().await;
    let elsewhere = send(refused_v4, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_ip_not_allowed(&elsewhere);

    let allowed_v6 = setup.serve_on("[::1]:0").await;
    let allowed = send(allowed_v6, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_eq!(problem_code(&allowed), "revoked_api_key");
}

#[tokio::test]
async fn the_refusal_is_reported_with_the_key_and_outcome_ip_not_allowed() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let setup = Setup::new("192.0.2.0/24", move |builder| {
        builder.on_decision(move |event: &DecisionEvent<'_>| {
            log.lock().unwrap().push((event.outcome(), event.key_id()));
        })
    })
    .await;
    let addr = setup.serve().await;
    send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    let refused = Outcome::Refused(ErrorCode::IpNotAllowed);
    assert_eq!(refused.as_str(), "ip_not_allowed");
    assert_eq!(*seen.lock().unwrap(), vec![(refused, Some(setup.id))]);
}

#[tokio::test]
async fn a_grpc_request_from_a_refused_address_gets_permission_denied() {
    let setup = Setup::new("192.0.2.0/24", no_settings).await;
    let addr = setup.serve().await;
    let bearer = format!("Bearer {}", setup.key);
    let grpc = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/grpc"),
    ];
    let response = wire::send_h2(
        addr,
        request_with("GET", "http://localhost/v1/records", &grpc),
    )
    .await;
    assert_eq!(header(&response, "grpc-status"), "7");
}

#[tokio::test]
async fn spoofed_forwarding_headers_are_ignored_without_trusted_proxies() {
    let setup = Setup::new("203.0.113.9", no_settings).await;
    let addr = setup.serve().await;
    let spoofed = [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
        ("x-real-ip", "203.0.113.9"),
    ];
    let response = get_with(addr, &setup.key, &spoofed).await;
    assert_ip_not_allowed(&response);
}

#[tokio::test]
async fn behind_a_trusted_proxy_its_x_forwarded_for_decides() {
    let setup = Setup::new(
        "203.0.113.9",
        loopback_proxy(ForwardedHeader::XForwardedFor),
    )
    .await;
    let addr = setup.serve().await;
    let allowed = get_with(addr, &setup.key, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let refused = get_with(addr, &setup.key, &[("x-forwarded-for", "198.51.100.7")]).await;
    assert_ip_not_allowed(&refused);
}

#[tokio::test]
async fn behind_a_trusted_proxy_its_forwarded_header_decides_and_no_other() {
    let setup = Setup::new("2001:db8::7", loopback_proxy(ForwardedHeader::Forwarded)).await;
    let addr = setup.serve().await;
    let allowed = get_with(
        addr,
        &setup.key,
        &[("forwarded", "for=\"[2001:db8::7]:4711\";proto=https")],
    )
    .await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let other_header = get_with(addr, &setup.key, &[("x-forwarded-for", "2001:db8::7")]).await;
    assert_ip_not_allowed(&other_header);
}

#[tokio::test]
async fn an_entry_the_client_prepended_is_ignored_and_the_rightmost_untrusted_address_wins() {
    let setup = Setup::new(
        "203.0.113.9",
        loopback_proxy(ForwardedHeader::XForwardedFor),
    )
    .await;
    let addr = setup.serve().await;
    // The client claims 203.0.113.9; the proxy appended the address it really came from,
    // then a second proxy (loopback, trusted) appended the first one's.
    let spoofed = [("x-forwarded-for", "203.0.113.9, 198.51.100.7, 127.0.0.5")];
    assert_ip_not_allowed(&get_with(addr, &setup.key, &spoofed).await);

    setup.allow("198.51.100.7").await;
    let response = get_with(addr, &setup.key, &spoofed).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn several_header_lines_are_read_as_one_list() {
    let setup = Setup::new(
        "198.51.100.7",
        loopback_proxy(ForwardedHeader::XForwardedFor),
    )
    .await;
    let addr = setup.serve().await;
    let lines = [
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-for", "198.51.100.7, 127.0.0.5"),
    ];
    let response = get_with(addr, &setup.key, &lines).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_malformed_forwarding_header_falls_back_to_the_peer() {
    let setup = Setup::new(
        "203.0.113.9",
        loopback_proxy(ForwardedHeader::XForwardedFor),
    )
    .await;
    let addr = setup.serve().await;
    let malformed = [("x-forwarded-for", "203.0.113.9, not-an-address")];
    assert_ip_not_allowed(&get_with(addr, &setup.key, &malformed).await);

    setup.allow("127.0.0.1").await;
    let response = get_with(addr, &setup.key, &malformed).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_restricted_key_is_refused_when_the_server_tells_no_address() {
    let setup = Setup::new("127.0.0.1", no_settings).await;
    let addr = wire::serve_without_peers(setup.router.clone()).await;
    let refused = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_ip_not_allowed(&refused);

    setup.allow("").await;
    let response = send(addr, request("GET", "/v1/records", Some(&setup.key))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"none");
}

#[tokio::test]
async fn behind_a_trusted_proxy_failed_attempts_count_against_the_forwarded_client() {
    let two_failures =
        Quota::per_minute(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(2).unwrap());
    let setup = Setup::new("", |builder| {
        loopback_proxy(ForwardedHeader::XForwardedFor)(builder)
            .failure_limit(FailureLimit::default().per_client(two_failures))
    })
    .await;
    let addr = setup.serve().await;
    let unknown = keygate::key::generate(&KeyPrefix::default()).unwrap();
    let unknown = unknown.plaintext.expose_secret();
    let from_a = [("x-forwarded-for", "203.0.113.9")];
    for _ in 0..2 {
        let response = get_with(addr, unknown, &from_a).await;
        assert_eq!(problem_code(&response), "invalid_api_key");
    }
    let throttled = get_with(addr, unknown, &from_a).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);

    let from_b = [("x-forwarded-for", "198.51.100.7")];
    let other_client = get_with(addr, unknown, &from_b).await;
    assert_eq!(problem_code(&other_client), "invalid_api_key");
}
