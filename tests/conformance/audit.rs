//! Checks of the audit log every key store must pass: one event per change, with its actor and
//! what it changed; none for a change that fails or changes nothing; each workspace reads only
//! its own events, newest first, a page at a time; no event shows a secret or a digest.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keygate::audit::{Actor, AuditAction, AuditEvent, AuditId, AuditQuery, Change, MAX_AUDIT_PAGE};
use keygate::key::{self, KeyId, KeyPrefix};
use keygate::plan::{LimitValue, Overrides};
use keygate::{
    CreatedKey, KeyManager, KeyStore, KeyUpdate, Metadata, NewKey, Scopes, StoreError, Workspace,
};
use serde_json::{Value, json};

use super::store::{unique_name, unique_workspace};

/// A key of `workspace` with a name no other test uses.
pub fn new_in(workspace: &Workspace, base: &str, scopes: &str) -> NewKey {
    NewKey::new(unique_name(base), scopes.parse().unwrap()).workspace(workspace.clone())
}

/// Creates `new` by `actor` and returns its id.
async fn created_by<S: KeyManager>(store: &S, actor: &Actor, new: NewKey) -> KeyId {
    store.create_by(actor, new).await.unwrap().info.id
}

/// Every event of `workspace` (of `key` only, when given), newest first, read a page at a time
/// (of `page` events), checking that each page but the last is full and points at the next.
async fn events_paged<S: KeyManager>(
    store: &S,
    workspace: &Workspace,
    key: Option<KeyId>,
    page: usize,
) -> Vec<AuditEvent> {
    let mut query = AuditQuery::new().limit(page);
    query.key = key;
    let mut all = Vec::new();
    loop {
        let read = store.audit(workspace, &query).await.unwrap();
        let read_count = read.events.len();
        all.extend(read.events);
        match read.next {
            Some(next) => {
                assert_eq!(read_count, page, "only the last page is short");
                assert_eq!(
                    Some(next),
                    all.last().map(|e| e.id),
                    "next is the last id read"
                );
                query.before = Some(next);
            }
            None => return all,
        }
    }
}

/// Every event of `workspace`, newest first.
pub async fn events<S: KeyManager>(store: &S, workspace: &Workspace) -> Vec<AuditEvent> {
    events_paged(store, workspace, None, MAX_AUDIT_PAGE).await
}

/// A workspace's log as a check follows it: how many events it held when last read.
pub struct Log<'a, S> {
    pub store: &'a S,
    pub workspace: &'a Workspace,
    pub known: usize,
}

impl<S: KeyManager> Log<'_, S> {
    /// The one event recorded since the log was last read, checked to be `action` by `actor`
    /// on `key` of the workspace, made just now.
    pub async fn only_new(&mut self, action: AuditAction, actor: &Actor, key: KeyId) -> AuditEvent {
        let log = events(self.store, self.workspace).await;
        assert_eq!(log.len(), self.known + 1, "one event per change: {log:#?}");
        self.known += 1;
        let event = log[0].clone();
        if let Some(previous) = log.get(1) {
            assert!(event.id > previous.id, "a later event has a larger id");
        }
        assert_eq!(event.action, action);
        assert_eq!(&event.actor, actor);
        assert_eq!(event.key_id, key);
        assert_eq!(&event.workspace, self.workspace);
        let age = SystemTime::now()
            .duration_since(event.at)
            .unwrap_or_else(|e| e.duration());
        assert!(
            age < Duration::from_secs(30),
            "made just now: {:?}",
            event.at
        );
        event
    }
}

pub fn change(field: &str, before: Value, after: Value) -> Change {
    Change {
        field: field.to_owned(),
        before,
        after,
    }
}

/// Whole seconds since the epoch, as events show times.
pub fn seconds(at: SystemTime) -> Value {
    json!(at.duration_since(UNIX_EPOCH).unwrap().as_secs())
}

pub async fn every_change_records_one_event_with_its_actor_and_fields<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("audited");
    let cli = Actor::cli("alice");
    let admin = Actor::key(KeyId::random().unwrap(), "ops-admin".parse().unwrap());
    let mut log = Log {
        store: &store,
        workspace: &workspace,
        known: 0,
    };

    let new = new_in(&workspace, "ci", "read:all");
    let name = new.name.clone();
    let id = created_by(&store, &cli, new).await;
    let created = log.only_new(AuditAction::Create, &cli, id).await;
    assert_eq!(created.key_name, name);
    assert_eq!(
        created.changes,
        [
            change("name", Value::Null, json!(name.as_str())),
            change("scopes", Value::Null, json!(["read:all"])),
        ]
    );

    let renamed = unique_name("deploy");
    let team = Metadata::from_json(r#"{"team": "payments"}"#).unwrap();
    let edits = [
        (
            &admin,
            KeyUpdate::new().scopes("read:all,write:all".parse().unwrap()),
            change(
                "scopes",
                json!(["read:all"]),
                json!(["read:all", "write:all"]),
            ),
        ),
        (
            &cli,
            KeyUpdate::new().name(renamed.clone()),
            change("name", json!(name.as_str()), json!(renamed.as_str())),
        ),
        (
            &admin,
            KeyUpdate::new().metadata(team),
            change("metadata", json!({}), json!({"team": "payments"})),
        ),
    ];
    for (actor, update, expected) in edits {
        store
            .update_by(actor, &workspace, &id, update)
            .await
            .unwrap();
        let edited = log.only_new(AuditAction::Update, actor, id).await;
        assert_eq!(edited.changes, [expected]);
        let now_named = store.info(&workspace, &id).await.unwrap().name;
        assert_eq!(edited.key_name, now_named, "the name after the change");
    }

    let grace = Duration::from_secs(3600);
    store.rotate_by(&cli, &workspace, &id, grace).await.unwrap();
    let rotated = log.only_new(AuditAction::Rotate, &cli, id).await;
    let previous = store.get(&id).await.unwrap().unwrap().previous.unwrap();
    let until = seconds(previous.valid_until);
    let expected = change("previous_secret_valid_until", Value::Null, until);
    assert_eq!(rotated.changes, [expected]);
    assert_eq!(rotated.key_name, renamed, "the name after the change");

    let info = store.revoke_by(&admin, &workspace, &id).await.unwrap();
    let revoked = log.only_new(AuditAction::Revoke, &admin, id).await;
    let at = seconds(info.revoked_at.unwrap());
    assert_eq!(revoked.changes, [change("revoked_at", Value::Null, at)]);
}

/// A key on no plan with `daily` raised: refused, there is nothing to override.
fn overrides_without_a_plan() -> Overrides {
    Overrides::new(vec![("daily".parse().unwrap(), LimitValue::Max(7))]).unwrap()
}

fn refused<T: std::fmt::Debug>(what: &str, answer: Result<T, StoreError>) {
    assert!(answer.is_err(), "{what} is refused: {answer:?}");
}

pub async fn a_failed_change_records_nothing<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("failing");
    let elsewhere = unique_workspace("failing-elsewhere");
    let actor = Actor::cli("alice");
    let taken = new_in(&workspace, "ci", "read:all");
    let taken_name = taken.name.clone();
    let id = created_by(&store, &actor, taken).await;
    let other = created_by(&store, &actor, new_in(&workspace, "other", "read:all")).await;
    let revoked = created_by(&store, &actor, new_in(&workspace, "gone", "read:all")).await;
    store.revoke_by(&actor, &workspace, &revoked).await.unwrap();
    let before = events(&store, &workspace).await;
    assert_eq!(before.len(), 4);

    let named = |name: &keygate::KeyName| {
        NewKey::new(name.clone(), "read:all".parse().unwrap()).workspace(workspace.clone())
    };
    let bare = NewKey::new(unique_name("bare"), Scopes::empty()).workspace(workspace.clone());
    let over = new_in(&workspace, "over", "read:all").overrides(overrides_without_a_plan());
    refused(
        "a taken name",
        store.create_by(&actor, named(&taken_name)).await,
    );
    refused("no scopes", store.create_by(&actor, bare).await);
    refused(
        "overrides without a plan",
        store.create_by(&actor, over).await,
    );
    let updates = [
        (
            "renaming to a taken name",
            other,
            KeyUpdate::new().name(taken_name.clone()),
        ),
        (
            "removing every scope",
            id,
            KeyUpdate::new().scopes(Scopes::empty()),
        ),
        (
            "overriding a key on no plan",
            id,
            KeyUpdate::new().overrides(overrides_without_a_plan()),
        ),
    ];
    for (what, key, update) in updates {
        refused(
            what,
            store.update_by(&actor, &workspace, &key, update).await,
        );
    }
    let endless = store
        .rotate_by(&actor, &workspace, &id, Duration::MAX)
        .await;
    refused("an endless grace period", endless);

    let unknown = KeyId::random().unwrap();
    let keys = [
        ("an unknown key", &workspace, unknown),
        ("another workspace's key", &elsewhere, id),
        ("a revoked key", &workspace, revoked),
    ];
    for (what, in_workspace, key) in keys {
        let scopes = KeyUpdate::new().scopes("admin".parse().unwrap());
        let updated = store.update_by(&actor, in_workspace, &key, scopes).await;
        refused(&format!("updating {what}"), updated);
        let rotated = store
            .rotate_by(&actor, in_workspace, &key, Duration::ZERO)
            .await;
        refused(&format!("rotating {what}"), rotated);
        // Revoking a revoked key is no failure: it changes nothing.
        if key != revoked {
            let answer = store.revoke_by(&actor, in_workspace, &key).await;
            refused(&format!("revoking {what}"), answer);
        }
    }
    assert_eq!(events(&store, &workspace).await, before, "nothing recorded");
    assert!(events(&store, &elsewhere).await.is_empty());
}

pub async fn a_change_that_changes_nothing_records_nothing<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("unchanged");
    let actor = Actor::service("billing");
    let id = created_by(
        &store,
        &actor,
        new_in(&workspace, "ci", "read:all,write:all"),
    )
    .await;
    let same = KeyUpdate::new().scopes("write:all,read:all".parse().unwrap());
    store
        .update_by(&actor, &workspace, &id, same)
        .await
        .unwrap();
    let first = store.revoke_by(&actor, &workspace, &id).await.unwrap();
    let again = store.revoke_by(&actor, &workspace, &id).await.unwrap();
    assert_eq!(again.revoked_at, first.revoked_at);
    let actions: Vec<_> = events(&store, &workspace)
        .await
        .iter()
        .map(|event| event.action)
        .collect();
    assert_eq!(actions, [AuditAction::Revoke, AuditAction::Create]);
}

pub async fn a_workspace_never_reads_another_workspaces_events<S: KeyStore + KeyManager>(store: S) {
    let acme = unique_workspace("acme");
    let globex = unique_workspace("globex");
    let actor = Actor::cli("alice");
    let mut ids = Vec::new();
    for workspace in [&acme, &globex] {
        let id = created_by(&store, &actor, new_in(workspace, "ci", "read:all")).await;
        store.revoke_by(&actor, workspace, &id).await.unwrap();
        ids.push(id);
    }
    for (workspace, own, theirs) in [(&acme, ids[0], ids[1]), (&globex, ids[1], ids[0])] {
        let log = events(&store, workspace).await;
        assert_eq!(log.len(), 2, "{log:#?}");
        assert!(
            log.iter()
                .all(|e| e.workspace == *workspace && e.key_id == own)
        );
        let by_their_key = AuditQuery::new().key(theirs);
        let read = store.audit(workspace, &by_their_key).await.unwrap();
        assert!(read.events.is_empty(), "{read:#?}");
        assert_eq!(read.next, None);
    }
}

pub async fn the_log_pages_newest_first_without_gaps_or_repeats<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("paged");
    let actor = Actor::default();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let created = store
            .create_by(&actor, new_in(&workspace, "ci", "read:all"))
            .await
            .unwrap();
        keys.push(created.info.id);
    }
    // 20 updates, each a change: 23 events in all, 8 of them of the first key.
    for round in 0..20 {
        let id = keys[round % keys.len()];
        let team = Metadata::from_json(&format!(r#"{{"round": {round}}}"#)).unwrap();
        let update = KeyUpdate::new().metadata(team);
        store
            .update_by(&actor, &workspace, &id, update)
            .await
            .unwrap();
    }

    let whole = events(&store, &workspace).await;
    assert_eq!(whole.len(), 23);
    assert!(
        whole.windows(2).all(|pair| pair[0].id > pair[1].id),
        "newest first, each once"
    );
    assert_eq!(whole.last().unwrap().action, AuditAction::Create);
    assert_eq!(
        whole[0].changes,
        [change(
            "metadata",
            json!({"round": 16}),
            json!({"round": 19})
        )],
        "round 19 edits the second key, last edited in round 16"
    );
    assert_eq!(events_paged(&store, &workspace, None, 5).await, whole);
    let first_page = store
        .audit(&workspace, &AuditQuery::new().limit(5))
        .await
        .unwrap();
    assert_eq!(first_page.events, whole[..5]);

    let first_key: Vec<_> = whole
        .iter()
        .filter(|e| e.key_id == keys[0])
        .cloned()
        .collect();
    assert_eq!(first_key.len(), 8);
    assert_eq!(
        events_paged(&store, &workspace, Some(keys[0]), 3).await,
        first_key
    );

    // Older than the oldest: nothing, and no next page.
    let oldest = whole.last().unwrap().id;
    let past = store
        .audit(&workspace, &AuditQuery::new().before(oldest))
        .await
        .unwrap();
    assert!(past.events.is_empty() && past.next.is_none(), "{past:#?}");
    let from_start = AuditQuery::new().before(AuditId(u64::MAX)).limit(1);
    let newest = store.audit(&workspace, &from_start).await.unwrap();
    assert_eq!(newest.events, whole[..1]);
    assert_eq!(newest.next, Some(whole[0].id));
}

/// The secret part of a plaintext key, and the hex of its digest.
fn secret_and_digest(created: &CreatedKey) -> [String; 2] {
    let text = created.plaintext.expose_secret();
    let prefix: KeyPrefix = text.split('_').next().unwrap().parse().unwrap();
    let digest = key::parse(text, &prefix).unwrap().digest();
    let (_, secret) = text.rsplit_once('_').unwrap();
    [secret.to_owned(), digest.to_hex()]
}

pub async fn no_event_carries_a_secret_or_digest<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("secrets");
    let actor = Actor::cli("alice");
    let created = store
        .create_by(&actor, new_in(&workspace, "ci", "read:all"))
        .await
        .unwrap();
    let id = created.info.id;
    let mut hidden = Vec::from(secret_and_digest(&created));
    for grace in [Duration::from_secs(60), Duration::ZERO] {
        let rotated = store
            .rotate_by(&actor, &workspace, &id, grace)
            .await
            .unwrap();
        hidden.extend(secret_and_digest(&rotated));
    }
    let scopes = KeyUpdate::new().scopes("admin".parse().unwrap());
    store
        .update_by(&actor, &workspace, &id, scopes)
        .await
        .unwrap();
    store.revoke_by(&actor, &workspace, &id).await.unwrap();

    let log = events(&store, &workspace).await;
    assert_eq!(log.len(), 5);
    for event in &log {
        let shown = format!("{event:?} {event:#?} {}", event.to_json());
        for secret in &hidden {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
    }
}
