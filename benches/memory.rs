//! Memory, allocations and clock reads: bytes held per tracked key in the limiter and the
//! store, whether idle limiter state is given back, and per request (success and every
//! rejection row, beside the bare stack and tower-http's reject) the heap allocations and the
//! clock reads, with the targets.
//!
//! `cargo bench --bench memory` prints Markdown tables (a counting global allocator and
//! counting clocks measure; nothing here is timed).

mod support;

use std::alloc::System;
use std::num::NonZeroU32;
use std::time::Duration;

use std::hint::black_box;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use keygate::clock::{Clock, ManualClock, SystemClock};
use keygate::key::{KeyId, KeyPrefix};
use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter, Quota};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::*;
use tower::{Layer, Service, ServiceBuilder, service_fn};
use tower_http::validate_request::ValidateRequestHeaderLayer;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn net_bytes(region: &Region<'_, System>) -> i64 {
    let c = region.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64 + c.bytes_reallocated as i64
}

fn id(n: usize) -> KeyId {
    KeyId::new(&format!("k{n:011}")).expect("valid id")
}

fn main() {
    const N: usize = 100_000;
    println!("| measure | value |");
    println!("|---|---|");

    // Limiter: state per tracked key, and eviction of idle keys.
    let clock = ManualClock::new();
    let limiter = MemoryRateLimiter::with_clock(clock.clone());
    let quota = Quota::per_second(NonZeroU32::new(10).expect("non-zero"));
    let ids: Vec<KeyId> = (0..N).map(id).collect();
    let region = Region::new(GLOBAL);
    for id in &ids {
        limiter.decide(id, &quota);
    }
    let held = net_bytes(&region);
    println!(
        "| limiter bytes per tracked key ({N} keys) | {:.1} |",
        held as f64 / N as f64
    );
    clock.advance(Duration::from_secs(2));
    let evicted = limiter.evict_idle();
    let after = net_bytes(&region);
    println!(
        "| limiter keys evicted once idle | {evicted} of {N} (tracked now: {}) |",
        limiter.tracked_keys()
    );
    println!("| limiter bytes still held after eviction | {after} |");

    // Store: bytes per key (record, name, scopes, map entry). Its clock counts reads, for the
    // per-request table below.
    let store_clock = CountingClock::new(SystemClock::new());
    let region = Region::new(GLOBAL);
    let keys = Keys::in_store(
        MemoryKeyStore::with_clock(KeyPrefix::default(), store_clock.clone()),
        N,
    );
    let per_key = net_bytes(&region) as f64 / (N + 68) as f64;
    println!("| memory store bytes per key ({N} keys) | {per_key:.0} |");

    per_request(keys, store_clock);
}

/// What one request costs on average: allocations (including building the request and the
/// response), bytes allocated, and clock reads (every clock the stack holds, all counted).
struct Cost {
    allocations: f64,
    bytes: f64,
    /// (precise wall, monotonic, coarse wall) reads; the coarse ones are not precise reads.
    reads: Option<(f64, f64, f64)>,
    /// Allocations a clone of the answer's header map makes: what a response rendered once
    /// and cloned would still cost.
    header_clone: u64,
}

const REQUESTS: u32 = 10_000;

/// Sends `REQUESTS` requests made by `send` (after as many to warm up) and checks that every
/// one was answered `expect`; `reads` sums the counts of the stack's clocks, if it has any.
fn measure<B>(
    mut send: impl FnMut() -> Response<B>,
    expect: StatusCode,
    reads: Option<&dyn Fn() -> (u64, u64, u64)>,
) -> Cost {
    for _ in 0..REQUESTS {
        assert_eq!(send().status(), expect);
    }
    let headers = send().headers().clone();
    let region = Region::new(GLOBAL);
    black_box(headers.clone());
    let header_clone = region.change().allocations as u64;
    let before = reads.map(|r| r());
    let region = Region::new(GLOBAL);
    let mut wrong = 0;
    for _ in 0..REQUESTS {
        wrong += u32::from(send().status() != expect);
    }
    let c = region.change();
    assert_eq!(wrong, 0, "answers other than {expect}");
    let n = f64::from(REQUESTS);
    Cost {
        allocations: c.allocations as f64 / n,
        bytes: c.bytes_allocated as f64 / n,
        reads: reads.zip(before).map(|(r, (w0, m0, c0))| {
            let (w1, m1, c1) = r();
            (
                (w1 - w0) as f64 / n,
                (m1 - m0) as f64 / n,
                (c1 - c0) as f64 / n,
            )
        }),
        header_clone,
    }
}

/// A stack to compare with: its cost for `make()`'s requests as they are, and with a client
/// address each (as the rows with the default failure limit are sent); prints both.
fn baseline<S, B>(
    (path, stack): (&str, &str),
    svc: &mut S,
    make: impl Fn() -> Request<Body>,
    clients: &mut ClientPool,
    expect: StatusCode,
) -> (Cost, Cost)
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let plain = measure(|| call(svc, make()), expect, None);
    row(path, stack, &plain, None);
    let tagged = measure(|| call(svc, clients.tagged(make())), expect, None);
    row(
        path,
        &format!("{stack}, with a client address"),
        &tagged,
        None,
    );
    (plain, tagged)
}

/// The layer over `keys` with its limiter on `limiter` and itself on `clock`; the defaults,
/// without the failure limit unless `failure_limit`.
fn counting_layer(
    keys: &Keys<CountingClock>,
    limiter: &CountingClock,
    clock: impl Clock,
    failure_limit: bool,
) -> ApiKeyLayer<MemoryKeyStore<CountingClock>, MemoryRateLimiter<CountingClock>> {
    let builder = keys
        .builder(MemoryRateLimiter::with_clock(limiter.clone()))
        .clock(clock);
    if failure_limit {
        builder.build()
    } else {
        builder.without_failure_limit().build()
    }
}

fn sum(reads: [(u64, u64, u64); 3]) -> (u64, u64, u64) {
    reads.iter().fold((0, 0, 0), |(w, m, c), (rw, rm, rc)| {
        (w + rw, m + rm, c + rc)
    })
}

fn ok(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn row(path: &str, stack: &str, cost: &Cost, baseline: Option<(&str, &Cost, f64)>) {
    let reads = cost.reads.map_or("–".to_owned(), |(w, m, c)| {
        format!(
            "{:.2} ({w:.2} wall + {m:.2} monotonic); coarse: {c:.2}",
            w + m
        )
    });
    let mut targets = Vec::new();
    if let Some((name, base, allowed)) = baseline {
        let beyond = cost.allocations - base.allocations;
        targets.push(format!(
            "allocations beyond {name}: {beyond:.2} (target ≤ {allowed}: {})",
            ok(beyond <= allowed + 0.005)
        ));
        if allowed == 0.0 {
            targets.push(format!(
                "cloning this answer's headers alone: {} allocations",
                cost.header_clone
            ));
        }
    }
    if let Some((w, m, _)) = cost.reads {
        targets.push(format!("precise clock reads ≤ 1: {}", ok(w + m <= 1.005)));
    }
    println!(
        "| {path} | {stack} | {:.2} | {:.0} | {reads} | {} |",
        cost.allocations,
        cost.bytes,
        targets.join("; ")
    );
}

/// Allocations and clock reads per request: the success path against the bare stack, each
/// rejection against tower-http's answer to a wrong token (whose allocations are the
/// response's and the request's: "the response itself").
fn per_request(keys: Keys<CountingClock>, store_clock: CountingClock) {
    println!();
    println!(
        "Per request, {REQUESTS} requests each after as many to warm up. Allocations include \
         building the request and the response; clock reads count the layer's, the limiter's \
         and the store's clocks. Rejections without the failure limit repeat one key from one \
         client; with the default limit each request comes from the next of {CLIENTS} client \
         addresses (the layer's clock running fast so that no failure budget is exceeded: see \
         benches/support)."
    );
    println!();
    println!("| path | stack | allocations | bytes | clock reads | targets |");
    println!("|---|---|---:|---:|---|---|");
    let auth = bearer(&keys.valid);
    let wrong = bearer(&keys.wrong_secret);
    let mut clients = ClientPool::new(CLIENTS);

    let mut bare = ServiceBuilder::new().service(service_fn(hello));
    let (bare_cost, _) = baseline(
        ("success", "bare"),
        &mut bare,
        || request(Some(&auth)),
        &mut clients,
        StatusCode::OK,
    );

    let limiter_clock = CountingClock::new(SystemClock::new());
    let layer_clock = CountingClock::new(SystemClock::new());
    let all_reads = || {
        sum([
            layer_clock.reads(),
            limiter_clock.reads(),
            store_clock.reads(),
        ])
    };
    let mut gated =
        counting_layer(&keys, &limiter_clock, layer_clock.clone(), true).layer(service_fn(hello));
    let success = measure(
        || call(&mut gated, request(Some(&auth))),
        StatusCode::OK,
        Some(&all_reads),
    );
    row(
        "success",
        "keygate, defaults",
        &success,
        Some(("bare", &bare_cost, 3.0)),
    );

    #[allow(deprecated)]
    let mut peer = ServiceBuilder::new()
        .layer(ValidateRequestHeaderLayer::bearer(&keys.valid))
        .service(service_fn(hello));
    let (peer_reject, peer_tagged) = baseline(
        ("wrong token", "tower-http `bearer`"),
        &mut peer,
        || request(Some(&wrong)),
        &mut clients,
        StatusCode::UNAUTHORIZED,
    );

    let mut unlimited_failures =
        counting_layer(&keys, &limiter_clock, layer_clock.clone(), false).layer(service_fn(hello));
    keys.spend_limited(&mut unlimited_failures);
    let fast_clock = CountingClock::new(FastFailureClock::new());
    let flood_reads = || {
        sum([
            fast_clock.reads(),
            limiter_clock.reads(),
            store_clock.reads(),
        ])
    };
    let mut defaults =
        counting_layer(&keys, &limiter_clock, fast_clock.clone(), true).layer(service_fn(hello));
    keys.spend_limited(&mut defaults);
    for r in keys.reject_rows() {
        let path = r.name.replace('_', " ");
        let cost = measure(
            || call(&mut unlimited_failures, r.request()),
            r.status,
            Some(&all_reads),
        );
        row(
            &path,
            "keygate, no failure limit",
            &cost,
            Some(("tower-http's reject", &peer_reject, 0.0)),
        );
        let cost = measure(
            || call(&mut defaults, clients.tagged(r.request())),
            r.status,
            Some(&flood_reads),
        );
        row(
            &path,
            "keygate, defaults, many clients",
            &cost,
            Some(("tower-http's reject", &peer_tagged, 0.0)),
        );
    }
}
