//! Checks of a key's lifecycle every key store must pass: disabling and enabling, deleting
//! (the id is never used again), paged and filtered listings, and importing keys issued
//! elsewhere.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use keygate::audit::{Actor, AuditAction};
use keygate::key::{self, ApiKey, KeyDigest, KeyId};
use keygate::store::{
    ImportKey, ImportedSecret, KeyCursor, KeyListQuery, KeyPage, MAX_KEY_PAGE, MAX_NAME_PREFIX,
};
use keygate::{
    KeyInfo, KeyManager, KeyStatus, KeyStore, KeyUpdate, NewKey, Scopes, StoreError, Workspace,
};
use serde_json::Value;

use super::audit::{Log, change, events, new_in, seconds};
use super::store::{unique_name, unique_workspace, unused};

/// How many keys the paging checks list.
const MANY: usize = 10_000;

/// How many tasks create them at once.
const CREATORS: usize = 8;

/// The page size the paging checks read with: a size that divides none of the counts.
const PAGE: usize = 173;

/// Creates a key of `workspace` and returns it.
async fn created<S: KeyManager>(store: &S, workspace: &Workspace, base: &str) -> KeyInfo {
    store
        .create(new_in(workspace, base, "read:all"))
        .await
        .unwrap()
        .info
}

/// Asserts `answer` is `NotFound`.
fn not_found<T: std::fmt::Debug>(what: &str, answer: Result<T, StoreError>) {
    assert!(
        matches!(answer, Err(StoreError::NotFound(_))),
        "{what}: {answer:?}"
    );
}

/// Asserts `answer` is `Conflict`.
fn conflict<T: std::fmt::Debug>(what: &str, answer: Result<T, StoreError>) {
    assert!(
        matches!(answer, Err(StoreError::Conflict(_))),
        "{what}: {answer:?}"
    );
}

/// Asserts `answer` is `Invalid`.
fn invalid<T: std::fmt::Debug>(what: &str, answer: Result<T, StoreError>) {
    assert!(
        matches!(answer, Err(StoreError::Invalid(_))),
        "{what}: {answer:?}"
    );
}

/// A log of `workspace` that knows of its events so far.
async fn log_of<'a, S: KeyManager>(store: &'a S, workspace: &'a Workspace) -> Log<'a, S> {
    let known = events(store, workspace).await.len();
    Log {
        store,
        workspace,
        known,
    }
}

/// The ids of `keys`, in order.
fn ids(keys: &[KeyInfo]) -> Vec<KeyId> {
    keys.iter().map(|key| key.id).collect()
}

/// The ids of `keys` in the order listings give them: by creation time, then id.
fn listing_order(keys: &[KeyInfo]) -> Vec<KeyId> {
    let mut keys = keys.to_vec();
    keys.sort_by_key(KeyCursor::after);
    ids(&keys)
}

/// Every key `query` lists in `workspace`, following `next` page after page, checking that
/// each page but the last is full and ends where the next begins.
async fn every_page<S: KeyManager>(
    store: &S,
    workspace: &Workspace,
    mut query: KeyListQuery,
) -> Vec<KeyInfo> {
    let mut all = Vec::new();
    loop {
        let KeyPage { keys, next, .. } = store.list_page(workspace, &query).await.unwrap();
        let full = keys.len() == query.page_size();
        let last = keys.last().map(KeyCursor::after);
        all.extend(keys);
        match next {
            Some(cursor) => {
                assert!(full, "only the last page is short");
                assert_eq!(Some(cursor), last, "next is the cursor after the last key");
                query.after = Some(cursor);
            }
            None => return all,
        }
    }
}

/// Asserts `keys` are in (creation time, id) order, each once.
fn in_creation_order(keys: &[KeyInfo]) {
    for pair in keys.windows(2) {
        assert!(
            KeyCursor::after(&pair[0]) < KeyCursor::after(&pair[1]),
            "ordered by creation then id, each once: {:?} then {:?}",
            pair[0].id,
            pair[1].id
        );
    }
}

/// Creates `count` keys of `workspace` from `tasks` tasks at once, and returns them.
async fn create_at_once<S: KeyManager + 'static>(
    store: &Arc<S>,
    workspace: &Workspace,
    count: usize,
    tasks: usize,
) -> Vec<KeyInfo> {
    let mut running = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let (store, workspace) = (Arc::clone(store), workspace.clone());
        let share = count / tasks + usize::from(task < count % tasks);
        running.spawn(async move {
            let mut made = Vec::with_capacity(share);
            for _ in 0..share {
                made.push(created(&*store, &workspace, "many").await);
            }
            made
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(made) = running.join_next().await {
        all.extend(made.unwrap());
    }
    all
}

/// A token in another format than this service's, as the old system issued them.
fn foreign_token() -> String {
    let random: String = (0..3)
        .map(|_| KeyId::random().unwrap().to_string())
        .collect();
    format!("sk_live_{}", &random[..32])
}

/// The digest of a whole token, by which a key imported in another format is found.
fn whole_digest(token: &str) -> KeyDigest {
    KeyDigest::of_secret(token.as_bytes())
}

/// An import of `secret` into `workspace` with a fresh name.
fn import_in(workspace: &Workspace, secret: ImportedSecret) -> ImportKey {
    ImportKey::new(secret, unique_name("moved"), "read:all".parse().unwrap())
        .workspace(workspace.clone())
}

/// An import of the plaintext `token` into `workspace` with a fresh name.
fn import_plaintext(workspace: &Workspace, token: &str) -> ImportKey {
    import_in(
        workspace,
        ImportedSecret::Plaintext(ApiKey::from_plaintext(token)),
    )
}

/// The key `get_by_digest` finds for `digest`. A store that keeps no imported keys (its
/// `get_by_digest` answers `None`) finds none: the checks that import one then fail.
async fn found_by_digest<S: KeyStore>(
    store: &S,
    digest: &KeyDigest,
) -> Option<Arc<keygate::KeyRecord>> {
    match store.get_by_digest(digest) {
        Some(lookup) => lookup.await.unwrap(),
        None => None,
    }
}

// --- disable and enable ---

pub async fn disabling_a_key_makes_it_disabled_and_records_one_event<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("disabled");
    let id = created(&store, &workspace, "ci").await.id;
    let mut log = log_of(&store, &workspace).await;
    let reporter = Actor::leak_report("github", "https://github.com/acme/app/blob/main/.env");

    let disabled = store.disable_by(&reporter, &workspace, &id).await.unwrap();
    let at = disabled.disabled_at.expect("disabled_at is set");
    assert_eq!(disabled.status_at(SystemTime::now()), KeyStatus::Disabled);
    let info = store.info(&workspace, &id).await.unwrap();
    assert_eq!(info.disabled_at, Some(at));
    assert_eq!(info.status_at(SystemTime::now()), KeyStatus::Disabled);

    let event = log.only_new(AuditAction::Disable, &reporter, id).await;
    assert_eq!(
        event.changes,
        [change("disabled_at", Value::Null, seconds(at))]
    );
}

pub async fn disabling_a_disabled_key_changes_nothing_and_records_nothing<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("disabled-twice");
    let id = created(&store, &workspace, "ci").await.id;
    let first = store.disable(&workspace, &id).await.unwrap();
    let before = events(&store, &workspace).await;

    let again = store
        .disable_by(&Actor::cli("bob"), &workspace, &id)
        .await
        .unwrap();
    assert_eq!(again.disabled_at, first.disabled_at, "disabled since then");
    assert_eq!(events(&store, &workspace).await, before, "nothing recorded");
}

pub async fn enabling_a_disabled_key_makes_it_active_and_records_one_event<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("enabled");
    let id = created(&store, &workspace, "ci").await.id;
    let at = store.disable(&workspace, &id).await.unwrap().disabled_at;
    let mut log = log_of(&store, &workspace).await;
    let actor = Actor::cli("alice");

    let enabled = store.enable_by(&actor, &workspace, &id).await.unwrap();
    assert_eq!(enabled.disabled_at, None);
    let info = store.info(&workspace, &id).await.unwrap();
    assert_eq!(info.status_at(SystemTime::now()), KeyStatus::Active);
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.disabled_at, None);

    let event = log.only_new(AuditAction::Enable, &actor, id).await;
    let before = seconds(at.unwrap());
    assert_eq!(event.changes, [change("disabled_at", before, Value::Null)]);
}

pub async fn enabling_an_enabled_key_changes_nothing_and_records_nothing<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("enabled-twice");
    let id = created(&store, &workspace, "ci").await.id;
    let before = events(&store, &workspace).await;

    let enabled = store.enable(&workspace, &id).await.unwrap();
    assert_eq!(enabled.status_at(SystemTime::now()), KeyStatus::Active);
    assert_eq!(events(&store, &workspace).await, before, "nothing recorded");
}

pub async fn a_revoked_key_can_be_neither_disabled_nor_enabled<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("revoked");
    let revoked = created(&store, &workspace, "revoked").await.id;
    store.revoke(&workspace, &revoked).await.unwrap();
    let disabled_then_revoked = created(&store, &workspace, "both").await.id;
    store
        .disable(&workspace, &disabled_then_revoked)
        .await
        .unwrap();
    store
        .revoke(&workspace, &disabled_then_revoked)
        .await
        .unwrap();
    let before = events(&store, &workspace).await;

    for id in [revoked, disabled_then_revoked] {
        let kept = store.info(&workspace, &id).await.unwrap();
        conflict("disabling", store.disable(&workspace, &id).await);
        conflict("enabling", store.enable(&workspace, &id).await);
        let after = store.info(&workspace, &id).await.unwrap();
        assert_eq!(unused(after), unused(kept), "nothing changed");
    }
    assert_eq!(events(&store, &workspace).await, before, "nothing recorded");
}

pub async fn the_lookup_of_a_disabled_key_returns_its_record_with_disabled_at<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("looked-up");
    let created = store
        .create(new_in(&workspace, "ci", "read:all"))
        .await
        .unwrap();
    let id = created.info.id;
    let at = store.disable(&workspace, &id).await.unwrap().disabled_at;

    let record = store.get(&id).await.unwrap().expect("still found");
    assert_eq!(record.disabled_at, at);
    assert_eq!(record.status_at(SystemTime::now()), KeyStatus::Disabled);
    let text = created.plaintext.expose_secret();
    let parsed = key::parse(text, &store.prefix()).unwrap();
    assert!(
        parsed.digest().ct_eq(&record.digest),
        "the secret still matches"
    );
}

// --- delete ---

pub async fn the_lookup_of_a_deleted_key_returns_none<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("deleted-lookup");
    let id = created(&store, &workspace, "ci").await.id;
    assert!(store.get(&id).await.unwrap().is_some());
    store.delete(&workspace, &id).await.unwrap();
    assert!(store.get(&id).await.unwrap().is_none());
}

pub async fn deleting_a_key_returns_it_as_it_was<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("deleted");
    let id = created(&store, &workspace, "ci").await.id;
    store.disable(&workspace, &id).await.unwrap();
    let scopes = KeyUpdate::new().scopes("read:all,write:all".parse().unwrap());
    store.update(&workspace, &id, scopes).await.unwrap();
    let before = store.info(&workspace, &id).await.unwrap();

    let deleted = store.delete(&workspace, &id).await.unwrap();
    assert_eq!(unused(deleted), unused(before));
}

pub async fn a_deleted_keys_id_is_not_found_by_any_change<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("deleted-changes");
    let id = created(&store, &workspace, "ci").await.id;
    store.delete(&workspace, &id).await.unwrap();
    let before = events(&store, &workspace).await;

    not_found("info", store.info(&workspace, &id).await);
    let scopes = KeyUpdate::new().scopes("admin".parse().unwrap());
    not_found("update", store.update(&workspace, &id, scopes).await);
    not_found("revoke", store.revoke(&workspace, &id).await);
    let grace = Duration::from_secs(60);
    not_found("rotate", store.rotate(&workspace, &id, grace).await);
    not_found("disable", store.disable(&workspace, &id).await);
    not_found("enable", store.enable(&workspace, &id).await);
    not_found("delete again", store.delete(&workspace, &id).await);
    assert_eq!(events(&store, &workspace).await, before, "nothing recorded");
}

pub async fn a_deleted_key_is_gone_from_list_and_list_page<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("deleted-listing");
    let kept = created(&store, &workspace, "kept").await.id;
    let gone = created(&store, &workspace, "gone").await.id;
    store.delete(&workspace, &gone).await.unwrap();

    assert_eq!(ids(&store.list(&workspace).await.unwrap()), [kept]);
    let page = store
        .list_page(&workspace, &KeyListQuery::new())
        .await
        .unwrap();
    assert_eq!((ids(&page.keys), page.next), (vec![kept], None));
}

pub async fn a_deleted_keys_name_can_be_taken_again<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("deleted-name");
    let first = store
        .create(new_in(&workspace, "ci", "read:all"))
        .await
        .unwrap()
        .info;
    store.delete(&workspace, &first.id).await.unwrap();

    let again =
        NewKey::new(first.name.clone(), "read:all".parse().unwrap()).workspace(workspace.clone());
    let second = store.create(again).await.unwrap().info;
    assert_eq!(second.name, first.name);
    assert_ne!(second.id, first.id, "a new id");
}

pub async fn a_deleted_keys_events_stay_and_a_delete_event_is_added<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("deleted-events");
    let info = created(&store, &workspace, "ci").await;
    store.disable(&workspace, &info.id).await.unwrap();
    let mut log = log_of(&store, &workspace).await;
    let before = events(&store, &workspace).await;
    assert_eq!(before.len(), 2, "created and disabled: {before:#?}");
    let actor = Actor::cli("alice");

    store.delete_by(&actor, &workspace, &info.id).await.unwrap();
    let deleted = log.only_new(AuditAction::Delete, &actor, info.id).await;
    assert_eq!(deleted.key_name, info.name);
    let after = events(&store, &workspace).await;
    assert_eq!(after[1..], before[..], "the earlier events stay");
}

pub async fn another_workspace_cannot_delete_a_key<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("owner");
    let elsewhere = unique_workspace("intruder");
    let id = created(&store, &workspace, "ci").await.id;
    let before = store.info(&workspace, &id).await.unwrap();
    let log = events(&store, &workspace).await;

    not_found("deleting", store.delete(&elsewhere, &id).await);
    let after = store.info(&workspace, &id).await.unwrap();
    assert_eq!(unused(after), unused(before));
    assert!(store.get(&id).await.unwrap().is_some());
    assert_eq!(events(&store, &workspace).await, log, "nothing recorded");
    assert!(events(&store, &elsewhere).await.is_empty());
}

pub async fn a_deleted_keys_id_is_never_reused_by_an_import<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("tombstone");
    let id = created(&store, &workspace, "ci").await.id;
    store.delete(&workspace, &id).await.unwrap();

    let token = foreign_token();
    let import = import_plaintext(&workspace, &token).id(id);
    conflict("importing a deleted id", store.import(import).await);
    assert!(store.get(&id).await.unwrap().is_none());
    assert!(
        found_by_digest(&store, &whole_digest(&token))
            .await
            .is_none()
    );
}

pub async fn a_deleted_imported_keys_digest_is_no_longer_found<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("deleted-import");
    let token = foreign_token();
    let id = store
        .import(import_plaintext(&workspace, &token))
        .await
        .unwrap()
        .id;
    store.delete(&workspace, &id).await.unwrap();
    assert!(
        found_by_digest(&store, &whole_digest(&token))
            .await
            .is_none()
    );
}

// --- paged and filtered listings ---

pub async fn ten_thousand_keys_are_paged_once_each_in_creation_order<
    S: KeyStore + KeyManager + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    let workspace = unique_workspace("paged");
    let started = Instant::now();
    let made = create_at_once(&store, &workspace, MANY, CREATORS).await;
    eprintln!("created {MANY} keys in {:?}", started.elapsed());

    let started = Instant::now();
    let listed = every_page(&*store, &workspace, KeyListQuery::new().limit(PAGE)).await;
    eprintln!("paged them in {:?}", started.elapsed());
    assert_eq!(listed.len(), MANY);
    in_creation_order(&listed);
    assert_eq!(ids(&listed), listing_order(&made));
}

pub async fn keys_created_while_paging_never_repeat_a_key_or_lose_one<
    S: KeyStore + KeyManager + 'static,
>(
    store: S,
) {
    let store = Arc::new(store);
    let workspace = unique_workspace("paged-busy");
    let existing = create_at_once(&store, &workspace, MANY, CREATORS).await;

    let paging = Arc::new(AtomicBool::new(true));
    let mut creators = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (store, workspace) = (Arc::clone(&store), workspace.clone());
        let paging = Arc::clone(&paging);
        creators.spawn(async move {
            let mut made = 0;
            // Bounded, so the paging ends even when creating is faster than reading.
            while paging.load(Ordering::SeqCst) && made < MANY / 10 {
                created(&*store, &workspace, "later").await;
                made += 1;
            }
            made
        });
    }
    let listed = every_page(&*store, &workspace, KeyListQuery::new().limit(PAGE)).await;
    paging.store(false, Ordering::SeqCst);
    let mut made_meanwhile = 0;
    while let Some(made) = creators.join_next().await {
        made_meanwhile += made.unwrap();
    }
    assert!(made_meanwhile > 0, "keys were created while paging");

    in_creation_order(&listed);
    let seen: HashSet<KeyId> = listed.iter().map(|key| key.id).collect();
    assert_eq!(seen.len(), listed.len(), "no key twice");
    let missing = existing.iter().filter(|key| !seen.contains(&key.id));
    assert_eq!(missing.count(), 0, "every key there at the start is listed");
}

pub async fn a_page_holds_at_most_the_largest_page_size<S: KeyStore + KeyManager + 'static>(
    store: S,
) {
    let store = Arc::new(store);
    let workspace = unique_workspace("bounded");
    create_at_once(&store, &workspace, MAX_KEY_PAGE + 1, CREATORS).await;

    let first = store
        .list_page(&workspace, &KeyListQuery::new().limit(MANY))
        .await
        .unwrap();
    assert_eq!(first.keys.len(), MAX_KEY_PAGE);
    let next = first.next.expect("one key is left");
    let rest = KeyListQuery::new().limit(MANY).after(next);
    let second = store.list_page(&workspace, &rest).await.unwrap();
    assert_eq!((second.keys.len(), second.next), (1, None));
    let one = store
        .list_page(&workspace, &KeyListQuery::new().limit(0))
        .await
        .unwrap();
    assert_eq!(one.keys.len(), 1, "a limit of 0 reads as 1");
}

pub async fn listing_by_status_shows_only_keys_with_that_status<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("statuses");
    let active = created(&store, &workspace, "active").await.id;
    let disabled = created(&store, &workspace, "disabled").await.id;
    store.disable(&workspace, &disabled).await.unwrap();
    let revoked = created(&store, &workspace, "revoked").await.id;
    store.revoke(&workspace, &revoked).await.unwrap();
    // Revocation wins over disabling, expiry over disabling.
    let disabled_revoked = created(&store, &workspace, "disabled-revoked").await.id;
    store.disable(&workspace, &disabled_revoked).await.unwrap();
    store.revoke(&workspace, &disabled_revoked).await.unwrap();
    // The store checks expiries against its own clock: a second ahead, then waited out.
    let expiry = SystemTime::now() + Duration::from_secs(1);
    let mut expiring = Vec::new();
    for (base, disable) in [("expired", false), ("disabled-expired", true)] {
        let new = new_in(&workspace, base, "read:all").expires_at(expiry);
        let id = store.create(new).await.unwrap().info.id;
        if disable {
            store.disable(&workspace, &id).await.unwrap();
        }
        expiring.push(id);
    }
    let wait = expiry.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(250)).await;

    let expected = [
        (KeyStatus::Active, vec![active]),
        (KeyStatus::Disabled, vec![disabled]),
        (KeyStatus::Revoked, vec![revoked, disabled_revoked]),
        (KeyStatus::Expired, expiring),
    ];
    for (status, keys) in expected {
        let listed = every_page(&store, &workspace, KeyListQuery::new().status(status)).await;
        let mut listed = ids(&listed);
        listed.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(listed, keys, "{status}");
    }
}

/// Keys of `workspace` named from `names` (each made unique by a suffix), by name base.
async fn named<S: KeyManager>(store: &S, workspace: &Workspace, names: &[&str]) -> Vec<KeyInfo> {
    let mut made = Vec::new();
    for base in names {
        made.push(created(store, workspace, base).await);
    }
    made
}

pub async fn listing_by_name_prefix_shows_only_names_starting_with_it<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("prefixed");
    let made = named(
        &store,
        &workspace,
        &["ci-build", "ci-deploy", "cid", "prod-ci"],
    )
    .await;

    for (prefix, expected) in [
        ("ci-", &made[..2]),
        ("ci", &made[..3]),
        ("ci-deploy-", &made[1..2]),
        ("prod", &made[3..]),
        ("nothing", &[][..]),
    ] {
        let query = KeyListQuery::new().name_prefix(prefix).limit(2);
        let listed = every_page(&store, &workspace, query).await;
        assert_eq!(ids(&listed), listing_order(expected), "{prefix:?}");
    }
    let whole = made[1].name.as_str();
    let listed = every_page(&store, &workspace, KeyListQuery::new().name_prefix(whole)).await;
    assert_eq!(ids(&listed), [made[1].id], "a whole name is its own prefix");
}

pub async fn a_name_prefix_with_like_wildcards_matches_them_literally<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("wildcards");
    // Names hold no `_`, `%` or `\`: a prefix with one matches no key, unless it is read as a
    // pattern.
    named(&store, &workspace, &["ci-build", "cix", "c"]).await;

    for prefix in ["ci_", "c%", "%", "_", "ci\\", "c\\%", "\\", "ci-build%"] {
        let query = KeyListQuery::new().name_prefix(prefix);
        let page = store.list_page(&workspace, &query).await;
        let page = page.unwrap_or_else(|e| panic!("{prefix:?} is no error: {e:?}"));
        assert!(page.keys.is_empty(), "{prefix:?} matched {:?}", page.keys);
    }
}

pub async fn a_name_prefix_longer_than_the_bound_is_invalid<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("long-prefix");
    created(&store, &workspace, "ci").await;

    let longest = "c".repeat(MAX_NAME_PREFIX);
    let query = KeyListQuery::new().name_prefix(longest);
    assert!(store.list_page(&workspace, &query).await.is_ok());
    let too_long = KeyListQuery::new().name_prefix("c".repeat(MAX_NAME_PREFIX + 1));
    invalid(
        "a prefix too long",
        store.list_page(&workspace, &too_long).await,
    );
}

pub async fn listing_pages_never_show_another_workspaces_keys<S: KeyStore + KeyManager>(store: S) {
    let acme = unique_workspace("acme");
    let globex = unique_workspace("globex");
    let mut own = Vec::new();
    for round in 0..6 {
        own.push(created(&store, &acme, "ci").await);
        let theirs = created(&store, &globex, "ci").await.id;
        if round % 2 == 0 {
            store.disable(&globex, &theirs).await.unwrap();
        }
    }

    let queries = [
        KeyListQuery::new().limit(4),
        KeyListQuery::new().name_prefix("ci"),
        KeyListQuery::new().status(KeyStatus::Active),
        KeyListQuery::new().status(KeyStatus::Disabled),
    ];
    let own = listing_order(&own);
    let expected = [own.clone(), own.clone(), own.clone(), vec![]];
    for (query, expected) in queries.into_iter().zip(expected) {
        let listed = every_page(&store, &acme, query.clone()).await;
        assert_eq!(ids(&listed), expected, "{query:?}");
    }
}

pub async fn a_cursor_from_another_workspace_starts_after_its_position<S: KeyStore + KeyManager>(
    store: S,
) {
    let acme = unique_workspace("acme");
    let globex = unique_workspace("globex");
    let mut own = Vec::new();
    for _ in 0..4 {
        own.push(created(&store, &acme, "ci").await);
        created(&store, &globex, "ci").await;
    }
    let theirs = store
        .list_page(&globex, &KeyListQuery::new().limit(2))
        .await
        .unwrap();
    let cursor = theirs.next.expect("globex has more keys");

    let query = KeyListQuery::new().after(cursor);
    let listed = store.list_page(&acme, &query).await.unwrap();
    own.retain(|key| cursor.precedes(key.created_at, &key.id));
    let after = listing_order(&own);
    assert!(!after.is_empty() && after.len() < 4, "{after:?}");
    assert_eq!(ids(&listed.keys), after);
    assert!(listed.keys.iter().all(|key| key.workspace == acme));
}

// --- import ---

pub async fn an_imported_key_in_this_services_format_authenticates_like_an_issued_one<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("imported");
    let generated = key::generate(&store.prefix()).unwrap();
    let text = generated.plaintext.expose_secret().to_owned();
    let import = import_in(&workspace, ImportedSecret::Plaintext(generated.plaintext));

    let info = store.import(import).await.unwrap();
    assert_eq!(info.id, generated.id, "the id inside the key");
    let record = store.get(&info.id).await.unwrap().expect("found by its id");
    let parsed = key::parse(&text, &store.prefix()).unwrap();
    assert!(parsed.digest().ct_eq(&record.digest));
    assert_eq!(
        record.legacy_digest, None,
        "found by its id, as issued keys"
    );
    assert_eq!(record.workspace, workspace);
    assert_eq!(record.status_at(SystemTime::now()), KeyStatus::Active);
    assert_eq!(store.info(&workspace, &info.id).await.unwrap(), info);
}

pub async fn an_imported_foreign_plaintext_is_found_by_the_digest_of_its_whole_token<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("imported-foreign");
    let token = foreign_token();
    let info = store
        .import(import_plaintext(&workspace, &token))
        .await
        .unwrap();

    let digest = whole_digest(&token);
    let record = found_by_digest(&store, &digest).await.expect("found");
    assert_eq!(record.id, info.id);
    assert_eq!(record.legacy_digest, Some(digest));
    assert!(record.digest.ct_eq(&digest));
    assert_eq!(record.status_at(SystemTime::now()), KeyStatus::Active);
    let by_id = store.get(&info.id).await.unwrap().expect("found by its id");
    assert_eq!(by_id.legacy_digest, Some(digest));
    let other = whole_digest(&foreign_token());
    assert!(found_by_digest(&store, &other).await.is_none());
}

pub async fn an_imported_digest_is_found_by_that_digest<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("imported-digest");
    let digest = whole_digest(&foreign_token());
    let id = KeyId::random().unwrap();
    let import = import_in(&workspace, ImportedSecret::Digest(digest)).id(id);

    let info = store.import(import).await.unwrap();
    assert_eq!(info.id, id, "the id given");
    let record = found_by_digest(&store, &digest).await.expect("found");
    assert_eq!(record.id, id);
    assert_eq!(record.legacy_digest, Some(digest));
    assert!(record.digest.ct_eq(&digest));
}

pub async fn importing_the_same_foreign_secret_twice_is_a_conflict<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("imported-twice");
    let token = foreign_token();
    let first = store
        .import(import_plaintext(&workspace, &token))
        .await
        .unwrap();

    let again = import_plaintext(&workspace, &token);
    conflict("the same plaintext", store.import(again).await);
    let as_digest = import_in(&workspace, ImportedSecret::Digest(whole_digest(&token)));
    conflict("its digest", store.import(as_digest).await);
    let elsewhere = import_plaintext(&unique_workspace("other"), &token);
    conflict("in another workspace", store.import(elsewhere).await);
    assert_eq!(ids(&store.list(&workspace).await.unwrap()), [first.id]);
    let record = found_by_digest(&store, &whole_digest(&token)).await;
    assert_eq!(record.map(|r| r.id), Some(first.id));
}

pub async fn importing_under_a_taken_name_is_name_taken_and_stores_nothing<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("imported-name");
    let taken = created(&store, &workspace, "ci").await;
    let token = foreign_token();
    let mut import = import_plaintext(&workspace, &token);
    import.name = taken.name.clone();
    let log = events(&store, &workspace).await;

    let answer = store.import(import).await;
    assert!(
        matches!(answer, Err(StoreError::NameTaken { .. })),
        "{answer:?}"
    );
    assert!(
        found_by_digest(&store, &whole_digest(&token))
            .await
            .is_none()
    );
    assert_eq!(ids(&store.list(&workspace).await.unwrap()), [taken.id]);
    assert_eq!(events(&store, &workspace).await, log, "nothing recorded");
}

pub async fn importing_without_scopes_is_invalid_and_stores_nothing<S: KeyStore + KeyManager>(
    store: S,
) {
    let workspace = unique_workspace("imported-bare");
    let token = foreign_token();
    let mut import = import_plaintext(&workspace, &token);
    import.scopes = Scopes::empty();

    invalid("no scope", store.import(import).await);
    assert!(
        found_by_digest(&store, &whole_digest(&token))
            .await
            .is_none()
    );
    assert!(store.list(&workspace).await.unwrap().is_empty());
    assert!(events(&store, &workspace).await.is_empty());
}

pub async fn an_import_records_one_event_by_its_actor_without_the_secret_or_digest<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("imported-audit");
    let actor = Actor::key(KeyId::random().unwrap(), "ops-admin".parse().unwrap());
    let mut log = log_of(&store, &workspace).await;
    let generated = key::generate(&store.prefix()).unwrap();
    let own_format = generated.plaintext.expose_secret().to_owned();
    let foreign = foreign_token();
    let by_digest = whole_digest(&foreign_token());
    let imports = [
        ImportedSecret::Plaintext(generated.plaintext),
        ImportedSecret::Plaintext(ApiKey::from_plaintext(foreign.as_str())),
        ImportedSecret::Digest(by_digest),
    ];
    let mut hidden = vec![
        own_format.clone(),
        own_format.rsplit_once('_').unwrap().1[..key::SECRET_LEN].to_owned(),
        generated.digest.to_hex(),
        foreign.clone(),
        foreign["sk_live_".len()..].to_owned(),
        whole_digest(&foreign).to_hex(),
        by_digest.to_hex(),
    ];
    hidden.sort();

    for secret in imports {
        let import = import_in(&workspace, secret);
        let name = import.name.clone();
        let info = store.import_by(&actor, import).await.unwrap();
        let event = log.only_new(AuditAction::Import, &actor, info.id).await;
        assert_eq!(event.key_name, name);
        assert_eq!(
            event.changes,
            [
                change("name", Value::Null, serde_json::json!(name.as_str())),
                change("scopes", Value::Null, serde_json::json!(["read:all"])),
            ]
        );
        let shown = format!("{event:?} {event:#?} {}", event.to_json());
        for secret in &hidden {
            assert!(!shown.contains(secret.as_str()), "{shown}");
        }
    }
}

pub async fn a_plaintext_in_this_services_prefix_with_a_broken_checksum_is_invalid<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("imported-typo");
    let generated = key::generate(&store.prefix()).unwrap();
    let mut text = generated.plaintext.expose_secret().to_owned();
    let last = text.pop().unwrap();
    text.push(if last == 'A' { 'B' } else { 'A' });
    assert!(
        key::parse(&text, &store.prefix()).is_err(),
        "the checksum is broken"
    );

    invalid(
        "a broken key",
        store.import(import_plaintext(&workspace, &text)).await,
    );
    assert!(
        found_by_digest(&store, &whole_digest(&text))
            .await
            .is_none()
    );
    assert!(store.get(&generated.id).await.unwrap().is_none());
    assert!(store.list(&workspace).await.unwrap().is_empty());
}
