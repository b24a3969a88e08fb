//! The hyper example over loopback: keygate in front of a plain `service_fn`, no framework.

#[path = "../examples/hyper.rs"]
#[allow(dead_code)]
mod hyper_example;
mod wire;

use std::net::SocketAddr;

use http::StatusCode;
use hyper_example::{DemoKeys, demo_keys};

async fn start() -> (SocketAddr, DemoKeys) {
    let keys = demo_keys::create().await;
    let (listener, addr) = wire::free_port().await;
    tokio::spawn(hyper_example::serve(listener, &keys));
    (addr, keys)
}

fn key(keys: &DemoKeys, name: &str) -> String {
    demo_keys::plaintext(&keys.keys, name)
}

#[tokio::test]
async fn a_valid_key_reaches_the_service_which_sees_its_name() {
    let (addr, keys) = start().await;
    let dev = key(&keys, "local-dev");
    let response = wire::send(addr, wire::request("GET", "/v1/records", Some(&dev))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"GET /v1/records as local-dev\n");
    assert!(response.headers().contains_key("ratelimit"));
}

#[tokio::test]
async fn a_request_without_a_key_gets_the_401_problem() {
    let (addr, _keys) = start().await;
    let response = wire::send(addr, wire::request("GET", "/v1/records", None)).await;
    wire::assert_missing_key_problem(&response);
}

#[tokio::test]
async fn a_read_only_key_may_not_post() {
    let (addr, keys) = start().await;
    let dev = key(&keys, "local-dev");
    let response = wire::send(addr, wire::request("POST", "/v1/records", Some(&dev))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(wire::problem_code(&response), "insufficient_scope");
}

#[tokio::test]
async fn a_key_over_its_quota_gets_429_with_retry_after() {
    let (addr, keys) = start().await;
    let dev = key(&keys, "local-dev");
    // local-dev: a burst of 5, then 1 per second. A slow machine may earn one more on the way.
    let mut refused = None;
    for _ in 0..10 {
        let response = wire::send(addr, wire::request("GET", "/v1/records", Some(&dev))).await;
        if response.status() != StatusCode::OK {
            refused = Some(response);
            break;
        }
    }
    let response = refused.expect("local-dev is refused within 10 requests");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(wire::header(&response, "retry-after"), "1");
}
