//! Keys under plans, through the layer: every limit of the plan decides, a refused request
//! spends nothing, and the answers name the limit and the plan.

mod common;

use std::num::NonZeroU32;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use http::{Method, StatusCode};
use keygate::plan::{Limit, Period, Plan, Refill, Sharing};
use keygate::policy::RoutePolicy;
use keygate::{KeyManager, NewKey, PlanManager, Quota, Workspace};
use tower::service_fn;
use tower::util::BoxCloneService;

fn name<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

/// `trial`: 5 requests a UTC day.
fn trial() -> Plan {
    Plan::new(
        name("trial"),
        vec![Limit::quota(name("daily"), 5, Period::Day)],
    )
    .unwrap()
}

/// `pro`: a burst of 20 then 10/s, 100 000 a month shared by the workspace.
fn pro() -> Plan {
    let burst =
        Quota::per_second(NonZeroU32::new(10).unwrap()).allow_burst(NonZeroU32::new(20).unwrap());
    Plan::new(
        name("pro"),
        vec![
            Limit::rate(name("burst"), burst),
            Limit::quota(
                name("monthly"),
                100_000,
                Period::Month(keygate::plan::AnchorDay::FIRST),
            )
            .shared_by(Sharing::Workspace),
        ],
    )
    .unwrap()
}

async fn key_on(h: &Harness, plan: &Plan, key: &str, workspace: &str) -> String {
    h.store.put_plan(plan.clone()).await.unwrap();
    let created = h
        .store
        .create(
            NewKey::new(name(key), name("read:all,write:all"))
                .workspace(name(workspace))
                .plan(plan.name().clone()),
        )
        .await
        .unwrap();
    created.plaintext.expose_secret().to_owned()
}

fn service_with(h: &Harness, policy: RoutePolicy) -> Svc {
    let layer = h
        .builder()
        .policy(policy)
        .default_quota(Quota::per_second(nz(3)))
        .build();
    BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(echo)),
    )
}

/// Seconds from the harness clock's now to the next UTC midnight, rounded up.
fn to_midnight(h: &Harness) -> u64 {
    use keygate::clock::Clock;
    let secs = h.clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    86_400 - secs % 86_400
}

#[tokio::test]
async fn a_key_on_trial_gets_five_200s_then_429_quota_exceeded_naming_trial() {
    let h = Harness::new();
    let key = key_on(&h, &trial(), "ci-pipeline", "acme").await;
    let svc = h.service();
    for _ in 0..5 {
        assert_eq!(
            send(&svc, with_key(get("/"), &key)).await.status,
            StatusCode::OK
        );
    }
    let refused = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let body = refused.json();
    assert_eq!(body["code"], "quota_exceeded");
    assert_eq!(body["limit"], "daily");
    assert_eq!(body["plan"], "trial");
    assert!(
        body["fix"].as_str().unwrap().contains("plan trial"),
        "{body}"
    );
    let after: u64 = refused.header("retry-after").parse().unwrap();
    assert!(after.abs_diff(to_midnight(&h)) <= 1, "{after}");
    assert_eq!(body["retry_after"], after);
}

#[tokio::test]
async fn a_quota_starts_again_at_utc_midnight() {
    let h = Harness::new();
    let key = key_on(&h, &trial(), "ci-pipeline", "acme").await;
    let svc = h.service();
    for _ in 0..5 {
        send(&svc, with_key(get("/"), &key)).await;
    }
    h.clock.advance(Duration::from_secs(to_midnight(&h)));
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_headers_list_every_limit_of_the_plan_and_report_the_most_constraining() {
    let h = Harness::new();
    let key = key_on(&h, &pro(), "backend", "acme").await;
    let answer = send(&h.service(), with_key(get("/"), &key)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("ratelimit-policy"),
        "\"burst\";q=20;w=2, \"monthly\";q=100000;w=2592000"
    );
    assert_eq!(answer.header("ratelimit"), "\"burst\";r=19;t=1");
}

#[tokio::test]
async fn over_a_rate_of_the_plan_is_rate_limited_with_the_limit_named() {
    let h = Harness::new();
    let key = key_on(&h, &pro(), "backend", "acme").await;
    let svc = h.service();
    for _ in 0..20 {
        assert_eq!(
            send(&svc, with_key(get("/"), &key)).await.status,
            StatusCode::OK
        );
    }
    let refused = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "rate_limited");
    assert_eq!(refused.json()["limit"], "burst");
    assert_eq!(refused.header("retry-after"), "1");
}

#[tokio::test]
async fn a_workspace_shared_quota_is_not_multiplied_by_more_keys() {
    let h = Harness::new();
    let shared = Plan::new(
        name("team"),
        vec![Limit::quota(name("daily"), 3, Period::Day).shared_by(Sharing::Workspace)],
    )
    .unwrap();
    let first = key_on(&h, &shared, "first", "acme").await;
    let second = key_on(&h, &shared, "second", "acme").await;
    let other = key_on(&h, &shared, "first", "globex").await;
    let svc = h.service();
    for key in [&first, &second, &first] {
        assert_eq!(
            send(&svc, with_key(get("/"), key)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&svc, with_key(get("/"), &second)).await.code(),
        "quota_exceeded"
    );
    assert_eq!(
        send(&svc, with_key(get("/"), &other)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_expensive_route_spends_its_cost_and_a_refusal_spends_nothing() {
    let h = Harness::new();
    let plan = Plan::new(
        name("metered"),
        vec![Limit::quota(name("daily"), 25, Period::Day)],
    )
    .unwrap();
    let key = key_on(&h, &plan, "reports", "acme").await;
    let svc = service_with(&h, RoutePolicy::new().route_cost("/v1/reports/**", 10));
    let report = || with_key(get("/v1/reports/monthly"), &key);
    assert_eq!(send(&svc, report()).await.status, StatusCode::OK);
    assert_eq!(send(&svc, report()).await.status, StatusCode::OK);
    let refused = send(&svc, report()).await;
    assert_eq!(refused.code(), "quota_exceeded");
    // The refused report spent nothing: five cheap requests still fit in the 5 left.
    for _ in 0..5 {
        let cheap = send(&svc, with_key(get("/v1/records"), &key)).await;
        assert_eq!(cheap.status, StatusCode::OK);
    }
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.code(),
        "quota_exceeded"
    );
}

#[tokio::test]
async fn credits_that_are_never_refilled_are_refused_without_a_retry_time() {
    let h = Harness::new();
    let plan = Plan::new(
        name("prepaid"),
        vec![Limit::credits(name("credits"), 2, None)],
    )
    .unwrap();
    let key = key_on(&h, &plan, "batch", "acme").await;
    let svc = h.service();
    send(&svc, with_key(get("/"), &key)).await;
    send(&svc, with_key(get("/"), &key)).await;
    let refused = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(refused.code(), "quota_exceeded");
    assert_eq!(refused.json()["limit"], "credits");
    assert!(!refused.headers.contains_key("retry-after"));
    assert!(refused.json().get("retry_after").is_none());
}

#[tokio::test]
async fn refilled_credits_are_refused_until_the_refill() {
    let h = Harness::new();
    let refill = Refill {
        amount: 1,
        period: Period::Day,
    };
    let plan = Plan::new(
        name("daily-credit"),
        vec![Limit::credits(name("credits"), 1, Some(refill))],
    )
    .unwrap();
    let key = key_on(&h, &plan, "batch", "acme").await;
    let svc = h.service();
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::OK
    );
    let refused = send(&svc, with_key(get("/"), &key)).await;
    let after: u64 = refused.header("retry-after").parse().unwrap();
    assert!(after.abs_diff(to_midnight(&h)) <= 1);
    h.clock.advance(Duration::from_secs(after));
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn redefining_a_plan_applies_to_its_keys_at_once() {
    let h = Harness::new();
    let key = key_on(&h, &trial(), "ci-pipeline", "acme").await;
    let svc = h.service();
    for _ in 0..5 {
        send(&svc, with_key(get("/"), &key)).await;
    }
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.code(),
        "quota_exceeded"
    );
    let bigger = Plan::new(
        name("trial"),
        vec![Limit::quota(name("daily"), 7, Period::Day)],
    )
    .unwrap();
    h.store.put_plan(bigger).await.unwrap();
    // What was counted still counts: two more.
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.code(),
        "quota_exceeded"
    );
}

#[tokio::test]
async fn a_workspace_plan_limits_its_keys_without_a_plan_of_their_own() {
    let h = Harness::new();
    h.store.put_plan(trial()).await.unwrap();
    let (_, key) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    h.store
        .set_workspace_plan(&Workspace::default(), Some(name("trial")))
        .await
        .unwrap();
    for _ in 0..5 {
        send(&svc, with_key(get("/"), &key)).await;
    }
    let refused = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(refused.json()["plan"], "trial");
}

#[tokio::test]
async fn a_key_without_a_plan_is_limited_as_before() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let svc = h.service();
    for _ in 0..3 {
        send(&svc, with_key(get("/"), &key)).await;
    }
    let refused = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(refused.code(), "rate_limited");
    assert!(refused.json().get("plan").is_none());
    assert_eq!(refused.header("ratelimit-policy"), "\"default\";q=3;w=1");
}

#[tokio::test]
async fn an_unknown_plan_is_refused_and_no_key_is_made() {
    let h = Harness::new();
    let refused = h
        .store
        .create(NewKey::new(name("ci"), name("read:all")).plan(name("missing")))
        .await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("no plan named missing")
    );
    assert!(h.store.is_empty());
}

#[tokio::test]
async fn a_post_costs_what_its_method_rule_says() {
    let h = Harness::new();
    let plan = Plan::new(
        name("p"),
        vec![Limit::quota(name("daily"), 10, Period::Day)],
    )
    .unwrap();
    let key = key_on(&h, &plan, "writer", "acme").await;
    let svc = service_with(
        &h,
        RoutePolicy::new().route_method_cost(Method::POST, "/v1/records", 10),
    );
    let post = http::Request::post("/v1/records");
    assert_eq!(
        send(&svc, with_key(post, &key)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.code(),
        "quota_exceeded"
    );
}

#[tokio::test]
async fn a_grpc_call_over_its_quota_is_resource_exhausted_naming_the_limit_and_plan() {
    let h = Harness::new();
    let key = key_on(&h, &trial(), "ci-pipeline", "acme").await;
    let svc = h.service();
    let call = || {
        with_key(
            http::Request::post("/records.Records/List").header("content-type", "application/grpc"),
            &key,
        )
    };
    for _ in 0..5 {
        send(&svc, call()).await;
    }
    let refused = send(&svc, call()).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert_eq!(refused.header("grpc-status"), "8");
    let message = refused.header("grpc-message");
    assert!(message.contains("(limit daily of plan trial)"), "{message}");
    assert!(refused.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_handler_reads_the_plan_that_limited_the_request() {
    use bytes::Bytes;
    use http_body_util::Full;
    use keygate::AuthenticatedKey;

    let h = Harness::new();
    let key = key_on(&h, &trial(), "ci-pipeline", "acme").await;
    let layer = h.builder().build();
    let svc: Svc = BoxCloneService::new(tower::ServiceBuilder::new().layer(layer).service(
        service_fn(|req: http::Request<Full<Bytes>>| async move {
            let key = req.extensions().get::<AuthenticatedKey>().unwrap();
            let plan = key.plan().map(|p| p.name().to_string()).unwrap_or_default();
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(plan))))
        }),
    ));
    assert_eq!(send(&svc, with_key(get("/"), &key)).await.body, "trial");
}
