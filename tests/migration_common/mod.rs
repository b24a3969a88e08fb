//! What the migration tests check once a database made by an older keygate (before workspaces,
//! schema version 1, or before plans, version 2) has been opened by this version, whatever the
//! store.

#![allow(dead_code)]

use std::time::Duration;

use http::StatusCode;
use keygate::key::KeyId;
use keygate::plan::{Limit, Period, Plan};
use keygate::{
    ApiKeyLayer, IpAllowlist, KeyManager, KeyStore, KeyUpdate, MemoryRateLimiter, NewKey,
    PlanManager, StoreError, Workspace,
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

/// The only key of a database from before plans, `id` with `plaintext`: it authenticates, is on
/// no plan (nor is its workspace), and can be put on a plan defined after the migration.
pub async fn old_key_is_on_no_plan_until_put_on_one<S>(store: S, id: KeyId, plaintext: &str)
where
    S: KeyStore + KeyManager + PlanManager + Clone,
{
    authenticates(store.clone(), plaintext).await;
    let default = Workspace::default();
    assert!(store.get(&id).await.unwrap().unwrap().plan.is_none());
    assert_eq!(store.info(&default, &id).await.unwrap().plan, None);
    assert_eq!(store.workspace_plan(&default).await.unwrap(), None);
    assert!(store.plans().await.unwrap().is_empty());

    let trial = Plan::new(
        "trial".parse().unwrap(),
        vec![Limit::quota("daily".parse().unwrap(), 5, Period::Day)],
    )
    .unwrap();
    store.put_plan(trial.clone()).await.unwrap();
    let moved = KeyUpdate::new().plan(Some(trial.name().clone()));
    store.update(&default, &id, moved).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap().unwrap().plan, Some(trial));
    authenticates(store, plaintext).await;
}

/// A key of a database from before overrides, `id` with `plaintext`, on the plan `trial` (5 a
/// day, defined before the migration): it authenticates, is still on `trial` as defined with no
/// overrides, and can be given one.
pub async fn old_key_keeps_its_plan_and_can_be_given_overrides<S>(
    store: S,
    id: KeyId,
    plaintext: &str,
) where
    S: KeyStore + KeyManager + PlanManager + Clone,
{
    use keygate::plan::{LimitValue, Overrides};

    authenticates(store.clone(), plaintext).await;
    let default = Workspace::default();
    let trial = store
        .plan(&"trial".parse().unwrap())
        .await
        .unwrap()
        .expect("trial survives the migration");
    assert_eq!(trial.limit("daily").unwrap().capacity(), 5);
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().plan,
        Some(trial.clone())
    );
    assert!(
        store
            .info(&default, &id)
            .await
            .unwrap()
            .overrides
            .is_empty()
    );

    let raised = Overrides::new(vec![("daily".parse().unwrap(), LimitValue::Max(7))]).unwrap();
    let info = store
        .update(&default, &id, KeyUpdate::new().overrides(raised.clone()))
        .await
        .unwrap();
    assert_eq!(info.overrides, raised);
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.plan, Some(trial.with_overrides(&raised)));
    authenticates(store, plaintext).await;
}

/// The only key of a database from before allowlists, `id` with `plaintext`: it may be used
/// from anywhere, authenticates, and can be given an allowlist (IPv4 and IPv6) that reads back.
pub async fn old_key_is_allowed_anywhere_until_given_a_list<S>(store: S, id: KeyId, plaintext: &str)
where
    S: KeyStore + KeyManager + Clone,
{
    let default = Workspace::default();
    assert!(store.get(&id).await.unwrap().unwrap().allowed_ips.is_any());
    assert!(
        store
            .info(&default, &id)
            .await
            .unwrap()
            .allowed_ips
            .is_any()
    );
    authenticates(store.clone(), plaintext).await;

    let list: IpAllowlist = "192.0.2.0/24, 2001:db8::/32".parse().unwrap();
    let update = KeyUpdate::new().allowed_ips(list.clone());
    let updated = store.update(&default, &id, update).await.unwrap();
    assert_eq!(updated.allowed_ips, list);
    assert_eq!(store.get(&id).await.unwrap().unwrap().allowed_ips, list);
}
