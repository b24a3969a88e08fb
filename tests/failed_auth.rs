//! Failed authentication is throttled per client address, over real axum servers and sockets:
//! clients on two loopback addresses (127.0.0.2 and 127.0.0.3), the server learning each
//! one's address from `ConnectInfo`.

mod common;
mod wire;

use keygate::Workspace;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::CountingStore;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use keygate::FailureLimit;
use keygate::clock::ManualClock;
use keygate::key::KeyPrefix;
use keygate::{
    ApiKeyLayer, ApiKeyLayerBuilder, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota,
};
use tokio::net::TcpSocket;
use wire::{header, problem_code, request};

/// A keep-alive HTTP/1.1 connection from a given loopback address.
struct Client {
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    async fn from(source: [u8; 4], server: SocketAddr) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((source, 0))).unwrap();
        let stream = socket.connect(server).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Self { sender }
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Response<Bytes> {
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
    }

    async fn get(&mut self, key: &str) -> Response<Bytes> {
        self.send(request("GET", "/v1/records", Some(key))).await
    }
}

const ATTACKER: [u8; 4] = [127, 0, 0, 2];
const USER: [u8; 4] = [127, 0, 0, 3];

struct Server {
    addr: SocketAddr,
    clock: ManualClock,
    lookups: Arc<AtomicUsize>,
    valid: String,
    revoked: String,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// `burst` failures per client at once, then one a minute.
fn per_client(burst: u32) -> Quota {
    Quota::per_minute(nz(1)).allow_burst(nz(burst))
}

type Builder = ApiKeyLayerBuilder<CountingStore, MemoryRateLimiter<ManualClock>>;

/// Serves the echo handler behind a layer configured by `configure`, on a manual clock, over a
/// store that counts its lookups; with `ConnectInfo<SocketAddr>`.
async fn serve(configure: impl FnOnce(Builder) -> Builder) -> Server {
    let clock = ManualClock::new();
    let store = MemoryKeyStore::with_clock(KeyPrefix::default(), clock.clone());
    let mut keys = Vec::new();
    for name in ["production-backend", "old-backend"] {
        let created = store
            .create(NewKey::new(
                name.parse().unwrap(),
                "read:all".parse().unwrap(),
            ))
            .await
            .unwrap();
        keys.push((
            created.info.id,
            created.plaintext.expose_secret().to_owned(),
        ));
    }
    store
        .revoke(&Workspace::default(), &keys[1].0)
        .await
        .unwrap();
    let lookups = Arc::new(AtomicUsize::new(0));
    let counting = CountingStore {
        inner: store,
        lookups: Arc::clone(&lookups),
    };
    let builder = ApiKeyLayer::builder(counting, MemoryRateLimiter::with_clock(clock.clone()))
        .clock(clock.clone());
    let layer = configure(builder).build();
    let app = axum::Router::new()
        .route("/v1/records", axum::routing::get(|| async { "records" }))
        .layer(layer);
    let (listener, addr) = wire::free_port().await;
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    Server {
        addr,
        clock,
        lookups,
        valid: keys[0].1.clone(),
        revoked: keys[1].1.clone(),
    }
}

/// A well-formed key (right checksum) whose id no store holds.
fn random_key() -> String {
    keygate::key::generate(&KeyPrefix::default())
        .unwrap()
        .plaintext
        .expose_secret()
        .to_owned()
}

fn assert_throttled(response: &Response<Bytes>) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem_code(response), "rate_limited");
    assert!(header(response, "retry-after").parse::<u64>().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sending_bad_keys_gets_429_after_its_budget_while_another_address_keeps_getting_200()
{
    let server =
        serve(|b| b.failure_limit(FailureLimit::default().per_client(per_client(5)))).await;
    let mut attacker = Client::from(ATTACKER, server.addr).await;
    let mut user = Client::from(USER, server.addr).await;
    for _ in 0..5 {
        let answer = attacker.get(&random_key()).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(problem_code(&answer), "invalid_api_key");
        assert_eq!(user.get(&server.valid).await.status(), StatusCode::OK);
    }
    for _ in 0..20 {
        assert_throttled(&attacker.get(&random_key()).await);
        assert_eq!(user.get(&server.valid).await.status(), StatusCode::OK);
    }
    // Over its budget, the address is refused whatever it sends, until the budget refills.
    assert_throttled(&attacker.get(&server.valid).await);
    server.clock.advance(Duration::from_secs(60));
    assert_eq!(attacker.get(&server.valid).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_answer_costs_no_store_lookup() {
    let server =
        serve(|b| b.failure_limit(FailureLimit::default().per_client(per_client(3)))).await;
    let mut attacker = Client::from(ATTACKER, server.addr).await;
    for _ in 0..3 {
        assert_eq!(
            attacker.get(&random_key()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let before = server.lookups.load(Ordering::SeqCst);
    assert_eq!(before, 3);
    for _ in 0..50 {
        assert_throttled(&attacker.get(&random_key()).await);
    }
    assert_eq!(server.lookups.load(Ordering::SeqCst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_of_the_throttled_answer_is_when_the_next_failure_is_allowed() {
    let server =
        serve(|b| b.failure_limit(FailureLimit::default().per_client(per_client(2)))).await;
    let mut attacker = Client::from(ATTACKER, server.addr).await;
    attacker.get(&random_key()).await;
    attacker.get(&random_key()).await;
    let throttled = attacker.get(&random_key()).await;
    assert_throttled(&throttled);
    assert_eq!(header(&throttled, "retry-after"), "60");
    server.clock.advance(Duration::from_secs(59));
    assert_throttled(&attacker.get(&random_key()).await);
    server.clock.advance(Duration::from_secs(1));
    assert_eq!(
        attacker.get(&random_key()).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_count_as_failures_and_malformed_keys_do_not() {
    let server =
        serve(|b| b.failure_limit(FailureLimit::default().per_client(per_client(3)))).await;
    let mut client = Client::from(ATTACKER, server.addr).await;
    let mut malformed = server.valid.clone();
    malformed.pop();
    malformed.push('!');
    for _ in 0..10 {
        let answer = client.get(&malformed).await;
        assert_eq!(problem_code(&answer), "malformed_api_key");
    }
    for _ in 0..3 {
        let answer = client.get(&server.revoked).await;
        assert_eq!(problem_code(&answer), "revoked_api_key");
    }
    assert_throttled(&client.get(&server.revoked).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_global_budget_refuses_clients_with_recent_failures_but_not_valid_key_users() {
    let limit = FailureLimit::default()
        .per_client(per_client(10))
        .global(Quota::per_minute(nz(1)).allow_burst(nz(4)));
    let server = serve(|b| b.failure_limit(limit)).await;
    let mut first = Client::from([127, 0, 0, 4], server.addr).await;
    let mut second = Client::from([127, 0, 0, 5], server.addr).await;
    for _ in 0..2 {
        assert_eq!(
            first.get(&random_key()).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            second.get(&random_key()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Four failures in all: each client is within its own budget, everyone's is spent.
    let lookups = server.lookups.load(Ordering::SeqCst);
    assert_throttled(&first.get(&random_key()).await);
    assert_throttled(&second.get(&server.valid).await);
    assert_eq!(server.lookups.load(Ordering::SeqCst), lookups);
    let mut user = Client::from(USER, server.addr).await;
    for _ in 0..10 {
        assert_eq!(user.get(&server.valid).await.status(), StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_do_not_give_a_client_a_fresh_budget() {
    let server =
        serve(|b| b.failure_limit(FailureLimit::default().per_client(per_client(3)))).await;
    let mut attacker = Client::from(ATTACKER, server.addr).await;
    let spoofed = |n: u32| {
        let mut req = request("GET", "/v1/records", Some(&random_key()));
        let forwarded = format!("198.51.100.{n}");
        req.headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        req.headers_mut()
            .insert("forwarded", format!("for={forwarded}").parse().unwrap());
        req.headers_mut()
            .insert("x-real-ip", forwarded.parse().unwrap());
        req
    };
    for n in 0..3 {
        assert_eq!(
            attacker.send(spoofed(n)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for n in 3..10 {
        assert_throttled(&attacker.send(spoofed(n)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_limit_is_on_by_default() {
    let server = serve(|b| b).await;
    let mut attacker = Client::from(ATTACKER, server.addr).await;
    let burst = FailureLimit::default().per_client_quota().burst();
    for _ in 0..burst {
        assert_eq!(
            attacker.get(&random_key()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_throttled(&attacker.get(&random_key()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_failure_limit_every_bad_key_is_looked_up() {
    let server = serve(|b| b.without_failure_limit()).await;
    let mut attacker = Client::from(ATTACKER, server.addr).await;
    let burst = FailureLimit::default().per_client_quota().burst();
    for _ in 0..burst + 20 {
        assert_eq!(
            attacker.get(&random_key()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        server.lookups.load(Ordering::SeqCst),
        usize::try_from(burst + 20).unwrap()
    );
}

#[tokio::test]
async fn requests_without_an_address_share_one_bucket_and_client_addr_tells_clients_apart() {
    let harness = common::Harness::new();
    let (_, valid) = harness.key("production-backend", "read:all").await;
    let limit = FailureLimit::default()
        .per_client(per_client(3))
        .unattributed(per_client(3));
    let layer = harness.builder().failure_limit(limit).build();
    let svc: common::Svc = tower::util::BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(tower::service_fn(common::echo)),
    );
    let anonymous = |key: &str| common::with_key(common::get("/v1/records"), key);
    let from = |ip: [u8; 4], key: &str| {
        let mut request = anonymous(key);
        request
            .extensions_mut()
            .insert(keygate::ClientAddr(ip.into()));
        request
    };
    for _ in 0..3 {
        let answer = common::send(&svc, anonymous(&random_key())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    // Every request without an address shares the spent bucket, valid keys included.
    let answer = common::send(&svc, anonymous(&valid)).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    // A request that carries its client's address has its own.
    let answer = common::send(&svc, from([192, 0, 2, 7], &valid)).await;
    assert_eq!(answer.status, StatusCode::OK);
}
