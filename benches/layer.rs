//! The layer against the physical floor and against its peers, in one process.
//!
//! `cargo bench --bench layer`; `benches/run.sh` turns the results into the README's table.
//!
//! - `floor`: the pieces no API-key check can avoid (SHA-256, a digest compare, a map hit, one
//!   GCRA update);
//! - `success`: one authenticated request through a tower stack: bare, keygate with its
//!   defaults (failure limit on), keygate reading the key from `X-API-Key` instead, keygate
//!   with requests carrying a client address, for a key without and with an IP allowlist, and the
//!   peers (tower-http's static bearer check alone, and with tower-governor keyed by the token);
//! - `reject`: each error-table row, one client repeating it, on a layer without the failure
//!   limit (with it, the loop would measure the limit's 429); and `tower_http_wrong_token`,
//!   tower-http's answer to a wrong token, the yardstick for rejections;
//! - `reject_default_limit`: the same rows on the default layer, the failure limit on, each
//!   request from the next of [`CLIENTS`] client addresses and the failure limit's clock
//!   running fast (see [`FastFailureClock`]), so no client and no global budget is ever
//!   exceeded; `tower_http_wrong_token` and `bare_with_client_addr` are tower-http and the
//!   bare stack sent the same tagged requests;
//! - `store_size`: a lookup among 1 to 1,000,000 keys;
//! - `threads`: the success path from one and from two threads, on one key and on many.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::body::Body;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderName, HeaderValue, Request};
use keygate::key::KeyDigest;
use keygate::{
    ApiKeyLayer, ClientAddr, KeyLocation, KeyManager, KeyStore, MemoryKeyStore, MemoryRateLimiter,
    NewKey,
};
use sha2::{Digest, Sha256};
use support::*;
use tower::{ServiceBuilder, service_fn};
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_http::validate_request::ValidateRequestHeaderLayer;

/// tower-governor keyed by the bearer token, as a user of the peers would write it.
#[derive(Clone)]
struct TokenKey;

impl KeyExtractor for TokenKey {
    type Key = String;
    fn extract<T>(&self, req: &Request<T>) -> Result<String, tower_governor::GovernorError> {
        req.headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or(tower_governor::GovernorError::UnableToExtractKey)
    }
}

fn floor(c: &mut Criterion) {
    let keys = Keys::new(100_000);
    let mut g = c.benchmark_group("floor");
    let secret = &keys.valid.as_bytes()[keys.valid.len() - 49..keys.valid.len() - 6];
    g.bench_function("sha256_secret_part_43b", |b| {
        b.iter(|| KeyDigest::of_secret(black_box(secret)))
    });
    g.bench_function("sha256_whole_key", |b| {
        b.iter(|| Sha256::digest(black_box(keys.valid.as_bytes())))
    });
    let a = KeyDigest::of_secret(secret);
    let z = KeyDigest::of_secret(b"other");
    g.bench_function("digest_ct_eq", |b| {
        b.iter(|| black_box(&a).ct_eq(black_box(&z)))
    });
    g.bench_function("subtle_ct_eq_bytewise", |b| {
        use subtle::ConstantTimeEq;
        b.iter(|| bool::from(black_box(a.as_bytes()).ct_eq(black_box(z.as_bytes()))))
    });
    g.bench_function("store_hit_among_100k", |b| {
        b.iter(|| now(keys.store.get(black_box(&keys.valid_id))))
    });
    let limiter = MemoryRateLimiter::new();
    let quota = unlimited();
    g.bench_function("gcra_update", |b| {
        b.iter(|| limiter.decide(black_box(&keys.valid_id), &quota))
    });
    g.finish();
}

fn success(c: &mut Criterion) {
    let keys = Keys::new(100_000);
    let auth = bearer(&keys.valid);
    let mut g = c.benchmark_group("success");

    let mut bare = ServiceBuilder::new().service(service_fn(hello));
    g.bench_function("bare", |b| b.iter(|| call(&mut bare, request(Some(&auth)))));

    let mut keygate = ServiceBuilder::new()
        .layer(keys.layer())
        .service(service_fn(hello));
    g.bench_function("keygate", |b| {
        b.iter(|| call(&mut keygate, request(Some(&auth))))
    });

    // The defaults but for the key's location: the whole value of `X-API-Key`.
    let x_api_key = HeaderName::from_static("x-api-key");
    let key = HeaderValue::from_str(&keys.valid).expect("keys are header-safe");
    let in_header = keys
        .builder(MemoryRateLimiter::new())
        .key_location(KeyLocation::header(x_api_key.clone()))
        .build();
    let mut keygate_header = ServiceBuilder::new()
        .layer(in_header)
        .service(service_fn(hello));
    let in_x_api_key = || {
        let mut req = request(None);
        req.headers_mut().insert(x_api_key.clone(), key.clone());
        req
    };
    let answered = call(&mut keygate_header, in_x_api_key()).status();
    assert_eq!(
        answered,
        http::StatusCode::OK,
        "keygate_x_api_key must succeed"
    );
    g.bench_function("keygate_x_api_key", |b| {
        b.iter(|| call(&mut keygate_header, in_x_api_key()))
    });

    // The same work without rate-limit response headers, which the peers do not send.
    let quiet = keys
        .builder(MemoryRateLimiter::new())
        .rate_limit_headers(keygate::RateLimitHeaders::None)
        .build();
    let mut keygate_quiet = ServiceBuilder::new()
        .layer(quiet)
        .service(service_fn(hello));
    g.bench_function("keygate_without_headers", |b| {
        b.iter(|| call(&mut keygate_quiet, request(Some(&auth))))
    });

    // The IP allowlist: the same key's requests tagged with a client address, then a key of
    // the same scopes restricted to the networks that address is in (the check's whole cost
    // is the difference; a key without an allowlist never reads the address).
    let client = ClientAddr("192.0.2.7".parse().expect("an address"));
    let tagged = |auth: &HeaderValue| {
        let mut req = request(Some(auth));
        req.extensions_mut().insert(client);
        req
    };
    let mut keygate_tagged = ServiceBuilder::new()
        .layer(keys.layer())
        .service(service_fn(hello));
    g.bench_function("keygate_with_client_addr", |b| {
        b.iter(|| call(&mut keygate_tagged, tagged(&auth)))
    });
    let restricted = bearer(&now(async {
        let mut new = NewKey::new(
            "restricted".parse().expect("a name"),
            "read:all,write:all".parse().expect("scopes"),
        )
        .quota(unlimited());
        new.allowed_ips = "10.0.0.0/8, 2001:db8::/32, 192.0.2.0/24"
            .parse()
            .expect("networks");
        let created = keys.store.create(new).await.expect("a key");
        created.plaintext.expose_secret().to_owned()
    }));
    let mut keygate_allowlisted = ServiceBuilder::new()
        .layer(keys.layer())
        .service(service_fn(hello));
    let answered = call(&mut keygate_allowlisted, tagged(&restricted)).status();
    assert_eq!(
        answered,
        http::StatusCode::OK,
        "keygate_allowlisted must succeed"
    );
    g.bench_function("keygate_allowlisted", |b| {
        b.iter(|| call(&mut keygate_allowlisted, tagged(&restricted)))
    });

    // tower-http deprecates `bearer` as "too basic to be useful in real applications": it is
    // the peer precisely because it is the least work a bearer check can do.
    #[allow(deprecated)]
    let mut bearer_only = ServiceBuilder::new()
        .layer(ValidateRequestHeaderLayer::bearer(&keys.valid))
        .service(service_fn(hello));
    g.bench_function("tower_http_bearer", |b| {
        b.iter(|| call(&mut bearer_only, request(Some(&auth))))
    });

    let config = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(u32::MAX)
        .key_extractor(TokenKey)
        .finish()
        .expect("valid governor config");
    #[allow(deprecated)]
    let mut bearer_governor = ServiceBuilder::new()
        .layer(ValidateRequestHeaderLayer::bearer(&keys.valid))
        .layer(GovernorLayer::<_, _, Body>::new(config))
        .service(service_fn(hello));
    g.bench_function("tower_http_bearer_governor", |b| {
        b.iter(|| call(&mut bearer_governor, request(Some(&auth))))
    });
    g.finish();
}

/// Every rejection row through `layer`, each request passed through `prepare` first, in the
/// benchmark group `name` (returned, for the group's yardstick).
fn reject_rows<'c>(
    c: &'c mut Criterion,
    name: &str,
    keys: &Keys,
    layer: ApiKeyLayer<MemoryKeyStore, MemoryRateLimiter>,
    mut prepare: impl FnMut(Request<Body>) -> Request<Body>,
) -> BenchmarkGroup<'c, WallTime> {
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(hello));
    keys.spend_limited(&mut svc);
    let mut g = c.benchmark_group(name);
    for row in keys.reject_rows() {
        row.check(&mut svc, &mut prepare);
        g.bench_function(row.name, |b| {
            b.iter(|| call(&mut svc, prepare(row.request())))
        });
        // Still the row's own answer after millions of requests: no limit ever refused it.
        row.check(&mut svc, &mut prepare);
    }
    g
}

/// `tower_http_wrong_token` in `g`: tower-http's `bearer` check answering a well-formed key
/// that is not its token, each request passed through `prepare` first. The yardstick of the
/// rejection rows.
fn tower_http_wrong_token(
    g: &mut BenchmarkGroup<'_, WallTime>,
    keys: &Keys,
    mut prepare: impl FnMut(Request<Body>) -> Request<Body>,
) {
    #[allow(deprecated)]
    let mut bearer_only = ServiceBuilder::new()
        .layer(ValidateRequestHeaderLayer::bearer(&keys.valid))
        .service(service_fn(hello));
    let wrong = bearer(&keys.wrong_secret);
    let status = call(&mut bearer_only, prepare(request(Some(&wrong)))).status();
    assert_eq!(status, http::StatusCode::UNAUTHORIZED);
    g.bench_function("tower_http_wrong_token", |b| {
        b.iter(|| call(&mut bearer_only, prepare(request(Some(&wrong)))))
    });
}

fn reject(c: &mut Criterion) {
    let keys = Keys::new(100_000);
    let layer = keys.layer_without_failure_limit();
    let mut g = reject_rows(c, "reject", &keys, layer, |req| req);
    tower_http_wrong_token(&mut g, &keys, |req| req);
    g.finish();
}

fn reject_default_limit(c: &mut Criterion) {
    let keys = Keys::new(100_000);
    let layer = keys.layer_with_fast_failure_clock();
    let mut clients = ClientPool::new(CLIENTS);
    let name = "reject_default_limit";
    let mut g = reject_rows(c, name, &keys, layer, |req| clients.tagged(req));
    // The same tagged requests through the bare stack and through tower-http.
    let mut clients = ClientPool::new(CLIENTS);
    tower_http_wrong_token(&mut g, &keys, |req| clients.tagged(req));
    let auth = bearer(&keys.valid);
    let mut bare = ServiceBuilder::new().service(service_fn(hello));
    g.bench_function("bare_with_client_addr", |b| {
        b.iter(|| call(&mut bare, clients.tagged(request(Some(&auth)))))
    });
    g.finish();
}

fn store_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_size");
    for size in [1_usize, 1_000, 100_000, 1_000_000] {
        let keys = Keys::new(size - 1);
        g.bench_with_input(BenchmarkId::from_parameter(size), &keys, |b, keys| {
            b.iter(|| now(keys.store.get(black_box(&keys.valid_id))))
        });
    }
    g.finish();
}

/// Wall time per request when `threads` threads each make `iters` requests at once.
fn threaded(keys: &Keys, threads: usize, same_key: bool, iters: u64) -> Duration {
    let layer = keys.layer();
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let layer = layer.clone();
            let key = if same_key {
                &keys.valid
            } else {
                &keys.others[t]
            };
            s.spawn(move || {
                let auth = bearer(key);
                let mut svc = ServiceBuilder::new()
                    .layer(layer)
                    .service(service_fn(hello));
                for _ in 0..iters {
                    black_box(call(&mut svc, request(Some(&auth))));
                }
            });
        }
    });
    start.elapsed() / threads as u32
}

fn threads(c: &mut Criterion) {
    let keys = Keys::new(100_000);
    let mut g = c.benchmark_group("threads");
    for (name, threads, same) in [
        ("1_thread", 1, true),
        ("2_threads_same_key", 2, true),
        ("2_threads_different_keys", 2, false),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| threaded(&keys, threads, same, iters))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = floor, success, reject, reject_default_limit, store_size, threads
}
criterion_main!(benches);
