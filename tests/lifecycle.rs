//! The key lifecycle as the layer sees it: rotation with grace, revocation, scope edits.

mod common;

use keygate::Workspace;
use std::time::Duration;

use common::*;
use http::{Request, StatusCode};
use keygate::clock::Clock;
use keygate::{KeyManager, KeyStatus, KeyUpdate};

#[tokio::test]
async fn rotated_key_old_secret_works_until_the_grace_period_ends() {
    let h = Harness::new();
    let (id, old) = h.key("ci-pipeline", "read:all").await;
    let new = h
        .store
        .rotate(&Workspace::default(), &id, Duration::from_secs(3600))
        .await
        .unwrap();
    let new = new.plaintext.expose_secret().to_owned();
    let svc = h.service();
    assert_eq!(
        send(&svc, with_key(get("/"), &old)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, with_key(get("/"), &new)).await.status,
        StatusCode::OK
    );
    h.clock.advance(Duration::from_secs(3599));
    assert_eq!(
        send(&svc, with_key(get("/"), &old)).await.status,
        StatusCode::OK
    );
    h.clock.advance(Duration::from_secs(1));
    let answer = send(&svc, with_key(get("/"), &old)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "invalid_api_key");
    assert_eq!(
        send(&svc, with_key(get("/"), &new)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotation_without_grace_stops_the_old_secret_at_once() {
    let h = Harness::new();
    let (id, old) = h.key("ci-pipeline", "read:all").await;
    h.store
        .rotate(&Workspace::default(), &id, Duration::ZERO)
        .await
        .unwrap();
    let answer = send(&h.service(), with_key(get("/"), &old)).await;
    assert_eq!(answer.code(), "invalid_api_key");
}

#[tokio::test]
async fn rotation_keeps_the_key_id_name_and_scopes() {
    let h = Harness::new();
    let (id, _) = h.key("ci-pipeline", "read:all,write:all").await;
    let rotated = h
        .store
        .rotate(&Workspace::default(), &id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rotated.info.id, id);
    assert_eq!(rotated.info.name.as_str(), "ci-pipeline");
    assert_eq!(rotated.info.scopes.to_string(), "read:all,write:all");
    assert_eq!(
        rotated.info.previous_secret_valid_until,
        Some(h.clock.now() + Duration::from_secs(60))
    );
}

#[tokio::test]
async fn revoking_a_rotated_key_stops_both_secrets() {
    let h = Harness::new();
    let (id, old) = h.key("ci-pipeline", "read:all").await;
    let new = h
        .store
        .rotate(&Workspace::default(), &id, Duration::from_secs(60))
        .await
        .unwrap();
    h.store.revoke(&Workspace::default(), &id).await.unwrap();
    let svc = h.service();
    assert_eq!(
        send(&svc, with_key(get("/"), &old)).await.code(),
        "revoked_api_key"
    );
    let new_answer = send(&svc, with_key(get("/"), new.plaintext.expose_secret())).await;
    assert_eq!(new_answer.code(), "revoked_api_key");
}

#[tokio::test]
async fn create_use_forbid_add_scope_revoke() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    let svc = h.service();
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, with_key(Request::post("/v1/records"), &key))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    h.store
        .update(
            &Workspace::default(),
            &id,
            KeyUpdate::new().scopes("read:all,write:all".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        send(&svc, with_key(Request::post("/v1/records"), &key))
            .await
            .status,
        StatusCode::OK
    );
    let info = h.store.revoke(&Workspace::default(), &id).await.unwrap();
    assert_eq!(info.status_at(h.clock.now()), KeyStatus::Revoked);
    assert_eq!(
        send(&svc, with_key(get("/v1/records"), &key)).await.code(),
        "revoked_api_key"
    );
}

#[tokio::test]
async fn successful_use_is_recorded_as_last_used() {
    let h = Harness::new();
    let (id, key) = h.key("ci-pipeline", "read:all").await;
    assert_eq!(
        h.store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at,
        None
    );
    send(&h.service(), with_key(get("/"), &key)).await;
    assert!(
        h.store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
}

#[tokio::test]
async fn listing_never_shows_a_secret() {
    let h = Harness::new();
    let (_, key) = h.key("ci-pipeline", "read:all").await;
    let listing = format!("{:?}", h.store.list(&Workspace::default()).await.unwrap());
    let secret_part = &key[key.len() - 49..];
    assert!(!listing.contains(secret_part));
    assert!(listing.contains("ci-pipeline"));
}

#[tokio::test]
async fn per_key_quota_overrides_the_default() {
    let h = Harness::new();
    let created = h
        .store
        .create(
            keygate::NewKey::new("big-plan".parse().unwrap(), "read:all".parse().unwrap())
                .quota(keygate::Quota::per_second(nz(10))),
        )
        .await
        .unwrap();
    let key = created.plaintext.expose_secret().to_owned();
    let svc = h.service();
    for _ in 0..10 {
        assert_eq!(
            send(&svc, with_key(get("/"), &key)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
