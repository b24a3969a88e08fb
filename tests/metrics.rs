//! The layer's metrics (feature `metrics`), read back from metrics-util's
//! `DebuggingRecorder`. Each test installs its own recorder for its thread and runs its
//! requests on a current-thread runtime, so tests never see each other's counts.

mod common;
mod metrics_common;

use common::{DownLimiter, Harness, bare, get, nz, send, with_key};
use http::StatusCode;
use keygate::metrics::{
    DECISIONS_TOTAL, FAIL_OPEN_TOTAL, LIMITER_SECONDS, STORE_LOOKUP_SECONDS, describe,
};
use keygate::{ApiKeyLayer, ApiKeyLayerBuilder, FailurePolicy, KeyManager, NewKey, Quota};
use metrics::Unit;
use metrics_common::{labels, recorded, recorded_with};
use tower::ServiceBuilder;
use tower::util::BoxCloneService;

type Builder = ApiKeyLayerBuilder<
    common::CountingStore,
    keygate::MemoryRateLimiter<keygate::clock::ManualClock>,
>;

fn service(builder: Builder) -> common::Svc {
    BoxCloneService::new(
        ServiceBuilder::new()
            .layer(builder.build())
            .service(tower::service_fn(common::echo)),
    )
}

/// `builder` with a quota for every key and the latency histograms on.
fn timed(builder: Builder) -> Builder {
    builder
        .default_quota(Quota::per_second(nz(5)))
        .metrics_latency(true)
}

/// A key of workspace `acme` with `scopes`; its id and plaintext.
async fn acme_key(h: &Harness, scopes: &str) -> (String, String) {
    let new = NewKey::new("ci-pipeline".parse().unwrap(), scopes.parse().unwrap())
        .workspace("acme".parse().unwrap());
    let created = h.store.create(new).await.unwrap();
    (
        created.info.id.to_string(),
        created.plaintext.expose_secret().to_owned(),
    )
}

#[test]
fn each_decision_is_counted_once_by_outcome_and_workspace() {
    let metrics = recorded(|| async {
        let h = Harness::new();
        let svc = service(h.builder());
        let (_, key) = acme_key(&h, "read:all").await;
        for _ in 0..2 {
            let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
            assert_eq!(answer.status, StatusCode::OK);
        }
        let post = with_key(get("/v1/records").method("POST"), &key);
        assert_eq!(send(&svc, post).await.status, StatusCode::FORBIDDEN);
        assert_eq!(
            send(&svc, bare(get("/v1/records"))).await.status,
            StatusCode::UNAUTHORIZED
        );
    });
    assert_eq!(
        metrics.counts(DECISIONS_TOTAL),
        [
            (
                labels(&[("outcome", "insufficient_scope"), ("workspace", "acme")]),
                1
            ),
            (
                labels(&[("outcome", "missing_api_key"), ("workspace", "")]),
                1
            ),
            (labels(&[("outcome", "ok"), ("workspace", "acme")]), 2),
        ]
    );
}

#[test]
fn the_workspace_label_can_be_turned_off() {
    let metrics = recorded(|| async {
        let h = Harness::new();
        let svc = service(h.builder().metrics_workspace_label(false));
        let (_, key) = acme_key(&h, "read:all").await;
        send(&svc, with_key(get("/v1/records"), &key)).await;
    });
    assert_eq!(
        metrics.counts(DECISIONS_TOTAL),
        [(labels(&[("outcome", "ok")]), 1)]
    );
}

#[test]
fn no_key_id_label_unless_the_operator_opts_in() {
    let request_once = |opt_in: bool| {
        recorded_with(move || async move {
            let h = Harness::new();
            let svc = service(h.builder().metrics_key_label(opt_in));
            let (id, key) = acme_key(&h, "read:all").await;
            send(&svc, with_key(get("/v1/records"), &key)).await;
            id
        })
    };
    let (default, _) = request_once(false);
    assert_eq!(
        default.counts(DECISIONS_TOTAL),
        [(labels(&[("outcome", "ok"), ("workspace", "acme")]), 1)]
    );
    let (opted_in, id) = request_once(true);
    assert_eq!(
        opted_in.counts(DECISIONS_TOTAL),
        [(
            labels(&[("key_id", &id), ("outcome", "ok"), ("workspace", "acme")]),
            1
        )]
    );
}

#[test]
fn a_request_let_through_by_a_failed_limiter_is_counted_as_fail_open() {
    let metrics = recorded(|| async {
        let h = Harness::new();
        let layer = ApiKeyLayer::builder(h.store.clone(), DownLimiter)
            .default_quota(Quota::per_second(nz(5)))
            .on_limiter_failure(FailurePolicy::FailOpen)
            .build();
        let svc: common::Svc = BoxCloneService::new(
            ServiceBuilder::new()
                .layer(layer)
                .service(tower::service_fn(common::echo)),
        );
        let (_, key) = acme_key(&h, "read:all").await;
        let answer = send(&svc, with_key(get("/v1/records"), &key)).await;
        assert_eq!(answer.status, StatusCode::OK);
    });
    assert_eq!(metrics.counts(FAIL_OPEN_TOTAL), [(vec![], 1)]);
    assert_eq!(
        metrics.counts(DECISIONS_TOTAL),
        [(labels(&[("outcome", "ok"), ("workspace", "acme")]), 1)]
    );
}

#[test]
fn each_lookup_and_each_limiter_call_is_timed_once() {
    let metrics = recorded(|| async {
        let h = Harness::new();
        let svc = service(timed(h.builder()));
        let (_, key) = acme_key(&h, "read:all").await;
        for _ in 0..3 {
            send(&svc, with_key(get("/v1/records"), &key)).await;
        }
        // Refused before any backend is asked: neither is timed.
        send(&svc, bare(get("/v1/records"))).await;
        // Refused by scope after the lookup: the limiter is not asked.
        send(&svc, with_key(get("/v1/records").method("POST"), &key)).await;
    });
    assert_eq!(metrics.samples(STORE_LOOKUP_SECONDS), 4);
    assert_eq!(metrics.samples(LIMITER_SECONDS), 3);
}

#[test]
fn latency_is_not_timed_unless_the_operator_opts_in() {
    let metrics = recorded(|| async {
        let h = Harness::new();
        let svc = service(h.builder().default_quota(Quota::per_second(nz(5))));
        let (_, key) = acme_key(&h, "read:all").await;
        send(&svc, with_key(get("/v1/records"), &key)).await;
    });
    assert_eq!(metrics.samples(STORE_LOOKUP_SECONDS), 0);
    assert_eq!(metrics.samples(LIMITER_SECONDS), 0);
    assert_eq!(
        metrics.counts(DECISIONS_TOTAL),
        [(labels(&[("outcome", "ok"), ("workspace", "acme")]), 1)]
    );
}

#[test]
fn a_layer_with_metrics_off_records_nothing() {
    let metrics = recorded(|| async {
        let h = Harness::new();
        let svc = service(h.builder().metrics(false));
        let (_, key) = acme_key(&h, "read:all").await;
        send(&svc, with_key(get("/v1/records"), &key)).await;
        send(&svc, bare(get("/v1/records"))).await;
    });
    assert!(metrics.0.is_empty());
}

#[test]
fn describe_gives_every_metric_its_unit() {
    let metrics = recorded(|| async {
        describe();
        let h = Harness::new();
        let svc = service(timed(h.builder()));
        let (_, key) = acme_key(&h, "read:all").await;
        send(&svc, with_key(get("/v1/records"), &key)).await;
    });
    for (name, unit) in [
        (DECISIONS_TOTAL, Unit::Count),
        (STORE_LOOKUP_SECONDS, Unit::Seconds),
        (LIMITER_SECONDS, Unit::Seconds),
    ] {
        let series = metrics.series(name);
        assert_eq!(series.len(), 1, "{name}");
        assert_eq!(series[0].2, Some(unit), "{name}");
    }
}
