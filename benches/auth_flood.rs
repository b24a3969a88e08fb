//! A valid-key client while another client floods the server with random well-formed keys:
//! the whole stack on loopback (axum, the layer, `SqliteKeyStore` on a temporary file), with
//! and without the failure limit.
//!
//! ```text
//! cargo bench --features sqlite,axum --bench auth_flood
//! ```
//!
//! For each setting: a quiet phase (the valid-key client alone, one keep-alive connection,
//! one request after another), then a flood phase (the same client while four connections
//! from another loopback address send 20 000 random keys a second in all). Prints the
//! valid client's p50/p99 latency and throughput in each phase, and the flood/quiet ratios:
//! the goal is a valid client at most 2× slower under the flood. A third run floods with keys
//! whose checksum fails (refused before any hash or lookup): the floor of what any flood
//! answered in the layer costs the valid client, since the flooder, the server and the valid
//! client share the same cores.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use keygate::key::{KeyId, KeyPrefix};
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{ApiKeyLayer, KeyManager, MemoryRateLimiter, NewKey};
use tokio::net::{TcpListener, TcpSocket};

const PHASE: Duration = Duration::from_secs(3);
const FLOOD_CONNECTIONS: usize = 4;
/// Bad keys per second, all flooding connections together: the same load for both settings
/// (a flood answered faster would otherwise just send more).
const FLOOD_RATE: f64 = 20_000.0;
const USER: [u8; 4] = [127, 0, 0, 3];
const ATTACKER: [u8; 4] = [127, 0, 0, 2];

async fn connect(source: [u8; 4], server: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind a loopback source address");
    let stream = socket.connect(server).await.expect("connect");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

async fn send(sender: &mut SendRequest<Empty<Bytes>>, key: &str) -> StatusCode {
    let request = Request::get("/v1/records")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {key}"))
        .body(Empty::new())
        .expect("request");
    sender.ready().await.expect("ready");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status();
    response.into_body().collect().await.expect("body");
    status
}

/// What the valid-key client saw in one phase.
struct Phase {
    p50: Duration,
    p99: Duration,
    per_second: f64,
    not_ok: usize,
}

async fn valid_client(server: SocketAddr, key: &str) -> Phase {
    let mut sender = connect(USER, server).await;
    let mut latencies = Vec::new();
    let mut not_ok = 0;
    let start = Instant::now();
    while start.elapsed() < PHASE {
        let sent = Instant::now();
        if send(&mut sender, key).await != StatusCode::OK {
            not_ok += 1;
        }
        latencies.push(sent.elapsed());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Phase {
        p50: at(0.50),
        p99: at(0.99),
        per_second: latencies.len() as f64 / elapsed,
        not_ok,
    }
}

/// Serves the layer over a fresh SQLite store; returns the address and a valid key.
async fn server(limited: bool, dir: &tempfile::TempDir) -> (SocketAddr, String) {
    let name = format!("{}.db", KeyId::random().expect("id"));
    let store = SqliteKeyStore::open(dir.path().join(name))
        .await
        .expect("open");
    let created = store
        .create(NewKey::new(
            "production-backend".parse().expect("name"),
            "read:all".parse().expect("scope"),
        ))
        .await
        .expect("create");
    let builder = ApiKeyLayer::builder(store, MemoryRateLimiter::new());
    let layer = if limited {
        builder.build()
    } else {
        builder.without_failure_limit().build()
    };
    let app = axum::Router::new()
        .route("/v1/records", axum::routing::get(|| async { "records" }))
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    (addr, created.plaintext.expose_secret().to_owned())
}

fn line(label: &str, phase: &Phase) {
    println!(
        "  {label:<6} p50 {:>8.1} µs  p99 {:>8.1} µs  {:>8.0} req/s  ({} not 200)",
        phase.p50.as_secs_f64() * 1e6,
        phase.p99.as_secs_f64() * 1e6,
        phase.per_second,
        phase.not_ok
    );
}

async fn run(label: &str, limited: bool, keys: Arc<Vec<String>>, dir: &tempfile::TempDir) {
    let (addr, key) = server(limited, dir).await;
    let quiet = valid_client(addr, &key).await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let mut flooders = Vec::new();
    for n in 0..FLOOD_CONNECTIONS {
        let (stop, sent, throttled, keys) = (
            Arc::clone(&stop),
            Arc::clone(&sent),
            Arc::clone(&throttled),
            Arc::clone(&keys),
        );
        flooders.push(tokio::spawn(async move {
            let mut sender = connect(ATTACKER, addr).await;
            let mut i = n * 7919;
            let per_connection = FLOOD_RATE / FLOOD_CONNECTIONS as f64;
            let start = Instant::now();
            let mut own = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                if own as f64 > start.elapsed().as_secs_f64() * per_connection {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                own += 1;
                let status = send(&mut sender, &keys[i % keys.len()]).await;
                i += 1;
                sent.fetch_add(1, Ordering::Relaxed);
                if status == StatusCode::TOO_MANY_REQUESTS {
                    throttled.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = sent.load(Ordering::Relaxed);
    let flood = valid_client(addr, &key).await;
    let flood_rate = (sent.load(Ordering::Relaxed) - before) as f64 / PHASE.as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let _ = flooder.await;
    }

    println!("{label}:");
    line("quiet", &quiet);
    line("flood", &flood);
    println!(
        "  flood: {flood_rate:.0} bad keys/s sent, {} answered 429",
        throttled.load(Ordering::Relaxed)
    );
    println!(
        "  flood/quiet: p50 ×{:.2}  p99 ×{:.2}  throughput ×{:.2}",
        flood.p50.as_secs_f64() / quiet.p50.as_secs_f64(),
        flood.p99.as_secs_f64() / quiet.p99.as_secs_f64(),
        flood.per_second / quiet.per_second
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let prefix = KeyPrefix::default();
    let keys: Arc<Vec<String>> = Arc::new(
        (0..20_000)
            .map(|_| {
                keygate::key::generate(&prefix)
                    .expect("key")
                    .plaintext
                    .expose_secret()
                    .to_owned()
            })
            .collect(),
    );
    // The same flood of keys whose checksum fails: answered 401 before any hash or lookup,
    // as cheap as a throttled answer. What it costs the valid client is the floor.
    let malformed: Arc<Vec<String>> = Arc::new(
        keys.iter()
            .map(|key| {
                let mut key = key.clone();
                let last = key.pop().expect("non-empty");
                key.push(if last == 'A' { 'B' } else { 'A' });
                key
            })
            .collect(),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        run("failure limit off", false, Arc::clone(&keys), &dir).await;
        run("failure limit on (default)", true, keys, &dir).await;
        run("floor: flood of malformed keys", true, malformed, &dir).await;
    });
}
