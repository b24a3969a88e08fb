//! A soak run of the layer: two threads of mixed traffic for a while, checking that every
//! answer is the one its request calls for, that limiter memory stays bounded while keys come
//! and go, and that throughput does not decay.
//!
//! ```text
//! cargo run --release --example soak -- --secs 180     # scripts/soak.sh
//! cargo run --example soak -- --secs 5                  # the short run CI does
//! ```
//!
//! Exits 1 (with the reason) when any check fails.

use keygate::Workspace;
use std::convert::Infallible;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response, StatusCode};
use keygate::key::KeyPrefix;
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey, Quota, Rejection,
};
use tower::{Service, ServiceBuilder, service_fn};

/// Most limiter entries the run may see: a key's state lives 1 ms after its request (quota
/// 1000/s), so only the last moment's keys are live; idle ones are swept before a shard grows.
const TRACKED_BOUND: usize = 8_192;

fn ready_now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Valid,
    Unknown,
    Malformed,
    Revoked,
    Hammered,
}

fn expected(class: Class, status: StatusCode, code: Option<&str>) -> bool {
    match class {
        Class::Valid | Class::Hammered => status == StatusCode::OK || code == Some("rate_limited"),
        Class::Unknown => code == Some("invalid_api_key"),
        Class::Malformed => code == Some("malformed_api_key"),
        Class::Revoked => code == Some("revoked_api_key"),
    }
}

fn main() {
    // --keys: distinct keys the traffic walks through, far more than the limiter may hold.
    let (mut secs, mut keys) = (60_u64, 200_000_usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--secs", Some(n)) => secs = n,
            ("--keys", Some(n)) if n > 0 => keys = n as usize,
            _ => {
                eprintln!("usage: soak [--secs N] [--keys N]   (whole numbers)");
                std::process::exit(2);
            }
        }
    }

    let store = MemoryKeyStore::new();
    let prefix = KeyPrefix::default();
    let small = Quota::per_second(NonZeroU32::new(1000).unwrap());
    let mut valid = Vec::with_capacity(keys);
    ready_now(async {
        for i in 0..keys {
            let created = store
                .create(
                    NewKey::new(
                        format!("key-{i}").parse().unwrap(),
                        "read:all".parse().unwrap(),
                    )
                    .quota(small),
                )
                .await
                .unwrap();
            valid.push(
                HeaderValue::from_str(&format!("Bearer {}", created.plaintext.expose_secret()))
                    .unwrap(),
            );
        }
    });
    let revoked_key = ready_now(store.create(NewKey::new(
        "revoked".parse().unwrap(),
        "read:all".parse().unwrap(),
    )))
    .unwrap();
    ready_now(store.revoke(&Workspace::default(), &revoked_key.info.id)).unwrap();
    let revoked =
        HeaderValue::from_str(&format!("Bearer {}", revoked_key.plaintext.expose_secret()))
            .unwrap();
    let unknown: Vec<HeaderValue> = (0..64)
        .map(|_| {
            HeaderValue::from_str(&format!(
                "Bearer {}",
                keygate::key::generate(&prefix)
                    .unwrap()
                    .plaintext
                    .expose_secret()
            ))
            .unwrap()
        })
        .collect();
    let malformed = HeaderValue::from_static("Bearer kg_not-a-key");

    let limiter = MemoryRateLimiter::new();
    // Millions of bad keys from one client, each checked for its own row of the table: the
    // failure limit (tests/failed_auth.rs) would answer most of them 429 instead, so it is off.
    let layer = ApiKeyLayer::builder(store.clone(), limiter.clone())
        .without_failure_limit()
        .build();

    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let unexpected = AtomicU64::new(0);
    let mut windows: Vec<u64> = Vec::new();
    let mut peak_tracked = 0;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2_u64 {
            let layer = layer.clone();
            let (valid, unknown, revoked, malformed) = (&valid, &unknown, &revoked, &malformed);
            let (stop, done, unexpected) = (&stop, &done, &unexpected);
            s.spawn(move || {
                let mut svc = ServiceBuilder::new().layer(layer).service(service_fn(
                    |_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) },
                ));
                let mut state = 0x2545_F491_4F6C_DD1D_u64 ^ (t + 1);
                let mut cursor = (t as usize) * keys / 2;
                while !stop.load(Ordering::Relaxed) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let (class, auth) = match state % 10 {
                        0..=4 => {
                            // Walk through all keys so that limiter state keeps coming and going.
                            cursor = (cursor + 1) % keys;
                            (Class::Valid, &valid[cursor])
                        }
                        5 => (
                            Class::Unknown,
                            &unknown[(state >> 8) as usize % unknown.len()],
                        ),
                        6 => (Class::Malformed, malformed),
                        7 => (Class::Revoked, revoked),
                        _ => (Class::Hammered, &valid[0]),
                    };
                    let mut req = Request::new(());
                    req.headers_mut()
                        .insert(http::header::AUTHORIZATION, auth.clone());
                    let mut cx = Context::from_waker(Waker::noop());
                    let _ = svc.poll_ready(&mut cx);
                    let Ok(response) = ready_now(svc.call(req));
                    let code = response
                        .extensions()
                        .get::<Rejection>()
                        .map(|r| r.code().as_str());
                    if !expected(class, response.status(), code)
                        && unexpected.fetch_add(1, Ordering::Relaxed) < 5
                    {
                        eprintln!(
                            "unexpected answer for {class:?}: {} {code:?}",
                            response.status()
                        );
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut last = 0;
        for _ in 0..secs {
            std::thread::sleep(Duration::from_secs(1));
            let now = done.load(Ordering::Relaxed);
            windows.push(now - last);
            last = now;
            peak_tracked = peak_tracked.max(limiter.tracked_keys());
        }
        stop.store(true, Ordering::Relaxed);
    });

    let total = done.load(Ordering::Relaxed);
    let bad = unexpected.load(Ordering::Relaxed);
    let n = windows.len().clamp(1, 3);
    let first: f64 = windows.iter().skip(1).take(n).sum::<u64>() as f64 / n as f64;
    let last: f64 = windows.iter().rev().take(n).sum::<u64>() as f64 / n as f64;
    let ratio = if first > 0.0 { last / first } else { 0.0 };
    let tracked_bound = TRACKED_BOUND;
    println!(
        "requests: {total} in {:.1} s ({:.0}/s)",
        start.elapsed().as_secs_f64(),
        total as f64 / start.elapsed().as_secs_f64()
    );
    println!("unexpected answers: {bad}");
    println!(
        "limiter keys tracked: peak {peak_tracked}, now {} (bound {tracked_bound})",
        limiter.tracked_keys()
    );
    println!("throughput first vs last windows: {first:.0}/s vs {last:.0}/s (ratio {ratio:.2})");
    let mut failed = Vec::new();
    if bad > 0 {
        failed.push(format!("{bad} answers outside the error table"));
    }
    if peak_tracked > tracked_bound {
        failed.push(format!(
            "limiter tracked {peak_tracked} keys, bound {tracked_bound}"
        ));
    }
    if secs >= 4 && ratio < 0.7 {
        failed.push(format!("throughput decayed to {ratio:.2} of its start"));
    }
    let checks = 3;
    println!(
        "soak: {} passed, {} failed",
        checks - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        for f in failed {
            eprintln!("soak failed: {f}");
        }
        std::process::exit(1);
    }
}
