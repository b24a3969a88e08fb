//! Checks every store that keeps plans must pass: plans defined, listed and redefined, keys on
//! their own plan or their workspace's, moved between plans, unknown plans refused, and a
//! key's plan enforced by the layer.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use keygate::key::KeyId;
use keygate::plan::{Limit, LimitValue, Overrides, Period, Plan, PlanName};
use keygate::{
    ApiKeyLayer, KeyManager, KeyStore, KeyUpdate, MemoryRateLimiter, NewKey, PlanManager,
    StoreError, Workspace,
};
use tower::{ServiceExt, service_fn};

use super::store::unique_workspace;

/// Every store these checks run against.
pub trait PlanStore: KeyStore + KeyManager + PlanManager + 'static {}
impl<S: KeyStore + KeyManager + PlanManager + 'static> PlanStore for S {}

/// A plan name no other test uses, starting with `base`.
pub fn unique_plan(base: &str) -> PlanName {
    let id = KeyId::random().unwrap();
    format!("{base}-{}", id.as_str().to_ascii_lowercase())
        .parse()
        .unwrap()
}

/// A plan called `name` admitting `per_day` requests a UTC day.
pub fn daily(name: &PlanName, per_day: u64) -> Plan {
    Plan::new(
        name.clone(),
        vec![Limit::quota("daily".parse().unwrap(), per_day, Period::Day)],
    )
    .unwrap()
}

/// A fresh plan of `per_day` a day, defined in `store`.
async fn defined<S: PlanStore>(store: &S, base: &str, per_day: u64) -> Plan {
    let plan = daily(&unique_plan(base), per_day);
    store.put_plan(plan.clone()).await.unwrap();
    plan
}

fn key_in(workspace: &Workspace, name: &str) -> NewKey {
    NewKey::new(name.parse().unwrap(), "read:all".parse().unwrap()).workspace(workspace.clone())
}

/// The plan the store resolves for `id` on lookup.
async fn plan_of<S: PlanStore>(store: &S, id: &KeyId) -> Option<Plan> {
    store
        .get(id)
        .await
        .unwrap()
        .expect("the key is found")
        .plan
        .clone()
}

/// The plan name the store's listing shows for `id`.
async fn listed_plan<S: PlanStore>(store: &S, workspace: &Workspace, id: &KeyId) -> Option<String> {
    let info = store.info(workspace, id).await.unwrap();
    let listed = store.list(workspace).await.unwrap();
    let in_list = listed.iter().find(|k| k.id == *id).expect("listed");
    assert_eq!(in_list.plan, info.plan, "list and info agree");
    info.plan.map(|p| p.to_string())
}

pub async fn plans_are_put_listed_and_found_by_name<S: PlanStore>(store: S) {
    let b = defined(&store, "plan-b", 10).await;
    let a = defined(&store, "plan-a", 5).await;
    assert_eq!(store.plan(a.name()).await.unwrap(), Some(a.clone()));
    assert_eq!(store.plan(b.name()).await.unwrap(), Some(b.clone()));
    assert_eq!(store.plan(&unique_plan("nowhere")).await.unwrap(), None);
    let all = store.plans().await.unwrap();
    assert!(all.contains(&a) && all.contains(&b), "{all:?}");
    let names: Vec<_> = all.iter().map(|p| p.name().clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "plans are listed by name");
}

pub async fn a_key_on_its_own_plan_is_looked_up_and_listed_with_it<S: PlanStore>(store: S) {
    let plan = defined(&store, "own", 5).await;
    let workspace = unique_workspace("own");
    let created = store
        .create(key_in(&workspace, "ci").plan(plan.name().clone()))
        .await
        .unwrap();
    assert_eq!(created.info.plan.as_ref(), Some(plan.name()));
    assert_eq!(plan_of(&store, &created.info.id).await, Some(plan.clone()));
    assert_eq!(
        listed_plan(&store, &workspace, &created.info.id).await,
        Some(plan.name().to_string())
    );
}

pub async fn a_key_without_a_plan_of_its_own_is_on_its_workspaces_plan<S: PlanStore>(store: S) {
    let plan = defined(&store, "team", 5).await;
    let workspace = unique_workspace("team");
    let before = store.create(key_in(&workspace, "before")).await.unwrap();
    assert_eq!(plan_of(&store, &before.info.id).await, None);
    assert_eq!(store.workspace_plan(&workspace).await.unwrap(), None);

    store
        .set_workspace_plan(&workspace, Some(plan.name().clone()))
        .await
        .unwrap();
    assert_eq!(
        store.workspace_plan(&workspace).await.unwrap().as_ref(),
        Some(plan.name())
    );
    let after = store.create(key_in(&workspace, "after")).await.unwrap();
    assert_eq!(after.info.plan.as_ref(), Some(plan.name()));
    for id in [before.info.id, after.info.id] {
        assert_eq!(plan_of(&store, &id).await, Some(plan.clone()));
        assert_eq!(
            listed_plan(&store, &workspace, &id).await,
            Some(plan.name().to_string())
        );
    }
    // Another workspace's keys are not on it.
    let elsewhere = store
        .create(key_in(&unique_workspace("elsewhere"), "ci"))
        .await
        .unwrap();
    assert_eq!(plan_of(&store, &elsewhere.info.id).await, None);
}

pub async fn a_workspace_taken_off_its_plan_leaves_its_keys_on_none<S: PlanStore>(store: S) {
    let plan = defined(&store, "dropped", 5).await;
    let workspace = unique_workspace("dropped");
    store
        .set_workspace_plan(&workspace, Some(plan.name().clone()))
        .await
        .unwrap();
    let id = store
        .create(key_in(&workspace, "ci"))
        .await
        .unwrap()
        .info
        .id;
    assert_eq!(plan_of(&store, &id).await, Some(plan));
    store.set_workspace_plan(&workspace, None).await.unwrap();
    assert_eq!(store.workspace_plan(&workspace).await.unwrap(), None);
    assert_eq!(plan_of(&store, &id).await, None);
    assert_eq!(listed_plan(&store, &workspace, &id).await, None);
}

pub async fn a_keys_own_plan_beats_its_workspaces<S: PlanStore>(store: S) {
    let team = defined(&store, "team", 5).await;
    let own = defined(&store, "own", 50).await;
    let workspace = unique_workspace("both");
    store
        .set_workspace_plan(&workspace, Some(team.name().clone()))
        .await
        .unwrap();
    let id = store
        .create(key_in(&workspace, "ci").plan(own.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    assert_eq!(plan_of(&store, &id).await, Some(own.clone()));
    assert_eq!(
        listed_plan(&store, &workspace, &id).await,
        Some(own.name().to_string())
    );
}

pub async fn redefining_a_plan_changes_it_for_every_key_on_it<S: PlanStore>(store: S) {
    let plan = defined(&store, "changing", 5).await;
    let workspace = unique_workspace("changing");
    store
        .set_workspace_plan(&workspace, Some(plan.name().clone()))
        .await
        .unwrap();
    let own = store
        .create(key_in(&workspace, "own").plan(plan.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    let inherited = store
        .create(key_in(&workspace, "inherited"))
        .await
        .unwrap()
        .info
        .id;
    // Looked up once, so that a cache holds them.
    for id in [own, inherited] {
        assert_eq!(plan_of(&store, &id).await, Some(plan.clone()));
    }
    let bigger = daily(plan.name(), 500);
    store.put_plan(bigger.clone()).await.unwrap();
    assert_eq!(store.plan(plan.name()).await.unwrap(), Some(bigger.clone()));
    for id in [own, inherited] {
        assert_eq!(plan_of(&store, &id).await, Some(bigger.clone()));
    }
}

pub async fn a_key_moves_to_another_plan_and_back_to_its_workspaces<S: PlanStore>(store: S) {
    let team = defined(&store, "team", 5).await;
    let first = defined(&store, "first", 10).await;
    let second = defined(&store, "second", 20).await;
    let workspace = unique_workspace("moving");
    store
        .set_workspace_plan(&workspace, Some(team.name().clone()))
        .await
        .unwrap();
    let id = store
        .create(key_in(&workspace, "ci").plan(first.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    assert_eq!(plan_of(&store, &id).await, Some(first));

    let moved = store
        .update(
            &workspace,
            &id,
            KeyUpdate::new().plan(Some(second.name().clone())),
        )
        .await
        .unwrap();
    assert_eq!(moved.plan.as_ref(), Some(second.name()));
    assert_eq!(plan_of(&store, &id).await, Some(second));

    let back = store
        .update(&workspace, &id, KeyUpdate::new().plan(None))
        .await
        .unwrap();
    assert_eq!(back.plan.as_ref(), Some(team.name()));
    assert_eq!(plan_of(&store, &id).await, Some(team.clone()));
    // An update that does not name a plan leaves the key where it is.
    let renamed = store
        .update(
            &workspace,
            &id,
            KeyUpdate::new().name("renamed".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(renamed.plan.as_ref(), Some(team.name()));
}

fn is_invalid<T: std::fmt::Debug>(answer: &Result<T, StoreError>, plan: &PlanName) -> bool {
    matches!(answer, Err(StoreError::Invalid(why)) if why.contains(plan.as_str()))
}

pub async fn an_unknown_plan_is_refused_and_nothing_is_stored<S: PlanStore>(store: S) {
    let known = defined(&store, "known", 5).await;
    let unknown = unique_plan("unknown");
    let workspace = unique_workspace("refused");

    let created = store
        .create(key_in(&workspace, "ci").plan(unknown.clone()))
        .await;
    assert!(is_invalid(&created, &unknown), "{created:?}");
    assert!(store.list(&workspace).await.unwrap().is_empty());

    let id = store
        .create(key_in(&workspace, "ci").plan(known.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    let update = KeyUpdate::new()
        .name("renamed".parse().unwrap())
        .plan(Some(unknown.clone()));
    let updated = store.update(&workspace, &id, update).await;
    assert!(is_invalid(&updated, &unknown), "{updated:?}");
    let info = store.info(&workspace, &id).await.unwrap();
    assert_eq!(info.name.as_str(), "ci", "nothing changed");
    assert_eq!(info.plan.as_ref(), Some(known.name()));
    assert_eq!(plan_of(&store, &id).await, Some(known.clone()));

    store
        .set_workspace_plan(&workspace, Some(known.name().clone()))
        .await
        .unwrap();
    let set = store
        .set_workspace_plan(&workspace, Some(unknown.clone()))
        .await;
    assert!(is_invalid(&set, &unknown), "{set:?}");
    assert_eq!(
        store.workspace_plan(&workspace).await.unwrap().as_ref(),
        Some(known.name())
    );
    assert_eq!(store.plan(&unknown).await.unwrap(), None);
}

/// A request for `/` with `key`, through `service`, answered as (status, JSON body).
async fn call<S>(service: &S, key: &str) -> (StatusCode, serde_json::Value)
where
    S: tower::Service<
            Request<Full<Bytes>>,
            Response = http::Response<keygate::ResponseBody<Full<Bytes>>>,
        > + Clone,
    S::Error: std::fmt::Debug,
{
    let request = Request::get("/")
        .header("authorization", format!("Bearer {key}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, body)
}

pub async fn a_key_on_a_trial_plan_gets_five_200s_then_429_quota_exceeded_naming_it<
    S: PlanStore,
>(
    store: S,
) {
    let trial = defined(&store, "trial", 5).await;
    let workspace = unique_workspace("trial");
    let created = store
        .create(key_in(&workspace, "ci-pipeline").plan(trial.name().clone()))
        .await
        .unwrap();
    let key = created.plaintext.expose_secret().to_owned();
    let store = Arc::new(store);
    let layer = ApiKeyLayer::builder(Arc::clone(&store), MemoryRateLimiter::new()).build();
    let service = tower::ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::new())))
        }));
    for i in 0..5 {
        let (status, body) = call(&service, &key).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
    }
    let (status, body) = call(&service, &key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "quota_exceeded");
    assert_eq!(body["limit"], "daily");
    assert_eq!(body["plan"], trial.name().as_str());
}

// Overrides: a key's own values for its plan's limits.

fn limit(name: &str) -> keygate::plan::LimitName {
    name.parse().unwrap()
}

/// A plan called `name` with `daily` (`per_day` a day, per key), `burst` (a rate, per key) and
/// `team` (9 a day, shared by the workspace).
fn with_three_limits(name: &PlanName, per_day: u64) -> Plan {
    Plan::new(
        name.clone(),
        vec![
            Limit::quota(limit("daily"), per_day, Period::Day),
            Limit::rate(
                limit("burst"),
                keygate::Quota::new(10, std::time::Duration::from_millis(100)).unwrap(),
            ),
            Limit::quota(limit("team"), 9, Period::Day)
                .shared_by(keygate::plan::Sharing::Workspace),
        ],
    )
    .unwrap()
}

async fn defined_with_three<S: PlanStore>(store: &S, base: &str, per_day: u64) -> Plan {
    let plan = with_three_limits(&unique_plan(base), per_day);
    store.put_plan(plan.clone()).await.unwrap();
    plan
}

/// `daily` raised to `max`.
fn daily_max(max: u64) -> Overrides {
    Overrides::new(vec![(limit("daily"), LimitValue::Max(max))]).unwrap()
}

/// A key named `name` in `workspace` on `plan`, with `daily` raised to 7.
async fn raised_key<S: PlanStore>(
    store: &S,
    plan: &Plan,
    workspace: &Workspace,
    name: &str,
) -> KeyId {
    store
        .create(
            key_in(workspace, name)
                .plan(plan.name().clone())
                .overrides(daily_max(7)),
        )
        .await
        .unwrap()
        .info
        .id
}

/// The overrides the store's info and listing show for `id` (which must agree).
async fn listed_overrides<S: PlanStore>(store: &S, workspace: &Workspace, id: &KeyId) -> Overrides {
    let info = store.info(workspace, id).await.unwrap();
    let listed = store.list(workspace).await.unwrap();
    let in_list = listed.iter().find(|k| k.id == *id).expect("listed");
    assert_eq!(in_list.overrides, info.overrides, "list and info agree");
    info.overrides
}

fn capacity(plan: &Option<Plan>, name: &str) -> u64 {
    plan.as_ref()
        .expect("on a plan")
        .limit(name)
        .expect("the plan has the limit")
        .capacity()
}

pub async fn an_override_set_at_creation_is_applied_at_lookup_and_listed<S: PlanStore>(store: S) {
    let plan = defined_with_three(&store, "raised", 5).await;
    let workspace = unique_workspace("raised");
    let created = store
        .create(
            key_in(&workspace, "ci")
                .plan(plan.name().clone())
                .overrides(daily_max(7)),
        )
        .await
        .unwrap();
    assert_eq!(created.info.overrides, daily_max(7));
    let id = created.info.id;
    let effective = plan_of(&store, &id).await;
    assert_eq!(effective, Some(plan.with_overrides(&daily_max(7))));
    assert_eq!(capacity(&effective, "daily"), 7);
    assert_eq!(effective.unwrap().name(), plan.name(), "same plan name");
    assert_eq!(
        listed_overrides(&store, &workspace, &id).await,
        daily_max(7)
    );
    // A sibling on the same plan without an override is on the plan as defined.
    let sibling = store
        .create(key_in(&workspace, "sibling").plan(plan.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    assert_eq!(plan_of(&store, &sibling).await, Some(plan));
    assert!(
        listed_overrides(&store, &workspace, &sibling)
            .await
            .is_empty()
    );
}

pub async fn an_override_set_by_an_update_applies_and_an_empty_one_clears_it<S: PlanStore>(
    store: S,
) {
    let plan = defined_with_three(&store, "updated", 5).await;
    let workspace = unique_workspace("updated");
    store
        .set_workspace_plan(&workspace, Some(plan.name().clone()))
        .await
        .unwrap();
    // On its workspace's plan: overrides apply there too.
    let id = store
        .create(key_in(&workspace, "ci"))
        .await
        .unwrap()
        .info
        .id;
    assert_eq!(plan_of(&store, &id).await, Some(plan.clone()));
    let rate = keygate::Quota::new(200, std::time::Duration::from_millis(10)).unwrap();
    let both = Overrides::new(vec![
        (limit("daily"), LimitValue::Max(1_000)),
        (limit("burst"), LimitValue::Rate(rate)),
    ])
    .unwrap();
    let info = store
        .update(&workspace, &id, KeyUpdate::new().overrides(both.clone()))
        .await
        .unwrap();
    assert_eq!(info.overrides, both);
    let effective = plan_of(&store, &id).await;
    assert_eq!(capacity(&effective, "daily"), 1_000);
    assert_eq!(capacity(&effective, "burst"), 200);
    assert_eq!(capacity(&effective, "team"), 9);

    // An update that does not name overrides keeps them.
    store
        .update(
            &workspace,
            &id,
            KeyUpdate::new().name("renamed".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(listed_overrides(&store, &workspace, &id).await, both);
    assert_eq!(plan_of(&store, &id).await, effective);

    let cleared = store
        .update(
            &workspace,
            &id,
            KeyUpdate::new().overrides(Overrides::empty()),
        )
        .await
        .unwrap();
    assert!(cleared.overrides.is_empty());
    assert_eq!(plan_of(&store, &id).await, Some(plan));
    assert!(listed_overrides(&store, &workspace, &id).await.is_empty());
}

pub async fn an_override_is_kept_when_its_plan_is_redefined<S: PlanStore>(store: S) {
    let plan = defined_with_three(&store, "redefined", 5).await;
    let workspace = unique_workspace("redefined");
    let id = raised_key(&store, &plan, &workspace, "ci").await;
    // Looked up once, so that a cache holds it.
    assert_eq!(capacity(&plan_of(&store, &id).await, "daily"), 7);
    let redefined = with_three_limits(plan.name(), 50);
    let redefined = Plan::new(
        plan.name().clone(),
        redefined
            .limits()
            .iter()
            .cloned()
            .chain([Limit::quota(
                limit("monthly"),
                1_000,
                Period::Month(keygate::plan::AnchorDay::FIRST),
            )])
            .collect(),
    )
    .unwrap();
    store.put_plan(redefined.clone()).await.unwrap();
    let effective = plan_of(&store, &id).await;
    assert_eq!(effective, Some(redefined.with_overrides(&daily_max(7))));
    assert_eq!(capacity(&effective, "daily"), 7, "the override is kept");
    assert_eq!(
        capacity(&effective, "monthly"),
        1_000,
        "the new limit applies"
    );
}

pub async fn an_override_the_redefined_plan_no_longer_fits_is_skipped_not_an_error<S: PlanStore>(
    store: S,
) {
    let plan = defined_with_three(&store, "reshaped", 5).await;
    let workspace = unique_workspace("reshaped");
    let id = raised_key(&store, &plan, &workspace, "ci").await;
    assert_eq!(capacity(&plan_of(&store, &id).await, "daily"), 7);
    // `daily` becomes shared by the workspace: one key can no longer change it.
    let shared = Plan::new(
        plan.name().clone(),
        vec![
            Limit::quota(limit("daily"), 20, Period::Day)
                .shared_by(keygate::plan::Sharing::Workspace),
        ],
    )
    .unwrap();
    store.put_plan(shared.clone()).await.unwrap();
    assert_eq!(plan_of(&store, &id).await, Some(shared.clone()));
    // Still stored, and shown; and it applies again once the plan fits it.
    assert_eq!(
        listed_overrides(&store, &workspace, &id).await,
        daily_max(7)
    );
    store.put_plan(plan.clone()).await.unwrap();
    assert_eq!(capacity(&plan_of(&store, &id).await, "daily"), 7);
}

fn is_refused<T: std::fmt::Debug>(answer: &Result<T, StoreError>, says: &str) -> bool {
    matches!(answer, Err(StoreError::Invalid(why)) if why.contains(says))
}

pub async fn overrides_that_do_not_fit_the_plan_are_refused_and_nothing_changes<S: PlanStore>(
    store: S,
) {
    let plan = defined_with_three(&store, "refusing", 5).await;
    let workspace = unique_workspace("refusing");
    let unknown = Overrides::new(vec![(limit("weekly"), LimitValue::Max(5))]).unwrap();
    let created = store
        .create(
            key_in(&workspace, "ci")
                .plan(plan.name().clone())
                .overrides(unknown.clone()),
        )
        .await;
    assert!(is_refused(&created, "weekly"), "{created:?}");
    // A key on no plan has nothing to override.
    let created = store
        .create(key_in(&workspace, "ci").overrides(daily_max(7)))
        .await;
    assert!(is_refused(&created, "no plan"), "{created:?}");
    assert!(
        store.list(&workspace).await.unwrap().is_empty(),
        "nothing stored"
    );

    let id = raised_key(&store, &plan, &workspace, "ci").await;
    let shared = Overrides::new(vec![(limit("team"), LimitValue::Max(1_000))]).unwrap();
    let kind = Overrides::new(vec![(
        limit("daily"),
        LimitValue::Credits {
            initial: 5,
            refill: None,
        },
    )])
    .unwrap();
    for (overrides, says) in [(unknown, "weekly"), (shared, "team"), (kind, "daily")] {
        let update = KeyUpdate::new()
            .name("renamed".parse().unwrap())
            .overrides(overrides);
        let updated = store.update(&workspace, &id, update).await;
        assert!(is_refused(&updated, says), "{updated:?}");
        let info = store.info(&workspace, &id).await.unwrap();
        assert_eq!(info.name.as_str(), "ci", "nothing changed");
        assert_eq!(info.overrides, daily_max(7));
        assert_eq!(capacity(&plan_of(&store, &id).await, "daily"), 7);
    }
}

pub async fn overrides_are_checked_against_the_plan_the_update_moves_the_key_to<S: PlanStore>(
    store: S,
) {
    let small = defined(&store, "small", 5).await;
    let big = Plan::new(
        unique_plan("big"),
        vec![
            Limit::quota(limit("daily"), 50, Period::Day),
            Limit::quota(
                limit("monthly"),
                500,
                Period::Month(keygate::plan::AnchorDay::FIRST),
            ),
        ],
    )
    .unwrap();
    store.put_plan(big.clone()).await.unwrap();
    let workspace = unique_workspace("moving-with");
    let id = store
        .create(key_in(&workspace, "ci").plan(small.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    let monthly = Overrides::new(vec![(limit("monthly"), LimitValue::Max(900))]).unwrap();
    // `small` has no `monthly`: refused there.
    let refused = store
        .update(&workspace, &id, KeyUpdate::new().overrides(monthly.clone()))
        .await;
    assert!(is_refused(&refused, "monthly"), "{refused:?}");
    // Moving to `big` and setting it in one update is checked against `big`.
    let moved = store
        .update(
            &workspace,
            &id,
            KeyUpdate::new()
                .plan(Some(big.name().clone()))
                .overrides(monthly.clone()),
        )
        .await
        .unwrap();
    assert_eq!(moved.plan.as_ref(), Some(big.name()));
    assert_eq!(capacity(&plan_of(&store, &id).await, "monthly"), 900);
    // Moving back keeps the override stored; `small` has no `monthly`, so it is skipped.
    store
        .update(
            &workspace,
            &id,
            KeyUpdate::new().plan(Some(small.name().clone())),
        )
        .await
        .unwrap();
    assert_eq!(plan_of(&store, &id).await, Some(small));
    assert_eq!(listed_overrides(&store, &workspace, &id).await, monthly);
}

pub async fn another_workspaces_key_is_untouched_by_overrides<S: PlanStore>(store: S) {
    let plan = defined_with_three(&store, "tenants", 5).await;
    let acme = unique_workspace("acme");
    let globex = unique_workspace("globex");
    let ours = store
        .create(key_in(&acme, "ci").plan(plan.name().clone()))
        .await
        .unwrap()
        .info
        .id;
    let theirs = raised_key(&store, &plan, &globex, "ci").await;
    // acme's key is on the plan as defined.
    assert_eq!(plan_of(&store, &ours).await, Some(plan.clone()));
    // acme cannot set or clear globex's overrides: not found, and nothing changes.
    for overrides in [daily_max(1_000), Overrides::empty()] {
        let answer = store
            .update(&acme, &theirs, KeyUpdate::new().overrides(overrides))
            .await;
        assert!(matches!(answer, Err(StoreError::NotFound(_))), "{answer:?}");
    }
    assert_eq!(
        listed_overrides(&store, &globex, &theirs).await,
        daily_max(7)
    );
    assert_eq!(capacity(&plan_of(&store, &theirs).await, "daily"), 7);
}
