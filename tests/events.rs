//! The `on_decision` hook, over real sockets: one event per decided request, for every row of
//! the error table and for successes, with the key's identity only when the caller proved it,
//! never the secret; a panicking hook changes nothing.

mod common;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::{Route, get};
use bytes::Bytes;
use common::{DownLimiter, DownStore, Harness, nz};
use http::{Request, Response};
use keygate::clock::Clock;
use keygate::events::{DecisionEvent, LimitAnswer, Outcome};
use keygate::key::{KeyPrefix, parse};
use keygate::plan::{Limit, Period, Plan};
use keygate::{
    ApiKeyLayer, ErrorCode, FailurePolicy, KeyManager, MemoryKeyStore, NewKey, PlanManager, Quota,
};

/// What a test keeps of an event: owned copies of its fields, and its `Debug` text.
#[derive(Debug, Clone)]
struct Seen {
    outcome: Outcome,
    key_id: Option<String>,
    key_name: Option<String>,
    workspace: Option<String>,
    required_scope: Option<String>,
    limit: Option<String>,
    failed_open: bool,
    cost: Option<u32>,
    elapsed: Duration,
    debug: String,
}

impl Seen {
    fn of(event: &DecisionEvent<'_>) -> Self {
        Self {
            outcome: event.outcome(),
            key_id: event.key_id().map(|id| id.to_string()),
            key_name: event.key_name().map(|n| n.as_str().to_owned()),
            workspace: event.workspace().map(|w| w.as_str().to_owned()),
            required_scope: event.required_scope().map(|s| s.to_string()),
            limit: event.limit().map(|limit| match limit {
                LimitAnswer::Rate { limit, remaining } => format!("rate {remaining}/{limit}"),
                LimitAnswer::Plan {
                    plan,
                    limit,
                    remaining,
                } => format!(
                    "plan {} limit {} remaining {remaining}",
                    plan.name(),
                    limit.name()
                ),
                _ => "other".to_owned(),
            }),
            failed_open: event.failed_open(),
            cost: event.cost(),
            elapsed: event.elapsed(),
            debug: format!("{event:?}"),
        }
    }
}

type Events = Arc<Mutex<Vec<Seen>>>;

/// A hook that keeps every event.
fn recorder() -> (Events, impl Fn(&DecisionEvent<'_>) + Send + Sync + 'static) {
    let events = Events::default();
    let kept = Arc::clone(&events);
    (events, move |event: &DecisionEvent<'_>| {
        kept.lock().unwrap().push(Seen::of(event))
    })
}

/// `GET /v1/records` and `POST /v1/records` behind `layer`, served on a free port.
async fn serve<L>(layer: L) -> std::net::SocketAddr
where
    L: tower::Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: tower::Service<Request<Body>, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as tower::Service<Request<Body>>>::Response: IntoResponse + 'static,
    <L::Service as tower::Service<Request<Body>>>::Future: Send + 'static,
{
    let router = Router::new()
        .route(
            "/v1/records",
            get(|| async { "records" }).post(|| async { "made" }),
        )
        .layer(layer);
    wire::serve_axum(router).await
}

async fn send(addr: std::net::SocketAddr, method: &str, key: Option<&str>) -> Response<Bytes> {
    wire::send(addr, wire::request(method, "/v1/records", key)).await
}

/// The one event recorded since the last call: exactly one.
fn only(events: &Events) -> Seen {
    let mut events = events.lock().unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    events.pop().unwrap()
}

/// A harness key named `name` with `scopes`, in workspace `acme`, with `quota` if given.
async fn key(h: &Harness, name: &str, scopes: &str, quota: Option<Quota>) -> (String, String) {
    let mut new = NewKey::new(name.parse().unwrap(), scopes.parse().unwrap())
        .workspace("acme".parse().unwrap());
    if let Some(quota) = quota {
        new = new.quota(quota);
    }
    let created = h.store.create(new).await.unwrap();
    (
        created.info.id.to_string(),
        created.plaintext.expose_secret().to_owned(),
    )
}

fn refused(code: ErrorCode) -> Outcome {
    Outcome::Refused(code)
}

#[tokio::test]
async fn a_success_reports_the_keys_id_name_workspace_scope_and_limit() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(
        h.builder()
            .default_quota(Quota::per_second(nz(3)))
            .on_decision(hook)
            .build(),
    )
    .await;
    let (id, key) = key(&h, "ci-pipeline", "read:all", None).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 200);
    let seen = only(&events);
    assert_eq!(seen.outcome, Outcome::Allowed);
    assert_eq!(seen.key_id.as_deref(), Some(id.as_str()));
    assert_eq!(seen.key_name.as_deref(), Some("ci-pipeline"));
    assert_eq!(seen.workspace.as_deref(), Some("acme"));
    assert_eq!(seen.required_scope.as_deref(), Some("read:all"));
    assert_eq!(seen.limit.as_deref(), Some("rate 2/3"));
    assert_eq!(seen.cost, Some(1));
    assert!(!seen.failed_open);
    assert!(seen.elapsed > Duration::ZERO);
}

#[tokio::test]
async fn a_missing_key_is_reported_without_any_key() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().on_decision(hook).build()).await;
    let answer = send(addr, "GET", None).await;
    wire::assert_missing_key_problem(&answer);
    let seen = only(&events);
    assert_eq!(seen.outcome, refused(ErrorCode::MissingApiKey));
    assert_eq!(
        (seen.key_id, seen.key_name, seen.workspace),
        (None, None, None)
    );
    assert_eq!(
        (seen.required_scope, seen.limit, seen.cost),
        (None, None, None)
    );
}

#[tokio::test]
async fn every_refusal_of_the_error_table_is_one_event_with_its_code_and_key() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().on_decision(hook).build()).await;
    let (_, reader) = key(&h, "reader", "read:all", None).await;
    let (revoked_id, revoked) = key(&h, "old", "read:all", None).await;
    h.store
        .revoke(&"acme".parse().unwrap(), &revoked_id.parse().unwrap())
        .await
        .unwrap();
    let (disabled_id, disabled) = key(&h, "paused", "read:all", None).await;
    h.store
        .disable(&"acme".parse().unwrap(), &disabled_id.parse().unwrap())
        .await
        .unwrap();
    let expiring = NewKey::new("temp".parse().unwrap(), "read:all".parse().unwrap())
        .expires_at(h.clock.now() + Duration::from_secs(60));
    let expired = h.store.create(expiring).await.unwrap();
    let expired_id = expired.info.id.to_string();
    h.clock.advance(Duration::from_secs(61));
    // A well-formed key of the same prefix that this store never issued.
    let stranger = MemoryKeyStore::new()
        .create(NewKey::new(
            "x".parse().unwrap(),
            "read:all".parse().unwrap(),
        ))
        .await
        .unwrap();
    let stranger = stranger.plaintext.expose_secret().to_owned();

    let reader_id = parse(&reader, &KeyPrefix::default())
        .unwrap()
        .id()
        .to_string();
    // (method, key, row, the key id and name the event must carry)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        ErrorCode,
        Option<(&'a str, &'a str)>,
    );
    let cases: Vec<Case<'_>> = vec![
        ("GET", Some("not-a-key"), ErrorCode::MalformedApiKey, None),
        ("GET", Some(&stranger), ErrorCode::InvalidApiKey, None),
        (
            "GET",
            Some(&revoked),
            ErrorCode::RevokedApiKey,
            Some((&revoked_id, "old")),
        ),
        (
            "GET",
            Some(expired.plaintext.expose_secret()),
            ErrorCode::ExpiredApiKey,
            Some((&expired_id, "temp")),
        ),
        (
            "GET",
            Some(&disabled),
            ErrorCode::DisabledApiKey,
            Some((&disabled_id, "paused")),
        ),
        (
            "POST",
            Some(&reader),
            ErrorCode::InsufficientScope,
            Some((&reader_id, "reader")),
        ),
    ];
    for (method, key, code, identity) in cases {
        let answer = send(addr, method, key).await;
        assert_eq!(answer.status(), code.status(), "{code}");
        let seen = only(&events);
        assert_eq!(seen.outcome, refused(code));
        assert_eq!(
            seen.key_id.as_deref().zip(seen.key_name.as_deref()),
            identity,
            "{code}"
        );
    }
}

#[tokio::test]
async fn insufficient_scope_reports_the_scope_the_route_required() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().on_decision(hook).build()).await;
    let (_, reader) = key(&h, "reader", "read:all", None).await;
    assert_eq!(send(addr, "POST", Some(&reader)).await.status(), 403);
    let seen = only(&events);
    assert_eq!(seen.required_scope.as_deref(), Some("write:all"));
    assert_eq!(seen.workspace.as_deref(), Some("acme"));
    assert_eq!(seen.limit, None);
}

#[tokio::test]
async fn rate_limited_reports_the_refusing_quota() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().on_decision(hook).build()).await;
    let (id, key) = key(&h, "burst", "read:all", Some(Quota::per_second(nz(1)))).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 200);
    assert_eq!(only(&events).limit.as_deref(), Some("rate 0/1"));
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 429);
    let seen = only(&events);
    assert_eq!(seen.outcome, refused(ErrorCode::RateLimited));
    assert_eq!(seen.key_id.as_deref(), Some(id.as_str()));
    assert_eq!(seen.limit.as_deref(), Some("rate 0/1"));
}

#[tokio::test]
async fn quota_exceeded_reports_the_plan_and_the_refusing_limit() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().on_decision(hook).build()).await;
    let daily = Limit::quota("daily".parse().unwrap(), 1, Period::Day);
    let plan = Plan::new("trial".parse().unwrap(), vec![daily]).unwrap();
    h.store.put_plan(plan).await.unwrap();
    let new = NewKey::new("trial-key".parse().unwrap(), "read:all".parse().unwrap())
        .plan("trial".parse().unwrap());
    let key = h.store.create(new).await.unwrap();
    let key = key.plaintext.expose_secret();
    assert_eq!(send(addr, "GET", Some(key)).await.status(), 200);
    let seen = only(&events);
    assert_eq!(
        seen.limit.as_deref(),
        Some("plan trial limit daily remaining 0")
    );
    assert_eq!(send(addr, "GET", Some(key)).await.status(), 429);
    let seen = only(&events);
    assert_eq!(seen.outcome, refused(ErrorCode::QuotaExceeded));
    assert_eq!(seen.workspace.as_deref(), Some("default"));
    assert_eq!(
        seen.limit.as_deref(),
        Some("plan trial limit daily remaining 0")
    );
}

#[tokio::test]
async fn plain_http_where_https_is_required_is_one_event_without_a_key() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().require_https(true).on_decision(hook).build()).await;
    let (_, key) = key(&h, "reader", "read:all", None).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 403);
    let seen = only(&events);
    assert_eq!(seen.outcome, refused(ErrorCode::HttpsRequired));
    assert_eq!(seen.key_id, None);
}

#[tokio::test]
async fn an_ambiguous_path_is_one_malformed_request_event() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(h.builder().on_decision(hook).build()).await;
    let answer = wire::send_raw(
        addr,
        &wire::raw_request("GET", "/v1/../v1/records", None, &[]),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(only(&events).outcome, refused(ErrorCode::MalformedRequest));
}

#[tokio::test]
async fn a_store_that_is_down_is_one_auth_unavailable_event_without_a_key() {
    let h = Harness::new();
    let (_, key) = key(&h, "reader", "read:all", None).await;
    let (events, hook) = recorder();
    let layer = ApiKeyLayer::builder(DownStore, h.limiter.clone())
        .on_decision(hook)
        .build();
    let addr = serve(layer).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 503);
    let seen = only(&events);
    assert_eq!(seen.outcome, refused(ErrorCode::AuthUnavailable));
    assert_eq!(seen.key_id, None);
    assert_eq!(seen.required_scope.as_deref(), Some("read:all"));
}

/// A layer on the harness's store whose limiter is down, failing `policy`-wise.
async fn down_limiter(policy: FailurePolicy) -> (Events, std::net::SocketAddr, String, String) {
    let h = Harness::new();
    let (id, key) = key(&h, "reader", "read:all", Some(Quota::per_second(nz(5)))).await;
    let (events, hook) = recorder();
    let layer = ApiKeyLayer::builder(h.store.clone(), DownLimiter)
        .on_limiter_failure(policy)
        .on_decision(hook)
        .build();
    (events, serve(layer).await, id, key)
}

#[tokio::test]
async fn a_limiter_that_is_down_failing_closed_is_one_auth_unavailable_event_with_the_key() {
    let (events, addr, id, key) = down_limiter(FailurePolicy::FailClosed).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 503);
    let seen = only(&events);
    assert_eq!(seen.outcome, refused(ErrorCode::AuthUnavailable));
    assert_eq!(seen.key_id.as_deref(), Some(id.as_str()));
    assert!(!seen.failed_open);
}

#[tokio::test]
async fn a_limiter_that_is_down_failing_open_is_an_allowed_event_marked_failed_open() {
    let (events, addr, id, key) = down_limiter(FailurePolicy::FailOpen).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 200);
    let seen = only(&events);
    assert_eq!(seen.outcome, Outcome::Allowed);
    assert_eq!(seen.key_id.as_deref(), Some(id.as_str()));
    assert!(seen.failed_open);
    assert_eq!(seen.limit, None);
}

#[tokio::test]
async fn a_store_that_answers_later_still_gives_one_event() {
    let h = Harness::new();
    let (id, key) = key(&h, "reader", "read:all", None).await;
    let (events, hook) = recorder();
    let layer = ApiKeyLayer::builder(common::SuspendingStore(h.store.clone()), h.limiter.clone())
        .on_decision(hook)
        .build();
    let addr = serve(layer).await;
    assert_eq!(send(addr, "GET", Some(&key)).await.status(), 200);
    let seen = only(&events);
    assert_eq!(seen.outcome, Outcome::Allowed);
    assert_eq!(seen.key_id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn a_panicking_hook_changes_no_response() {
    let h = Harness::new();
    let (_, key) = key(&h, "reader", "read:all", None).await;
    let plain = serve(h.builder().build()).await;
    let panicking = serve(
        h.builder()
            .on_decision(|_: &DecisionEvent<'_>| panic!("the hook broke"))
            .build(),
    )
    .await;
    for (method, key) in [
        ("GET", Some(key.as_str())),
        ("POST", Some(&key)),
        ("GET", None),
    ] {
        let expected = send(plain, method, key).await;
        let got = send(panicking, method, key).await;
        assert_eq!(got.status(), expected.status(), "{method} {key:?}");
        assert_eq!(got.body(), expected.body(), "{method} {key:?}");
    }
}

#[tokio::test]
async fn no_event_shows_the_secret_or_its_digest() {
    let h = Harness::new();
    let (events, hook) = recorder();
    let addr = serve(
        h.builder()
            .default_quota(Quota::per_second(nz(1)))
            .on_decision(hook)
            .build(),
    )
    .await;
    let (id, key) = key(&h, "reader", "read:all", None).await;
    let parsed = parse(&key, &KeyPrefix::default()).unwrap();
    let digest = parsed.digest().to_hex();
    let secret = key.rsplit('_').next().unwrap().to_owned();
    for method in ["GET", "GET", "POST"] {
        send(addr, method, Some(&key)).await;
    }
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3);
    for seen in events.iter() {
        assert!(seen.debug.contains(&id), "{}", seen.debug);
        for needle in [&key, &secret, &digest] {
            assert!(!seen.debug.contains(needle.as_str()), "{}", seen.debug);
        }
    }
}
