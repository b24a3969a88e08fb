//! Two instances on one database, each with its own pool, cache and layer: a change made
//! through one (to a key, or to a plan) reaches the other's cache through LISTEN/NOTIFY within
//! a second, although the caches' TTL is ten minutes.

mod common;
mod conformance;
mod postgres_common;

use keygate::Workspace;
use std::time::{Duration, Instant};

use common::{Answer, Svc, get, send, with_key};
use http::StatusCode;
use keygate::key::KeyId;
use keygate::plan::Plan;
use keygate::store::cache::CachedKeyStore;
use keygate::store::postgres::PostgresKeyStore;
use keygate::{KeyManager, KeyStore, KeyUpdate, NewKey, PlanManager};

const TTL: Duration = Duration::from_secs(600);

struct Instance {
    cache: CachedKeyStore<PostgresKeyStore>,
    service: Svc,
}

async fn instance() -> Option<Instance> {
    let store = postgres_common::store().await?;
    let cache = postgres_common::cached(&store, TTL);
    postgres_common::until_listening(&store).await;
    Some(Instance {
        service: postgres_common::service(cache.clone()),
        cache,
    })
}

async fn two_instances() -> Option<(Instance, Instance)> {
    Some((instance().await?, instance().await?))
}

async fn key(instance: &Instance, scopes: &str) -> (KeyId, String) {
    let unique = KeyId::random().unwrap().as_str().to_ascii_lowercase();
    let created = instance
        .cache
        .create(NewKey::new(
            format!("shared-{unique}").parse().unwrap(),
            scopes.parse().unwrap(),
        ))
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

/// Sends `request()` through `svc` until `done` holds of the answer, for at most `within`.
async fn until(
    svc: &Svc,
    within: Duration,
    request: impl Fn() -> http::Request<http_body_util::Full<bytes::Bytes>>,
    done: impl Fn(&Answer) -> bool,
) -> Answer {
    let deadline = Instant::now() + within;
    loop {
        let answer = send(svc, request()).await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "still {} {} after {within:?}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_is_refused_by_the_other_instance_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (id, plaintext) = key(&a, "read:all").await;
    accepted_and_cached(&b, &plaintext).await;
    a.cache.revoke(&Workspace::default(), &id).await.unwrap();
    let answer = until_refused(&b, &plaintext).await;
    assert_eq!(answer.code(), "revoked_api_key");
}

/// Sends `plaintext` to `instance` a few times: accepted, and then cached as valid.
async fn accepted_and_cached(instance: &Instance, plaintext: &str) {
    for _ in 0..3 {
        let answer = send(&instance.service, with_key(get("/"), plaintext)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}

/// Sends `plaintext` to `instance` until it is refused, for at most a second.
async fn until_refused(instance: &Instance, plaintext: &str) -> Answer {
    until(
        &instance.service,
        Duration::from_secs(1),
        || with_key(get("/"), plaintext),
        |answer| answer.status != StatusCode::OK,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_key_is_refused_by_the_other_instance_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (id, plaintext) = key(&a, "read:all").await;
    accepted_and_cached(&b, &plaintext).await;
    a.cache.disable(&Workspace::default(), &id).await.unwrap();
    let answer = until_refused(&b, &plaintext).await;
    assert_eq!(answer.code(), "disabled_api_key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_enabled_again_is_accepted_by_the_other_instance_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (id, plaintext) = key(&a, "read:all").await;
    a.cache.disable(&Workspace::default(), &id).await.unwrap();
    let answer = until_refused(&b, &plaintext).await;
    assert_eq!(answer.code(), "disabled_api_key", "cached as disabled");
    a.cache.enable(&Workspace::default(), &id).await.unwrap();
    until(
        &b.service,
        Duration::from_secs(1),
        || with_key(get("/"), &plaintext),
        |answer| answer.status == StatusCode::OK,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_key_is_unknown_to_the_other_instance_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (id, plaintext) = key(&a, "read:all").await;
    accepted_and_cached(&b, &plaintext).await;
    a.cache.delete(&Workspace::default(), &id).await.unwrap();
    let answer = until_refused(&b, &plaintext).await;
    assert_eq!(answer.code(), "invalid_api_key");
    assert!(b.cache.get(&id).await.unwrap().is_none(), "no record kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_change_through_one_instance_applies_in_the_other_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (id, plaintext) = key(&a, "read:all").await;
    let post = || with_key(http::Request::post("/"), &plaintext);
    assert_eq!(send(&b.service, post()).await.code(), "insufficient_scope");
    a.cache
        .update(
            &Workspace::default(),
            &id,
            KeyUpdate::new().scopes("write:all".parse().unwrap()),
        )
        .await
        .unwrap();
    until(&b.service, Duration::from_secs(1), post, |answer| {
        answer.status == StatusCode::OK
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_secret_without_grace_is_refused_by_the_other_instance_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (id, old) = key(&a, "read:all").await;
    assert_eq!(
        send(&b.service, with_key(get("/"), &old)).await.status,
        StatusCode::OK
    );
    let new = a
        .cache
        .rotate(&Workspace::default(), &id, Duration::ZERO)
        .await
        .unwrap();
    let answer = until(
        &b.service,
        Duration::from_secs(1),
        || with_key(get("/"), &old),
        |answer| answer.status != StatusCode::OK,
    )
    .await;
    assert_eq!(answer.code(), "invalid_api_key");
    let answer = send(
        &b.service,
        with_key(get("/"), new.plaintext.expose_secret()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// Looks `id` up through `instance`'s cache until its plan is `expected`, for at most a second.
async fn until_on(instance: &Instance, id: &KeyId, expected: Option<&Plan>) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let record = instance.cache.get(id).await.unwrap().unwrap();
        if record.plan.as_ref() == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still on {:?} after 1 s",
            record.plan
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_redefined_through_one_instance_reaches_the_others_cache_within_a_second() {
    use conformance::plans::{daily, unique_plan};
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let plan = daily(&unique_plan("trial"), 5);
    a.cache.put_plan(plan.clone()).await.unwrap();
    let id = a
        .cache
        .create(
            NewKey::new("on-plan".parse().unwrap(), "read:all".parse().unwrap())
                .workspace(conformance::store::unique_workspace("notify"))
                .plan(plan.name().clone()),
        )
        .await
        .unwrap()
        .info
        .id;
    // B caches the key on the plan as first defined.
    until_on(&b, &id, Some(&plan)).await;
    let bigger = daily(plan.name(), 500);
    a.cache.put_plan(bigger.clone()).await.unwrap();
    until_on(&b, &id, Some(&bigger)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_moved_to_a_plan_through_one_instance_reaches_the_others_cache_within_a_second()
{
    use conformance::plans::{daily, unique_plan};
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let plan = daily(&unique_plan("team"), 5);
    a.cache.put_plan(plan.clone()).await.unwrap();
    let workspace = conformance::store::unique_workspace("notify");
    let id = a
        .cache
        .create(
            NewKey::new("inherits".parse().unwrap(), "read:all".parse().unwrap())
                .workspace(workspace.clone()),
        )
        .await
        .unwrap()
        .info
        .id;
    until_on(&b, &id, None).await;
    a.cache
        .set_workspace_plan(&workspace, Some(plan.name().clone()))
        .await
        .unwrap();
    until_on(&b, &id, Some(&plan)).await;
    a.cache.set_workspace_plan(&workspace, None).await.unwrap();
    until_on(&b, &id, None).await;
}
