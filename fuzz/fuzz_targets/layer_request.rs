//! Arbitrary requests through the whole layer: never a panic, never a 500, and a pass only
//! for the one valid key.
#![no_main]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use keygate::{ApiKeyLayer, KeyManager, MemoryKeyStore, MemoryRateLimiter, NewKey};
use libfuzzer_sys::fuzz_target;
use tower::{ServiceExt, service_fn};

fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

struct Fixture {
    layer: ApiKeyLayer<MemoryKeyStore, MemoryRateLimiter>,
    valid: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let store = MemoryKeyStore::new();
        let created = now(store.create(NewKey::new(
            "fuzz".parse().unwrap(),
            "read:all".parse().unwrap(),
        )))
        .unwrap();
        Fixture {
            layer: ApiKeyLayer::new(store, MemoryRateLimiter::new()),
            valid: created.plaintext.expose_secret().to_owned(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&selector, rest)) = data.split_first() else { return };
    let method = [Method::GET, Method::POST, Method::HEAD, Method::DELETE][usize::from(selector & 3)].clone();
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let path = parts.next().unwrap_or_default();
    let mut req = Request::new(());
    *req.method_mut() = method;
    if let Ok(uri) = http::Uri::try_from(path) {
        *req.uri_mut() = uri;
    }
    for value in parts {
        // A value of `@` stands for the valid key, so the fuzzer can reach the pass path.
        let bytes = if value == b"@" { format!("Bearer {}", f.valid).into_bytes() } else { value.to_vec() };
        if let Ok(v) = HeaderValue::from_bytes(&bytes) {
            req.headers_mut().append(http::header::AUTHORIZATION, v);
        }
    }
    if selector & 4 != 0 {
        req.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    }
    let passes = req.headers().get_all(http::header::AUTHORIZATION).iter().count() == 1
        && req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().len() > 7 && v.trim()[..6].eq_ignore_ascii_case("bearer") && v.trim()[6..].trim_start() == f.valid);
    let svc = tower::ServiceBuilder::new().layer(f.layer.clone()).service(service_fn(
        |_req: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) },
    ));
    let response = now(async { svc.oneshot(req).await }).unwrap();
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
    if response.headers().get("grpc-status").is_none() && status == StatusCode::OK {
        assert!(passes, "a request without the valid key passed");
    }
});
