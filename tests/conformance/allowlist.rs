//! Checks of per-key IP allowlists every key store must pass: a list set on create is read back
//! by every read, an update replaces or clears it (or keeps it when it does not name one), each
//! change is audited, and IPv4, IPv6 and IPv4-mapped entries come back as they went in.

use keygate::audit::{Actor, AuditAction};
use keygate::key::KeyId;
use keygate::store::KeyListQuery;
use keygate::{IpAllowlist, KeyManager, KeyStore, KeyUpdate, Workspace};
use serde_json::{Value, json};

use super::audit::{Log, change, new_in};
use super::store::unique_workspace;

fn allowlist(text: &str) -> IpAllowlist {
    text.parse().unwrap()
}

/// Creates a key of `workspace` allowed from `list` and returns its id.
async fn listed_key<S: KeyManager>(store: &S, workspace: &Workspace, list: &str) -> KeyId {
    let new = new_in(workspace, "listed", "read:all").allowed_ips(allowlist(list));
    store.create(new).await.unwrap().info.id
}

/// The allowlist of `id` as `get`, `info` and `list_page` each read it, checked to agree, and
/// returned.
async fn read_back<S: KeyStore + KeyManager>(
    store: &S,
    workspace: &Workspace,
    id: &KeyId,
) -> IpAllowlist {
    let got = store.get(id).await.unwrap().expect("the key is found");
    let info = store.info(workspace, id).await.unwrap();
    let page = store
        .list_page(workspace, &KeyListQuery::new())
        .await
        .unwrap();
    let listed = page
        .keys
        .iter()
        .find(|key| key.id == *id)
        .expect("the key is listed");
    assert_eq!(info.allowed_ips, got.allowed_ips, "info agrees with get");
    assert_eq!(
        listed.allowed_ips, got.allowed_ips,
        "list_page agrees with get"
    );
    got.allowed_ips.clone()
}

/// Updates `id` of `workspace` with `update` and returns the allowlist the update answered.
async fn updated<S: KeyManager>(
    store: &S,
    workspace: &Workspace,
    id: &KeyId,
    update: KeyUpdate,
) -> IpAllowlist {
    store
        .update(workspace, id, update)
        .await
        .unwrap()
        .allowed_ips
}

pub async fn an_allowlist_set_on_create_is_read_back_by_get_info_and_list_page<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("allow-create");
    let id = listed_key(&store, &workspace, "192.0.2.0/24, 2001:db8::/32").await;
    assert_eq!(
        read_back(&store, &workspace, &id).await,
        allowlist("192.0.2.0/24, 2001:db8::/32")
    );
}

pub async fn a_key_created_without_an_allowlist_is_allowed_from_anywhere<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("allow-none");
    let new = new_in(&workspace, "anywhere", "read:all");
    let id = store.create(new).await.unwrap().info.id;
    assert!(read_back(&store, &workspace, &id).await.is_any());
}

pub async fn an_update_with_an_allowlist_replaces_it_whole<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("allow-replace");
    let id = listed_key(&store, &workspace, "192.0.2.0/24, 198.51.100.0/24").await;
    let replacement = allowlist("203.0.113.0/24");
    let update = KeyUpdate::new().allowed_ips(replacement.clone());
    assert_eq!(updated(&store, &workspace, &id, update).await, replacement);
    assert_eq!(read_back(&store, &workspace, &id).await, replacement);
}

pub async fn an_update_to_anywhere_clears_the_allowlist<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("allow-clear");
    let id = listed_key(&store, &workspace, "192.0.2.0/24").await;
    let update = KeyUpdate::new().allowed_ips(IpAllowlist::any());
    assert!(updated(&store, &workspace, &id, update).await.is_any());
    assert!(read_back(&store, &workspace, &id).await.is_any());
}

pub async fn an_update_without_an_allowlist_keeps_it<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("allow-keep");
    let id = listed_key(&store, &workspace, "192.0.2.0/24, 2001:db8::/32").await;
    let kept = allowlist("192.0.2.0/24, 2001:db8::/32");
    let update = KeyUpdate::new()
        .scopes("read:all,write:all".parse().unwrap())
        .metadata(r#"{"team": "payments"}"#.parse().unwrap());
    assert_eq!(updated(&store, &workspace, &id, update).await, kept);
    assert_eq!(read_back(&store, &workspace, &id).await, kept);
}

pub async fn allowlist_changes_are_audited_as_allowed_ips_before_and_after<
    S: KeyStore + KeyManager,
>(
    store: S,
) {
    let workspace = unique_workspace("allow-audit");
    let ops = Actor::cli("ops");
    let mut log = Log {
        store: &store,
        workspace: &workspace,
        known: 0,
    };
    let new = new_in(&workspace, "audited", "read:all").allowed_ips(allowlist("192.0.2.0/24"));
    let id = store.create_by(&ops, new).await.unwrap().info.id;
    let created = log.only_new(AuditAction::Create, &ops, id).await;
    assert!(
        created
            .changes
            .contains(&change("allowed_ips", Value::Null, json!(["192.0.2.0/24"]))),
        "{:?}",
        created.changes
    );

    let steps = [
        (
            allowlist("198.51.100.0/24, 2001:db8::/32"),
            json!(["192.0.2.0/24"]),
            json!(["198.51.100.0/24", "2001:db8::/32"]),
        ),
        (
            IpAllowlist::any(),
            json!(["198.51.100.0/24", "2001:db8::/32"]),
            json!([]),
        ),
    ];
    for (list, before, after) in steps {
        let update = KeyUpdate::new().allowed_ips(list);
        store
            .update_by(&ops, &workspace, &id, update)
            .await
            .unwrap();
        let event = log.only_new(AuditAction::Update, &ops, id).await;
        assert_eq!(event.changes, [change("allowed_ips", before, after)]);
    }
}

pub async fn ipv4_ipv6_and_mapped_entries_round_trip<S: KeyStore + KeyManager>(store: S) {
    let workspace = unique_workspace("allow-families");
    let given = "2001:db8:abcd::/48, 192.0.2.7, ::ffff:198.51.100.0/120, 2001:db8::1, 10.0.0.0/8";
    let id = listed_key(&store, &workspace, given).await;
    let read = read_back(&store, &workspace, &id).await;
    assert_eq!(
        read.to_strings(),
        [
            "2001:db8:abcd::/48",
            "192.0.2.7/32",
            "198.51.100.0/24",
            "2001:db8::1/128",
            "10.0.0.0/8",
        ],
        "canonical, in the order given"
    );
    for (addr, allowed) in [
        ("2001:db8:abcd:1::5", true),
        ("2001:db8::1", true),
        ("2001:db8::2", false),
        ("192.0.2.7", true),
        ("::ffff:192.0.2.7", true),
        ("192.0.2.8", false),
        ("::ffff:198.51.100.9", true),
        ("10.200.0.1", true),
        ("11.0.0.1", false),
    ] {
        assert_eq!(read.allows(addr.parse().unwrap()), allowed, "{addr}");
    }
}
