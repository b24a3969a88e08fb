//! What the migration tests check once a database made by keygate before workspaces (schema
//! version 1) has been opened by this version, whatever the store.

#![allow(dead_code)]

use std::time::Duration;

use http::StatusCode;
use keygate::key::KeyId;
use keygate::{
    ApiKeyLayer, KeyManager, KeyStore, KeyUpdate, MemoryRateLimiter, NewKey, StoreError, Workspace,
};
use tower::service_fn;
use tower::util::BoxCloneService;

use crate::common::{Svc, echo, get, send, with_key};

/// The echo handler behind a layer on `store`.
fn service<K: KeyStore>(store: K) -> Svc {
    let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::new()).build();
    BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(echo)),
    )
}

/// Asserts a request with `plaintext` is let through (200) by a layer on `store`; returns what
/// the handler saw (`name scopes`).
pub async fn authenticates<K: KeyStore>(store: K, plaintext: &str) -> String {
    let answer = send(&service(store), with_key(get("/v1/records"), plaintext)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// The only key of a version-1 database, `id` with `plaintext` named `production-backend` with
/// scope `admin`: it authenticates, and lives in `default` with empty metadata.
pub async fn old_key_lives_in_the_default_workspace<S>(store: S, id: KeyId, plaintext: &str)
where
    S: KeyStore + KeyManager + Clone,
{
    let seen = authenticates(store.clone(), plaintext).await;
    assert_eq!(seen, "production-backend admin");
    let record = store.get(&id).await.unwrap().expect("the old key is found");
    assert!(record.workspace.is_default());
    assert_eq!(record.metadata.as_json(), "{}");
    let info = store.info(&Workspace::default(), &id).await.unwrap();
    assert_eq!(
        (info.workspace, info.metadata),
        (record.workspace.clone(), record.metadata.clone())
    );
    let listed = store.list(&Workspace::default()).await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [id]);
}

/// Two unrevoked keys of a version-1 database, both named `ci` (old versions allowed it), each
/// given as its id and plaintext: both authenticate, both are listed and can still be edited
/// and rotated, and the name stays taken for new keys.
pub async fn keys_sharing_a_name_keep_working<S>(
    store: S,
    first: (KeyId, String),
    second: (KeyId, String),
) where
    S: KeyStore + KeyManager + Clone,
{
    for (_, plaintext) in [&first, &second] {
        authenticates(store.clone(), plaintext).await;
    }
    let default = Workspace::default();
    assert_eq!(store.list(&default).await.unwrap().len(), 2);
    let edit = KeyUpdate::new().scopes("admin".parse().unwrap());
    store.update(&default, &first.0, edit).await.unwrap();
    store
        .rotate(&default, &second.0, Duration::ZERO)
        .await
        .unwrap();
    let again = store
        .create(NewKey::new(
            "ci".parse().unwrap(),
            "read:all".parse().unwrap(),
        ))
        .await;
    assert!(
        matches!(again, Err(StoreError::NameTaken { .. })),
        "{again:?}"
    );
}
