//! Checks every key store must pass.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use keygate::key::KeyId;
use keygate::key::{self, KeyPrefix};
use keygate::{
    CreatedKey, KeyInfo, KeyManager, KeyName, KeyStore, KeyUpdate, Metadata, NewKey, Quota, Scope,
    Scopes, StoreError, Workspace,
};

/// A name no other test uses, so that stores shared between tests stay apart.
pub fn unique_name(base: &str) -> keygate::KeyName {
    let id = KeyId::random().unwrap();
    format!("{base}-{}", id.as_str().to_ascii_lowercase())
        .parse()
        .unwrap()
}

fn new_key(base: &str, scopes: &str) -> NewKey {
    NewKey::new(unique_name(base), scopes.parse().unwrap())
}

/// A workspace no other test uses, so that stores shared between tests stay apart.
pub fn unique_workspace(base: &str) -> Workspace {
    let id = KeyId::random().unwrap();
    format!("{base}-{}", id.as_str().to_ascii_lowercase())
        .parse()
        .unwrap()
}

/// A key named `name` in `workspace`.
fn key_in(workspace: &Workspace, name: &KeyName) -> NewKey {
    NewKey::new(name.clone(), "read:all".parse().unwrap()).workspace(workspace.clone())
}

fn metadata(json: &str) -> Metadata {
    Metadata::from_json(json).unwrap()
}

/// Whether `created`'s plaintext still matches what the store answers for its id, the way the
/// layer checks it.
async fn still_authenticates<S: KeyStore>(store: &S, created: &CreatedKey) -> bool {
    let text = created.plaintext.expose_secret();
    let parsed = key::parse(text, &prefix_of(text)).unwrap();
    match store.get(&created.info.id).await.unwrap() {
        Some(record) => {
            parsed.digest().ct_eq(&record.digest)
                && record.status_at(SystemTime::now()) == keygate::KeyStatus::Active
        }
        None => false,
    }
}

/// Creates a key and returns its id.
async fn id_of<S: KeyManager>(store: &S, new: NewKey) -> KeyId {
    store.create(new).await.unwrap().info.id
}

/// `info` without the last-use time, which the store may write at any moment.
pub fn unused(mut info: KeyInfo) -> KeyInfo {
    info.last_used_at = None;
    info
}

fn close(a: SystemTime, b: SystemTime, tolerance: Duration) -> bool {
    let d = a.duration_since(b).unwrap_or_else(|e| e.duration());
    d <= tolerance
}

/// The prefix of a plaintext key.
fn prefix_of(plaintext: &str) -> KeyPrefix {
    plaintext.split('_').next().unwrap().parse().unwrap()
}

pub async fn created_key_is_found_by_id_with_only_its_digest<S: KeyStore + KeyManager>(store: S) {
    let created = store
        .create(new_key("ci-pipeline", "read:all,write:all"))
        .await
        .unwrap();
    let text = created.plaintext.expose_secret();
    let parsed = key::parse(text, &prefix_of(text)).unwrap();
    assert_eq!(parsed.id(), created.info.id);
    let record = store
        .get(&created.info.id)
        .await
        .unwrap()
        .expect("created key is found");
    assert!(parsed.digest().ct_eq(&record.digest));
    assert_eq!(record.name, created.info.name);
    assert_eq!(record.scopes.to_string(), "read:all,write:all");
    assert!(record.revoked_at.is_none() && record.previous.is_none());
    assert!(!format!("{record:?}").contains(&text[text.len() - 49..]));
}

pub async fn unknown_id_is_not_found<S: KeyStore + KeyManager>(store: S) {
    let id = KeyId::random().unwrap();
    assert!(store.get(&id).await.unwrap().is_none());
    assert!(matches!(
        store.info(&Workspace::default(), &id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.revoke(&Workspace::default(), &id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .rotate(&Workspace::default(), &id, Duration::from_secs(1))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let update = KeyUpdate::new().name("x".parse().unwrap());
    assert!(matches!(
        store.update(&Workspace::default(), &id, update).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn key_without_scopes_is_refused_and_nothing_is_stored<S: KeyStore + KeyManager>(
    store: S,
) {
    let name = unique_name("no-scopes");
    let refused = store
        .create(NewKey::new(name.clone(), Scopes::empty()))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    let listed = store.list(&Workspace::default()).await.unwrap();
    assert!(listed.iter().all(|k| k.name != name));
}

pub async fn expiry_in_the_past_is_refused<S: KeyStore + KeyManager>(store: S) {
    let name = unique_name("expired");
    let new = NewKey::new(name.clone(), "read:all".parse().unwrap())
        .expires_at(SystemTime::now() - Duration::from_secs(60));
    assert!(matches!(
        store.create(new).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        store
            .list(&Workspace::default())
            .await
            .unwrap()
            .iter()
            .all(|k| k.name != name)
    );
}

pub async fn listing_shows_created_keys_without_secrets<S: KeyStore + KeyManager>(store: S) {
    let a = store.create(new_key("first", "read:all")).await.unwrap();
    let b = store.create(new_key("second", "admin")).await.unwrap();
    let listed = store.list(&Workspace::default()).await.unwrap();
    let pos = |id: KeyId| listed.iter().position(|k| k.id == id).expect("listed");
    assert!(pos(a.info.id) < pos(b.info.id), "oldest first");
    let shown = format!("{listed:?}");
    for created in [&a, &b] {
        let text = created.plaintext.expose_secret();
        assert!(!shown.contains(&text[text.len() - 49..]));
    }
    assert_eq!(listed[pos(b.info.id)].scopes.to_string(), "admin");
}

pub async fn update_changes_name_and_scopes_only<S: KeyStore + KeyManager>(store: S) {
    let created = store.create(new_key("ci", "read:all")).await.unwrap();
    let new_name = unique_name("renamed");
    let info = store
        .update(
            &Workspace::default(),
            &created.info.id,
            KeyUpdate::new()
                .name(new_name.clone())
                .scopes(Scopes::new([Scope::ReadAll, Scope::WriteAll])),
        )
        .await
        .unwrap();
    assert_eq!(info.name, new_name);
    assert_eq!(info.scopes.to_string(), "read:all,write:all");
    let record = store.get(&created.info.id).await.unwrap().unwrap();
    assert_eq!(record.name, new_name);
    assert!(record.scopes.grants(&Scope::WriteAll));
    let text = created.plaintext.expose_secret();
    assert!(
        key::parse(text, &prefix_of(text))
            .unwrap()
            .digest()
            .ct_eq(&record.digest)
    );
    let empty = store
        .update(
            &Workspace::default(),
            &created.info.id,
            KeyUpdate::new().scopes(Scopes::empty()),
        )
        .await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))));
    assert_eq!(
        store
            .info(&Workspace::default(), &created.info.id)
            .await
            .unwrap()
            .scopes
            .to_string(),
        "read:all,write:all"
    );
}

pub async fn revoked_key_cannot_be_updated_or_rotated<S: KeyStore + KeyManager>(store: S) {
    let id = store
        .create(new_key("ci", "read:all"))
        .await
        .unwrap()
        .info
        .id;
    store.revoke(&Workspace::default(), &id).await.unwrap();
    let update = KeyUpdate::new().scopes("admin".parse().unwrap());
    assert!(matches!(
        store.update(&Workspace::default(), &id, update).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .rotate(&Workspace::default(), &id, Duration::from_secs(60))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .scopes
            .to_string(),
        "read:all"
    );
}

pub async fn revocation_is_recorded_once<S: KeyStore + KeyManager>(store: S) {
    let id = store
        .create(new_key("ci", "read:all"))
        .await
        .unwrap()
        .info
        .id;
    let first = store
        .revoke(&Workspace::default(), &id)
        .await
        .unwrap()
        .revoked_at
        .expect("revoked");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store
        .revoke(&Workspace::default(), &id)
        .await
        .unwrap()
        .revoked_at
        .expect("still revoked");
    assert_eq!(first, second);
    let record = store.get(&id).await.unwrap().unwrap();
    assert!(record.revoked_at.is_some());
}

pub async fn rotation_keeps_the_id_and_the_old_digest_for_the_grace_period<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let created = store.create(new_key("ci", "read:all")).await.unwrap();
    let old_text = created.plaintext.expose_secret();
    let old = key::parse(old_text, &prefix_of(old_text)).unwrap().digest();
    let before = SystemTime::now();
    let rotated = store
        .rotate(
            &Workspace::default(),
            &created.info.id,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert_eq!(rotated.info.id, created.info.id);
    let new_text = rotated.plaintext.expose_secret();
    assert_ne!(new_text, old_text);
    let new = key::parse(new_text, &prefix_of(new_text)).unwrap().digest();
    let record = store.get(&created.info.id).await.unwrap().unwrap();
    assert!(record.digest.ct_eq(&new));
    let previous = record.previous.expect("previous secret kept");
    assert!(previous.digest.ct_eq(&old));
    assert!(close(
        previous.valid_until,
        before + Duration::from_secs(3600),
        Duration::from_secs(5)
    ));
}

pub async fn rotation_without_grace_keeps_no_previous_secret<S: KeyStore + KeyManager>(store: S) {
    let id = store
        .create(new_key("ci", "read:all"))
        .await
        .unwrap()
        .info
        .id;
    store
        .rotate(&Workspace::default(), &id, Duration::ZERO)
        .await
        .unwrap();
    assert!(store.get(&id).await.unwrap().unwrap().previous.is_none());
}

pub async fn per_key_quota_and_expiry_round_trip<S: KeyStore + KeyManager>(store: S) {
    let quota = Quota::new(5, Duration::from_secs(1)).unwrap();
    let expires = SystemTime::now() + Duration::from_secs(86_400);
    let created = store
        .create(
            new_key("local-dev", "read:all")
                .quota(quota)
                .expires_at(expires),
        )
        .await
        .unwrap();
    let record = store.get(&created.info.id).await.unwrap().unwrap();
    assert_eq!(record.quota, Some(quota));
    assert!(close(
        record.expires_at.unwrap(),
        expires,
        Duration::from_millis(1)
    ));
    let info = store
        .update(
            &Workspace::default(),
            &created.info.id,
            KeyUpdate::new().quota(None).expires_at(None),
        )
        .await
        .unwrap();
    assert_eq!(info.quota, None);
    assert_eq!(info.expires_at, None);
}

pub async fn touch_records_the_last_use<S: KeyStore + KeyManager>(store: S) {
    let id = store
        .create(new_key("ci", "read:all"))
        .await
        .unwrap()
        .info
        .id;
    assert_eq!(
        store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at,
        None
    );
    store.touch(&id);
    // Stores may write uses behind the hot path, in batches: give them time.
    for _ in 0..100 {
        if let Some(at) = store
            .info(&Workspace::default(), &id)
            .await
            .unwrap()
            .last_used_at
        {
            assert!(close(at, SystemTime::now(), Duration::from_secs(10)));
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the use of key {id} was not recorded within 5 seconds");
}

/// Adds `add` to and removes `remove` from a key's scopes, as an operator's edit does.
async fn edit_scopes<S: KeyManager>(
    store: &S,
    id: &KeyId,
    add: Option<Scope>,
    remove: Option<Scope>,
) {
    let edit = KeyUpdate::new()
        .add_scopes(Scopes::new(add))
        .remove_scopes(Scopes::new(remove));
    store.update(&Workspace::default(), id, edit).await.unwrap();
}

pub async fn concurrent_scope_edits_are_all_applied<S: KeyStore + KeyManager + 'static>(store: S) {
    const EDITS: usize = 16;
    let seeded: Vec<Scope> = (0..EDITS)
        .map(|j| Scope::write(&format!("w{j}")).unwrap())
        .chain([Scope::ReadAll, Scope::Admin])
        .collect();
    let id = store
        .create(NewKey::new(unique_name("edited"), Scopes::new(seeded)))
        .await
        .unwrap()
        .info
        .id;
    let store = std::sync::Arc::new(store);
    let mut edits = tokio::task::JoinSet::new();
    for i in 0..EDITS {
        let adder = std::sync::Arc::clone(&store);
        edits.spawn(async move {
            let scope = Scope::read(&format!("r{i}")).unwrap();
            edit_scopes(&*adder, &id, Some(scope), None).await;
        });
        let remover = std::sync::Arc::clone(&store);
        edits.spawn(async move {
            let scope = Scope::write(&format!("w{i}")).unwrap();
            edit_scopes(&*remover, &id, None, Some(scope)).await;
        });
    }
    while let Some(done) = edits.join_next().await {
        done.unwrap();
    }
    let expected = Scopes::new(
        (0..EDITS)
            .map(|i| Scope::read(&format!("r{i}")).unwrap())
            .chain([Scope::ReadAll, Scope::Admin]),
    );
    assert_eq!(
        store.info(&Workspace::default(), &id).await.unwrap().scopes,
        expected
    );
    assert_eq!(store.get(&id).await.unwrap().unwrap().scopes, expected);
}

pub async fn quota_with_a_sub_microsecond_interval_is_refused_not_rounded<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let odd = Quota::new(2, Duration::from_nanos(1_500)).unwrap();
    let name = unique_name("odd-quota");
    let refused = store
        .create(NewKey::new(name.clone(), "read:all".parse().unwrap()).quota(odd))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert!(
        store
            .list(&Workspace::default())
            .await
            .unwrap()
            .iter()
            .all(|k| k.name != name)
    );
    let id = store
        .create(new_key("ci", "read:all"))
        .await
        .unwrap()
        .info
        .id;
    let refused = store
        .update(
            &Workspace::default(),
            &id,
            KeyUpdate::new().quota(Some(odd)),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.info(&Workspace::default(), &id).await.unwrap().quota,
        None
    );
}

/// Every call on `id` from `workspace` that could read or change it, each answered `NotFound`;
/// returns the errors' texts, in order.
async fn boundary_errors<S: KeyManager>(
    store: &S,
    workspace: &Workspace,
    id: &KeyId,
) -> Vec<String> {
    let taken = unique_name("elsewhere");
    let answers = [
        store.info(workspace, id).await.map(drop),
        store
            .update(
                workspace,
                id,
                KeyUpdate::new()
                    .name(taken)
                    .metadata(metadata(r#"{"owned":"by someone else"}"#))
                    .scopes("admin".parse().unwrap()),
            )
            .await
            .map(drop),
        store
            .update(workspace, id, KeyUpdate::new().expires_at(None))
            .await
            .map(drop),
        store
            .rotate(workspace, id, Duration::from_secs(60))
            .await
            .map(drop),
        store.revoke(workspace, id).await.map(drop),
    ];
    answers
        .into_iter()
        .map(|answer| match answer {
            Err(e @ StoreError::NotFound(_)) => e.to_string(),
            other => panic!("expected NotFound, got {other:?}"),
        })
        .collect()
}

pub async fn another_workspaces_key_is_not_found_exactly_like_an_unknown_id<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let (acme, globex) = (unique_workspace("acme"), unique_workspace("globex"));
    let id = id_of(&store, key_in(&acme, &unique_name("ci"))).await;
    let unknown = KeyId::random().unwrap();
    let foreign = boundary_errors(&store, &globex, &id).await;
    let missing = boundary_errors(&store, &globex, &unknown).await;
    for (foreign, missing) in foreign.iter().zip(&missing) {
        assert_eq!(
            *foreign,
            missing.replace(unknown.as_str(), id.as_str()),
            "another workspace's key must answer as an unknown id does"
        );
    }
}

pub async fn another_workspace_changes_nothing_of_a_key<S: KeyStore + KeyManager>(store: S) {
    let (acme, globex) = (unique_workspace("acme"), unique_workspace("globex"));
    let created = store
        .create(key_in(&acme, &unique_name("ci")).metadata(metadata(r#"{"tier":"pro"}"#)))
        .await
        .unwrap();
    let id = created.info.id;
    let before = unused(store.info(&acme, &id).await.unwrap());
    boundary_errors(&store, &globex, &id).await;
    assert_eq!(unused(store.info(&acme, &id).await.unwrap()), before);
    assert!(
        still_authenticates(&store, &created).await,
        "the key's own secret still works"
    );
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.workspace, acme);
    assert_eq!(record.metadata, metadata(r#"{"tier":"pro"}"#));
}

pub async fn listing_shows_only_the_workspaces_own_keys<S: KeyStore + KeyManager>(store: S) {
    let (acme, globex) = (unique_workspace("acme"), unique_workspace("globex"));
    let mine = id_of(&store, key_in(&acme, &unique_name("mine"))).await;
    let theirs = id_of(&store, key_in(&globex, &unique_name("theirs"))).await;
    let listed = store.list(&acme).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        [mine],
        "{listed:?}"
    );
    assert_eq!(listed[0].workspace, acme);
    let listed = store.list(&globex).await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [theirs]);
    let nobody = unique_workspace("nobody");
    assert!(store.list(&nobody).await.unwrap().is_empty());
}

pub async fn same_name_is_allowed_in_two_workspaces<S: KeyStore + KeyManager>(store: S) {
    let (acme, globex) = (unique_workspace("acme"), unique_workspace("globex"));
    let name = unique_name("ci");
    let a = store.create(key_in(&acme, &name)).await.unwrap();
    let b = store.create(key_in(&globex, &name)).await.unwrap();
    assert_eq!((a.info.name, b.info.name), (name.clone(), name));
    assert_eq!(a.info.workspace, acme);
    assert_eq!(b.info.workspace, globex);
}

/// Asserts `answer` is `NameTaken` for `name` in `workspace`.
fn assert_name_taken<T: std::fmt::Debug>(
    answer: Result<T, StoreError>,
    workspace: &Workspace,
    name: &KeyName,
) {
    match answer {
        Err(StoreError::NameTaken {
            workspace: w,
            name: n,
        }) => assert_eq!((&w, &n), (workspace, name)),
        other => panic!("expected NameTaken, got {other:?}"),
    }
}

pub async fn creating_a_taken_name_in_one_workspace_is_refused_and_stores_nothing<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let acme = unique_workspace("acme");
    let name = unique_name("ci");
    let first = store.create(key_in(&acme, &name)).await.unwrap();
    assert_name_taken(store.create(key_in(&acme, &name)).await, &acme, &name);
    let listed = store.list(&acme).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        [first.info.id]
    );
}

pub async fn renaming_to_a_taken_name_is_refused_and_changes_nothing<S: KeyStore + KeyManager>(
    store: S,
) {
    let acme = unique_workspace("acme");
    let taken = unique_name("taken");
    store.create(key_in(&acme, &taken)).await.unwrap();
    let other = store
        .create(key_in(&acme, &unique_name("other")))
        .await
        .unwrap()
        .info;
    let rename = KeyUpdate::new()
        .name(taken.clone())
        .scopes("admin".parse().unwrap())
        .metadata(metadata(r#"{"a":1}"#));
    assert_name_taken(store.update(&acme, &other.id, rename).await, &acme, &taken);
    assert_eq!(
        unused(store.info(&acme, &other.id).await.unwrap()),
        unused(other)
    );
}

pub async fn a_revoked_keys_name_can_be_taken_again<S: KeyStore + KeyManager>(store: S) {
    let acme = unique_workspace("acme");
    let name = unique_name("ci");
    let first = id_of(&store, key_in(&acme, &name)).await;
    store.revoke(&acme, &first).await.unwrap();
    let second = id_of(&store, key_in(&acme, &name)).await;
    // A third key may be renamed to it once the second is revoked too.
    let third = id_of(&store, key_in(&acme, &unique_name("third"))).await;
    let rename = || KeyUpdate::new().name(name.clone());
    assert_name_taken(store.update(&acme, &third, rename()).await, &acme, &name);
    store.revoke(&acme, &second).await.unwrap();
    assert_eq!(
        store.update(&acme, &third, rename()).await.unwrap().name,
        name
    );
}

pub async fn renaming_a_key_to_its_own_name_is_fine<S: KeyStore + KeyManager>(store: S) {
    let acme = unique_workspace("acme");
    let name = unique_name("ci");
    let id = id_of(&store, key_in(&acme, &name)).await;
    let info = store
        .update(
            &acme,
            &id,
            KeyUpdate::new()
                .name(name.clone())
                .scopes("write:all".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(info.name, name);
    assert_eq!(info.scopes.to_string(), "write:all");
}

pub async fn renaming_another_workspaces_key_to_a_taken_name_is_not_found<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let (acme, globex) = (unique_workspace("acme"), unique_workspace("globex"));
    let taken = unique_name("taken");
    store.create(key_in(&globex, &taken)).await.unwrap();
    let id = id_of(&store, key_in(&acme, &unique_name("ci"))).await;
    let answer = store
        .update(&globex, &id, KeyUpdate::new().name(taken))
        .await;
    assert!(
        matches!(answer, Err(StoreError::NotFound(found)) if found == id),
        "{answer:?}"
    );
}

pub async fn metadata_round_trips_through_create_update_and_lookup<S: KeyStore + KeyManager>(
    store: S,
) {
    let acme = unique_workspace("acme");
    let given = metadata(
        r#"{"tier":"pro","customer":4711,"env":{"region":"eu","tags":["a","b"]},"ratio":0.25,"off":null}"#,
    );
    let created = store
        .create(key_in(&acme, &unique_name("ci")).metadata(given.clone()))
        .await
        .unwrap();
    let id = created.info.id;
    assert_eq!(created.info.metadata, given);
    assert_eq!(store.get(&id).await.unwrap().unwrap().metadata, given);
    assert_eq!(store.info(&acme, &id).await.unwrap().metadata, given);
    let replaced = metadata(r#"{"tier":"enterprise"}"#);
    let info = store
        .update(&acme, &id, KeyUpdate::new().metadata(replaced.clone()))
        .await
        .unwrap();
    assert_eq!(info.metadata, replaced);
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.metadata, replaced, "replaced whole, not merged");
    assert_eq!(record.metadata.as_json(), r#"{"tier":"enterprise"}"#);
    assert_eq!(store.list(&acme).await.unwrap()[0].metadata, replaced);
    // An update that does not name the metadata keeps it.
    store
        .update(
            &acme,
            &id,
            KeyUpdate::new().scopes("admin".parse().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(store.get(&id).await.unwrap().unwrap().metadata, replaced);
}

pub async fn a_key_made_without_metadata_has_the_empty_object<S: KeyStore + KeyManager>(store: S) {
    let created = store.create(new_key("plain", "read:all")).await.unwrap();
    let record = store.get(&created.info.id).await.unwrap().unwrap();
    assert!(record.metadata.is_empty());
    assert_eq!(record.metadata.as_json(), "{}");
    assert!(record.workspace.is_default());
}

pub async fn rotation_and_revocation_keep_workspace_and_metadata<S: KeyStore + KeyManager>(
    store: S,
) {
    let acme = unique_workspace("acme");
    let given = metadata(r#"{"tier":"pro"}"#);
    let id = id_of(
        &store,
        key_in(&acme, &unique_name("ci")).metadata(given.clone()),
    )
    .await;
    let rotated = store
        .rotate(&acme, &id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (rotated.info.workspace, rotated.info.metadata),
        (acme.clone(), given.clone())
    );
    let revoked = store.revoke(&acme, &id).await.unwrap();
    assert_eq!(
        (revoked.workspace, revoked.metadata),
        (acme.clone(), given.clone())
    );
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!((&record.workspace, &record.metadata), (&acme, &given));
}

pub async fn concurrent_creates_of_one_name_make_exactly_one_key<
    S: KeyStore + KeyManager + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    two_stores_create_a_name_only_once(Arc::clone(&store), store).await;
}

/// Two stores on one database (two processes on one SQLite file, two instances with pools of
/// their own on PostgreSQL) creating one name at once: exactly one key gets it, every round.
pub async fn two_stores_create_a_name_only_once<S: KeyManager + Clone + 'static>(a: S, b: S) {
    let acme = unique_workspace("acme");
    for round in 0..super::RACE_ROUNDS {
        let name = unique_name("ci");
        let made = super::race_for_a_name(&a, &b, 16, |store, _| {
            let new = key_in(&acme, &name);
            async move { store.create(new).await.map(drop) }
        })
        .await;
        assert_eq!(made, 1, "round {round}");
    }
    assert_eq!(a.list(&acme).await.unwrap().len(), super::RACE_ROUNDS);
}

/// Two stores on one database renaming different keys to one name at once: exactly one gets
/// it, every round.
pub async fn two_stores_rename_to_a_name_only_once<S: KeyManager + Clone + 'static>(a: S, b: S) {
    let acme = unique_workspace("acme");
    for round in 0..super::RACE_ROUNDS {
        let mut ids = Vec::new();
        for _ in 0..16 {
            ids.push(id_of(&a, key_in(&acme, &unique_name("key"))).await);
        }
        let target = unique_name("target");
        let renamed = super::race_for_a_name(&a, &b, ids.len(), |store, i| {
            let (id, workspace) = (ids[i], acme.clone());
            let rename = KeyUpdate::new().name(target.clone());
            async move { store.update(&workspace, &id, rename).await.map(drop) }
        })
        .await;
        assert_eq!(renamed, 1, "round {round}");
        let listed = b.list(&acme).await.unwrap();
        assert_eq!(listed.iter().filter(|k| k.name == target).count(), 1);
    }
}
