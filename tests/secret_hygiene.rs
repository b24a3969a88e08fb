//! No plaintext key or secret part ever appears in logs, `Debug`/`Display` output, error
//! messages or response bodies, over a run of every error-table row.

mod common;

use keygate::Workspace;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http::{Request, StatusCode};
use keygate::clock::Clock;
use keygate::{
    ApiKeyLayer, FailurePolicy, KeyManager, KeyStore, NewKey, Quota, Rejection, StoreError,
};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, service_fn};

/// Everything the tracing subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The secret part of a plaintext key (what must never leak), and the whole key.
fn secrets(key: &str) -> [String; 2] {
    [
        key.to_owned(),
        key[key.len() - 49..key.len() - 6].to_owned(),
    ]
}

#[tokio::test]
async fn no_secret_reaches_logs_debug_output_errors_or_bodies() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new();
    let mut seen: Vec<String> = Vec::new();
    let mut protect: Vec<String> = Vec::new();

    let created = h
        .store
        .create(
            NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap())
                .expires_at(h.clock.now() + Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    seen.push(format!("{created:?}"));
    let key = created.plaintext.expose_secret().to_owned();
    protect.extend(secrets(&key));
    seen.push(format!("{} {:?}", created.plaintext, created.plaintext));

    let generated = keygate::key::generate(&keygate::key::KeyPrefix::default()).unwrap();
    protect.extend(secrets(generated.plaintext.expose_secret()));
    seen.push(format!("{generated:?}"));
    let parsed = keygate::key::parse(
        generated.plaintext.expose_secret(),
        &keygate::key::KeyPrefix::default(),
    )
    .unwrap();
    seen.push(format!("{parsed:?}"));

    let svc = h.service();
    let mut typo = key.clone();
    typo.push('x');
    let answers = [
        send(&svc, with_key(get("/"), &key)).await,
        send(&svc, bare(get("/"))).await,
        send(&svc, with_key(get("/"), &typo)).await,
        send(&svc, with_key(Request::post("/"), &key)).await,
        send(
            &svc,
            with_key(get("/"), generated.plaintext.expose_secret()),
        )
        .await,
        send(&svc, with_key(get("/"), &key)).await,
        send(&svc, with_key(get("/"), &key)).await,
        send(&svc, with_key(get("/"), &key)).await,
    ];
    assert_eq!(
        answers.last().unwrap().status,
        StatusCode::TOO_MANY_REQUESTS
    );
    h.clock.advance(Duration::from_secs(7200));
    let expired = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(expired.code(), "expired_api_key");
    h.store
        .revoke(&Workspace::default(), &created.info.id)
        .await
        .unwrap();
    let revoked = send(&svc, with_key(get("/"), &key)).await;
    assert_eq!(revoked.code(), "revoked_api_key");

    let rotated_key = h.key("rotating", "read:all").await;
    protect.extend(secrets(&rotated_key.1));
    let rotated = h
        .store
        .rotate(
            &Workspace::default(),
            &rotated_key.0,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    protect.extend(secrets(rotated.plaintext.expose_secret()));
    seen.push(format!("{rotated:?}"));

    let down: Svc = BoxCloneService::new(
        ServiceBuilder::new()
            .layer(ApiKeyLayer::new(DownStore, h.limiter.clone()))
            .service(service_fn(echo)),
    );
    let limiter_down: Svc = BoxCloneService::new(
        ServiceBuilder::new()
            .layer(
                ApiKeyLayer::builder(h.store.clone(), DownLimiter)
                    .default_quota(Quota::new(1, Duration::from_secs(1)).unwrap())
                    .on_limiter_failure(FailurePolicy::FailOpen)
                    .build(),
            )
            .service(service_fn(echo)),
    );
    let more = [
        expired,
        revoked,
        send(&down, with_key(get("/"), &rotated_key.1)).await,
        send(
            &limiter_down,
            with_key(get("/"), rotated.plaintext.expose_secret()),
        )
        .await,
    ];

    for a in answers.iter().chain(more.iter()) {
        seen.push(format!("{} {:?} {}", a.status, a.headers, a.body));
        if let Some(rejection) = a.extensions.get::<Rejection>() {
            seen.push(format!("{rejection} {rejection:?} {}", rejection.fix()));
        }
    }
    for info in h.store.list(&Workspace::default()).await.unwrap() {
        seen.push(format!("{info:?}"));
        seen.push(format!("{:?}", h.store.get(&info.id).await.unwrap()));
    }
    seen.push(format!("{:?}", h.store));
    seen.push(format!("{:?}", h.builder().build()));
    seen.push(StoreError::NotFound(created.info.id).to_string());
    seen.push(String::from_utf8(captured.0.lock().unwrap().clone()).unwrap());

    let logs = seen.last().unwrap();
    assert!(
        logs.contains("key store failed"),
        "the run logged nothing: {logs}"
    );
    for text in &seen {
        for secret in &protect {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
    }
}

#[cfg(any(feature = "axum", feature = "cli"))]
#[tokio::test]
async fn created_key_view_debug_output_redacts_the_plaintext() {
    let store = keygate::MemoryKeyStore::new();
    let created = store
        .create(NewKey::new(
            "ci-pipeline".parse().unwrap(),
            "read:all".parse().unwrap(),
        ))
        .await
        .unwrap();
    let view = keygate::view::CreatedKeyView::from(&created);
    let shown = format!("{view:?} {view:#?}");
    for secret in secrets(created.plaintext.expose_secret()) {
        assert!(!shown.contains(&secret), "{shown}");
    }
    assert!(
        shown.contains("redacted") && shown.contains("ci-pipeline"),
        "{shown}"
    );
}
