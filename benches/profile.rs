//! Runs one request path in a loop, for a profiler:
//!
//! ```text
//! cargo bench --bench profile --no-run
//! perf record -g target/release/deps/profile-* success 2000000
//! valgrind --tool=callgrind target/release/deps/profile-* success 100000
//! ```
//!
//! Paths: `success` (default settings, failure limit on), `bare`, and one per rejection row
//! (`missing`, `malformed`, `unknown`, `wrong`, `revoked`, `scope`, `limited`). The setup
//! (a store of 1,000 keys) is small beside the loop, so the profile is the path's own.

mod support;

use std::hint::black_box;

use support::{Keys, bearer, call, hello, request};
use tower::{ServiceBuilder, service_fn};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let path = args.next().unwrap_or_else(|| "success".into());
    let iterations: u64 = args
        .next()
        .map_or(1_000_000, |n| n.parse().expect("a count"));
    let keys = Keys::new(1_000);
    if path == "bare" {
        let mut svc = ServiceBuilder::new().service(service_fn(hello));
        let auth = bearer(&keys.valid);
        for _ in 0..iterations {
            black_box(call(&mut svc, request(Some(&auth))));
        }
        return;
    }
    // The defaults, failure limit included, except a quota no loop exhausts and a failure-limit
    // clock running fast: on the system clock a loop of failures would spend the failure
    // budget of requests without an address (1000, then 200 a second) and profile its 429.
    let layer = keys.layer_with_fast_failure_clock();
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(hello));
    let (method, key) = match path.as_str() {
        "success" => ("GET", Some(keys.valid.as_str())),
        "missing" => ("GET", None),
        "malformed" => ("GET", Some(keys.malformed.as_str())),
        "unknown" => ("GET", Some(keys.unknown.as_str())),
        "wrong" => ("GET", Some(keys.wrong_secret.as_str())),
        "revoked" => ("GET", Some(keys.revoked.as_str())),
        "scope" => ("POST", Some(keys.reader.as_str())),
        "limited" => ("GET", Some(keys.limited.as_str())),
        other => panic!("unknown path {other:?}"),
    };
    let auth = key.map(bearer);
    if std::env::var_os("KEYGATE_PROFILE_SHOW").is_some() {
        let mut req = request(auth.as_ref());
        *req.method_mut() = method.parse().unwrap();
        let response = call(&mut svc, req);
        eprintln!("{path}: {} {:?}", response.status(), response.headers());
    }
    for _ in 0..iterations {
        let mut req = request(auth.as_ref());
        *req.method_mut() = method.parse().unwrap();
        black_box(call(&mut svc, req));
    }
}
