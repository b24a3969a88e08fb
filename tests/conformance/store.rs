//! Checks every key store must pass.

use keygate::Workspace;
use std::time::{Duration, SystemTime};

use keygate::key::KeyId;
use keygate::key::{self, KeyPrefix};
use keygate::{KeyManager, KeyStore, KeyUpdate, NewKey, Quota, Scope, Scopes, StoreError};

/// A name no other test uses, so that stores shared between tests stay apart.
fn unique_name(base: &str) -> keygate::KeyName {
    let id = KeyId::random().unwrap();
    format!("{base}-{}", id.as_str().to_ascii_lowercase())
        .parse()
        .unwrap()
}

fn new_key(base: &str, scopes: &str) -> NewKey {
    NewKey::new(unique_name(base), scopes.parse().unwrap())
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
