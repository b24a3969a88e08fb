//! The `keygate` binary driven as a process against a temporary database: what it prints, what
//! it stores, and the exit codes scripts rely on.

#![cfg(feature = "cli")]

use keygate::Workspace;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use keygate::key::KeyId;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{KeyManager, KeyRecord, KeyStore};
use serde_json::Value;

#[cfg(any(feature = "postgres", feature = "redis"))]
mod conformance;

/// The `$USER` every command runs as.
const USER: &str = "alice";

struct Db {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl Db {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("keys.db")
    }

    fn keygate(&self, args: &[&str]) -> Run {
        self.keygate_with_stdin(args, "")
    }

    /// Runs `keygate` with `input` on its standard input.
    fn keygate_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
            .arg("--db")
            .arg(self.path())
            .args(args)
            .env_remove("KEYGATE_DB")
            .env_remove("KEYGATE_PREFIX")
            .env_remove("KEYGATE_WORKSPACE")
            // The OS user the audit log records as the actor of the command's changes.
            .env("USER", USER)
            .env_remove("LOGNAME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A command that refuses its arguments exits without reading its input: the pipe
        // may be closed before the input is written.
        match stdin.write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.unwrap(),
        }
        drop(stdin);
        let output: Output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Creates a key with `--json`: the plaintext and the id.
    fn create(&self, name: &str, scopes: &[&str]) -> (String, String) {
        let mut args = vec!["create", "--json", "--name", name];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        let run = self.keygate(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let json = run.json();
        (
            json["key"].as_str().unwrap().to_owned(),
            json["id"].as_str().unwrap().to_owned(),
        )
    }

    /// The stored record of key `id`.
    async fn record(&self, id: &str) -> Arc<KeyRecord> {
        let id = KeyId::new(id).unwrap();
        self.store().await.get(&id).await.unwrap().unwrap()
    }

    async fn store(&self) -> SqliteKeyStore {
        SqliteKeyStore::open(self.path()).await.unwrap()
    }
}

#[test]
fn create_prints_the_key_alone_on_stdout_and_warns_it_is_shown_once() {
    let db = Db::new();
    let run = db.keygate(&[
        "create",
        "--name",
        "ci-pipeline",
        "--scope",
        "read:all",
        "--scope",
        "write:all",
        "--expires-in",
        "90d",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let key = run.stdout.trim();
    assert!(key.starts_with("kg_") && !key.contains(' '), "{key}");
    assert!(
        run.stderr.contains("cannot be shown again"),
        "{}",
        run.stderr
    );

    let list = db.keygate(&["list"]);
    assert_eq!(list.code, 0);
    assert!(list.stdout.contains("ci-pipeline"));
    assert!(list.stdout.contains("read:all,write:all"));
    assert!(!list.stdout.contains(&key[key.len() - 49..]));
}

#[test]
fn list_json_shows_every_key_without_secrets() {
    let db = Db::new();
    let (key, id) = db.create("ci-pipeline", &["read:all"]);
    db.create("local-dev", &["read:all"]);
    let run = db.keygate(&["list", "--json"]);
    assert_eq!(run.code, 0);
    let keys = run.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["id"], id.as_str());
    assert_eq!(keys[0]["status"], "active");
    assert!(!run.stdout.contains(&key[key.len() - 49..]));
    assert!(!run.stdout.contains("digest"));
}

#[test]
fn scopes_adds_and_removes() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["scopes", &id, "--add", "write:all", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["scopes"],
        serde_json::json!(["read:all", "write:all"])
    );
    let run = db.keygate(&["scopes", &id, "--remove", "read:all", "--json"]);
    assert_eq!(run.json()["scopes"], serde_json::json!(["write:all"]));
}

#[test]
fn removing_the_last_scope_exits_2_and_changes_nothing() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["scopes", &id, "--remove", "read:all"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let shown = db.keygate(&["show", &id, "--json"]);
    assert_eq!(shown.json()["scopes"], serde_json::json!(["read:all"]));
}

#[tokio::test]
async fn rotate_prints_a_new_key_for_the_same_id_and_keeps_the_old_for_the_grace() {
    let db = Db::new();
    let (old, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["rotate", &id, "--grace", "1h", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let new = json["key"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(json["id"], id.as_str());
    assert!(
        json["note"]
            .as_str()
            .unwrap()
            .contains("cannot be shown again")
    );

    let record = db.record(&id).await;
    let previous = record
        .previous
        .expect("old secret kept for the grace period");
    let hash = |key: &str| {
        db.keygate_with_stdin(&["hash"], key)
            .stdout
            .trim()
            .to_owned()
    };
    assert_eq!(previous.digest.to_hex(), hash(&old));
    assert_eq!(record.digest.to_hex(), hash(new));
}

#[test]
fn revoke_marks_the_key_revoked_and_rotating_it_then_exits_1() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["revoke", &id, "--json"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["status"], "revoked");
    let again = db.keygate(&["revoke", &id]);
    assert_eq!(again.code, 0, "revoking twice changes nothing");
    let rotate = db.keygate(&["rotate", &id]);
    assert_eq!(rotate.code, 1);
    assert!(rotate.stderr.contains("revoked"), "{}", rotate.stderr);
}

#[test]
fn unknown_id_exits_1_with_a_json_error() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["show", "AAAAAAAAAAAA", "--json"]);
    assert_eq!(run.code, 1);
    let json = run.json();
    assert_eq!(json["error"]["kind"], "refused");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AAAAAAAAAAAA")
    );
}

#[tokio::test]
async fn invalid_input_exits_2_and_creates_nothing() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    for args in [
        &[
            "create",
            "--name",
            "Production Backend",
            "--scope",
            "read:all",
        ][..],
        &["create", "--name", "local-dev", "--scope", "root"],
        &[
            "create",
            "--name",
            "local-dev",
            "--scope",
            "read:all",
            "--expires-in",
            "soon",
        ],
        &["create", "--name", "local-dev"],
        &["scopes", "not-an-id", "--add", "admin"],
    ] {
        let run = db.keygate(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
    assert_eq!(
        db.store()
            .await
            .list(&Workspace::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn missing_database_exits_3_and_is_not_created() {
    let db = Db::new();
    let run = db.keygate(&["list"]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("no key database"), "{}", run.stderr);
    assert!(!db.path().exists());
}

#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_url_names_the_missing_feature() {
    let run = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["--db", "postgres://keygate@localhost/keys", "list"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("`postgres` feature"), "{stderr}");
}

/// The same commands against the real PostgreSQL server.
#[cfg(feature = "postgres")]
#[test]
fn create_list_and_revoke_work_against_postgresql() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_POSTGRES_URL") else {
        return;
    };
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
            .arg("--db")
            .arg(&url)
            .args(args)
            .env_remove("KEYGATE_DB")
            .env_remove("KEYGATE_PREFIX")
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        stdout
    };
    let name = format!(
        "cli-{}",
        KeyId::random().unwrap().as_str().to_ascii_lowercase()
    );
    let created: Value = serde_json::from_str(&run(&[
        "create", "--json", "--name", &name, "--scope", "read:all",
    ]))
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["key"].as_str().unwrap().starts_with("kg_"));
    let listed: Value = serde_json::from_str(&run(&["list", "--json"])).unwrap();
    assert!(listed.to_string().contains(&name), "{listed}");
    run(&["revoke", &id]);
    let shown: Value = serde_json::from_str(&run(&["show", "--json", &id])).unwrap();
    assert_eq!(shown["status"], "revoked", "{shown}");

    // In a workspace of its own, with metadata: listed there only.
    let workspace = format!("ws-{name}");
    let created: Value = serde_json::from_str(&run(&[
        "create",
        "--json",
        "--workspace",
        &workspace,
        "--name",
        &name,
        "--scope",
        "read:all",
        "--meta",
        r#"{"tier":"pro"}"#,
    ]))
    .unwrap();
    assert_eq!(created["workspace"], workspace.as_str());
    assert_eq!(created["metadata"], serde_json::json!({"tier": "pro"}));
    let listed: Value =
        serde_json::from_str(&run(&["list", "--json", "--workspace", &workspace])).unwrap();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["keys"][0]["id"], created["id"]);
}

#[tokio::test]
async fn hash_reads_the_key_from_stdin_and_prints_the_digest_the_store_keeps() {
    let db = Db::new();
    let (key, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate_with_stdin(&["hash", "--json"], &format!("{key}\n"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let record = db.record(&id).await;
    assert_eq!(run.json()["digest"], record.digest.to_hex());
    assert_eq!(run.json()["id"], id.as_str());
}

#[tokio::test]
async fn hash_reads_the_key_from_a_file() {
    let db = Db::new();
    let (key, id) = db.create("ci-pipeline", &["read:all"]);
    let file = db.dir.path().join("key.txt");
    std::fs::write(&file, format!("{key}\n")).unwrap();
    let run = db.keygate(&["hash", "--file", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), db.record(&id).await.digest.to_hex());
}

#[tokio::test]
async fn hash_refuses_a_key_given_on_the_command_line_and_prints_no_digest() {
    let db = Db::new();
    let (key, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate_with_stdin(&["hash", &key], &key);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("stdin"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(&key[key.len() - 49..]),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains(&db.record(&id).await.digest.to_hex()));
}

#[test]
fn hash_of_a_mistyped_key_exits_2() {
    let db = Db::new();
    let (key, _) = db.create("ci-pipeline", &["read:all"]);
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let typo = format!("{}{last}", &key[..key.len() - 1]);
    assert_eq!(db.keygate_with_stdin(&["hash"], &typo).code, 2);
}

#[test]
fn hash_of_empty_stdin_exits_2() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate_with_stdin(&["hash"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[tokio::test]
async fn expiry_further_than_a_hundred_years_exits_2_and_creates_nothing() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    for after in ["20000y", "101y"] {
        let run = db.keygate(&[
            "create",
            "--name",
            "local-dev",
            "--scope",
            "read:all",
            "--expires-in",
            after,
        ]);
        assert_eq!(run.code, 2, "{after}: {}", run.stderr);
        assert!(run.stderr.contains("100 years"), "{}", run.stderr);
    }
    assert_eq!(
        db.store()
            .await
            .list(&Workspace::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(db.keygate(&["list"]).code, 0);
}

#[test]
fn a_stored_key_with_an_out_of_range_expiry_still_lists_and_shows() {
    let db = Db::new();
    let (_, id) = db.create("imported", &["read:all"]);
    // Year 20 000, as an older keygate could store it.
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    conn.execute(
        "UPDATE keygate_keys SET expires_at = 569000000000000000 WHERE id = ?1",
        [&id],
    )
    .unwrap();
    drop(conn);
    for args in [&["list"][..], &["list", "--json"], &["show", &id]] {
        let run = db.keygate(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("9999-12-31T23:59:59Z"),
            "{}",
            run.stdout
        );
    }
}

impl Db {
    /// Runs `keygate` with `args` and `--json`, expecting success: its JSON.
    fn json_ok(&self, args: &[&str]) -> Value {
        let run = self.keygate(&[args, &["--json"]].concat());
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        run.json()
    }

    /// Creates `name` with `read:all` in `workspace`: its JSON.
    fn create_in(&self, workspace: &str, name: &str) -> Value {
        self.json_ok(&[
            "create",
            "--workspace",
            workspace,
            "--name",
            name,
            "--scope",
            "read:all",
        ])
    }

    /// Every key of `workspace`, as the store lists it.
    async fn keys_in(&self, workspace: &str) -> Vec<keygate::KeyInfo> {
        let workspace: Workspace = workspace.parse().unwrap();
        self.store().await.list(&workspace).await.unwrap()
    }
}

#[tokio::test]
async fn create_puts_the_key_in_the_workspace_with_its_metadata() {
    let db = Db::new();
    let created = db.json_ok(&[
        "create",
        "--workspace",
        "acme",
        "--name",
        "ci-pipeline",
        "--scope",
        "read:all",
        "--meta",
        r#"{"tier": "pro"}"#,
    ]);
    assert_eq!(created["workspace"], "acme");
    assert_eq!(created["metadata"], serde_json::json!({"tier": "pro"}));
    let record = db.record(created["id"].as_str().unwrap()).await;
    assert_eq!(record.workspace.as_str(), "acme");
    assert_eq!(record.metadata.as_json(), r#"{"tier":"pro"}"#);
}

#[test]
fn without_workspace_a_key_goes_to_default_with_empty_metadata() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    let listed = db.json_ok(&["list"]);
    assert_eq!(listed["keys"][0]["workspace"], "default");
    assert_eq!(listed["keys"][0]["metadata"], serde_json::json!({}));
}

#[test]
fn list_shows_only_the_workspace_asked_for() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    for name in ["ci-pipeline", "billing-bot"] {
        db.create_in("acme", name);
    }
    let names = |listed: Value| -> Vec<(String, String)> {
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["workspace"].as_str().unwrap().to_owned(),
                    k["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |ws: &str, name: &str| (ws.to_owned(), name.to_owned());
    assert_eq!(
        names(db.json_ok(&["list", "--workspace", "acme"])),
        [pair("acme", "ci-pipeline"), pair("acme", "billing-bot")]
    );
    assert_eq!(
        names(db.json_ok(&["list"])),
        [pair("default", "ci-pipeline")]
    );
    assert_eq!(
        names(db.json_ok(&["list", "--workspace", "globex"])),
        Vec::<(String, String)>::new()
    );
}

#[tokio::test]
async fn commands_on_a_key_of_another_workspace_exit_1_and_change_nothing() {
    let db = Db::new();
    let created = db.create_in("acme", "ci-pipeline");
    let id = created["id"].as_str().unwrap();
    let before = db.keys_in("acme").await;
    for args in [
        &["show", id][..],
        &["revoke", id],
        &["rotate", id, "--grace", "0s"],
        &["scopes", id, "--add", "admin"],
        &["update", id, "--name", "moved", "--meta", "{}"],
        &["show", id, "--workspace", "globex"],
        &["revoke", id, "--workspace", "globex"],
    ] {
        let run = db.keygate(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("no key with id"), "{}", run.stderr);
    }
    assert_eq!(db.keys_in("acme").await, before);
    let shown = db.json_ok(&["show", id, "--workspace", "acme"]);
    assert_eq!(shown["status"], "active");
}

#[tokio::test]
async fn a_taken_name_exits_1_with_a_clear_message_and_creates_nothing() {
    let db = Db::new();
    db.create_in("acme", "ci-pipeline");
    let run = db.keygate(&[
        "create",
        "--workspace",
        "acme",
        "--name",
        "ci-pipeline",
        "--scope",
        "admin",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("already has a key named ci-pipeline"),
        "{}",
        run.stderr
    );
    assert_eq!(db.keys_in("acme").await.len(), 1);
    // The same name in another workspace is fine.
    db.create("ci-pipeline", &["read:all"]);
}

#[test]
fn a_rename_to_a_taken_name_exits_1() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    let (_, id) = db.create("local-dev", &["read:all"]);
    let run = db.keygate(&["update", &id, "--name", "ci-pipeline"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(db.json_ok(&["show", &id])["name"], "local-dev");
}

#[tokio::test]
async fn an_invalid_workspace_exits_2_naming_the_rules_and_creates_nothing() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    for workspace in ["Acme", "acme corp", "", &"a".repeat(65)] {
        let run = db.keygate(&[
            "create",
            "--workspace",
            workspace,
            "--name",
            "local-dev",
            "--scope",
            "read:all",
        ]);
        assert_eq!(run.code, 2, "{workspace:?}: {}", run.stderr);
        assert!(run.stderr.contains("1 to 64 lowercase"), "{}", run.stderr);
        let run = db.keygate(&["list", "--workspace", workspace]);
        assert_eq!(run.code, 2, "{workspace:?}: {}", run.stderr);
    }
    assert_eq!(db.keys_in("default").await.len(), 1);
}

#[tokio::test]
async fn invalid_meta_exits_2_and_stores_nothing() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let too_large = format!(r#"{{"a": "{}"}}"#, "x".repeat(1024));
    for meta in ["[1, 2]", "{tier", "\"pro\"", "null", too_large.as_str()] {
        let run = db.keygate(&[
            "create",
            "--name",
            "local-dev",
            "--scope",
            "read:all",
            "--meta",
            meta,
        ]);
        assert_eq!(run.code, 2, "{meta}: {}", run.stderr);
        assert!(run.stderr.contains("metadata"), "{}", run.stderr);
        let run = db.keygate(&["update", &id, "--meta", meta]);
        assert_eq!(run.code, 2, "{meta}: {}", run.stderr);
    }
    let keys = db.keys_in("default").await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].metadata.is_empty());
}

#[test]
fn update_renames_and_replaces_the_metadata() {
    let db = Db::new();
    let created = db.json_ok(&[
        "create",
        "--name",
        "ci-pipeline",
        "--scope",
        "read:all",
        "--meta",
        r#"{"tier": "pro", "customer": 4711}"#,
    ]);
    let id = created["id"].as_str().unwrap();
    let updated = db.json_ok(&[
        "update",
        id,
        "--name",
        "ci-nightly",
        "--meta",
        r#"{"tier": "enterprise"}"#,
        "--add",
        "write:all",
    ]);
    assert_eq!(updated["name"], "ci-nightly");
    assert_eq!(
        updated["metadata"],
        serde_json::json!({"tier": "enterprise"})
    );
    assert_eq!(
        updated["scopes"],
        serde_json::json!(["read:all", "write:all"])
    );
    let shown = db.keygate(&["show", id]);
    assert!(
        shown.stdout.contains("workspace:   default"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains(r#"metadata:    {"tier":"enterprise"}"#),
        "{}",
        shown.stdout
    );
}

#[test]
fn update_without_a_change_exits_2() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["update", &id]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to change"), "{}", run.stderr);
}

#[tokio::test]
async fn a_plan_created_with_flags_is_listed_and_a_key_put_on_it_carries_it() {
    let db = Db::new();
    db.create("first", &["read:all"]);
    let pro = db.json_ok(&[
        "plans",
        "create",
        "pro",
        "--rate",
        "100/s",
        "--burst",
        "200",
        "--quota",
        "1000000/month",
        "--anchor-day",
        "15",
        "--shared",
    ]);
    assert_eq!(pro["name"], "pro");
    let listed = db.json_ok(&["plans", "list"]);
    assert_eq!(listed["plans"][0], pro);
    let created = db.json_ok(&[
        "create",
        "--name",
        "ci-pipeline",
        "--scope",
        "read:all",
        "--plan",
        "pro",
    ]);
    assert_eq!(created["plan"], "pro");
    let record = db.record(created["id"].as_str().unwrap()).await;
    let plan = record
        .plan
        .clone()
        .expect("the key's plan, resolved by the store");
    assert_eq!(plan.name().as_str(), "pro");
    assert_eq!(plan.limit("monthly").unwrap().capacity(), 1_000_000);
}

#[test]
fn a_key_on_an_unknown_plan_exits_2_and_is_not_created() {
    let db = Db::new();
    db.create("first", &["read:all"]);
    let run = db.keygate(&[
        "create",
        "--name",
        "ci-pipeline",
        "--scope",
        "read:all",
        "--plan",
        "missing",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no plan named missing"),
        "{}",
        run.stderr
    );
    assert_eq!(db.json_ok(&["list"])["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn a_plan_without_a_limit_exits_2() {
    let db = Db::new();
    db.create("first", &["read:all"]);
    let run = db.keygate(&["plans", "create", "empty"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("at least one limit"), "{}", run.stderr);
}

#[tokio::test]
async fn a_workspace_assigned_a_plan_puts_its_keys_without_one_on_it() {
    let db = Db::new();
    let created = db.create_in("acme", "ci-pipeline");
    let id = created["id"].as_str().unwrap().to_owned();
    db.json_ok(&["plans", "create", "trial", "--quota", "5/day"]);
    db.json_ok(&["plans", "assign", "trial", "--workspace", "acme"]);
    let record = db.record(&id).await;
    assert_eq!(record.plan.as_ref().unwrap().name().as_str(), "trial");
    db.json_ok(&["plans", "assign", "--none", "--workspace", "acme"]);
    assert!(db.record(&id).await.plan.is_none());
}

#[tokio::test]
async fn update_moves_a_key_to_a_plan_and_off_it() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    db.json_ok(&["plans", "create", "trial", "--quota", "5/day"]);
    let moved = db.json_ok(&["update", &id, "--plan", "trial"]);
    assert_eq!(moved["plan"], "trial");
    let back = db.json_ok(&["update", &id, "--no-plan"]);
    assert_eq!(back["plan"], Value::Null);
    assert!(db.record(&id).await.plan.is_none());
}

#[cfg(feature = "redis")]
#[test]
fn credits_are_read_and_topped_up_in_the_services_redis() {
    let Some(url) = conformance::backend_url("KEYGATE_TEST_REDIS_URL") else {
        return;
    };
    let db = Db::new();
    db.json_ok(&["plans", "create", "prepaid", "--credits", "10"]);
    let created = db.json_ok(&[
        "create", "--name", "batch", "--scope", "read:all", "--plan", "prepaid",
    ]);
    let id = created["id"].as_str().unwrap();
    // A namespace of this run's own, as a service's limiter would have.
    let namespace = format!("keygate:test:cli:{id}:usage:");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut all = vec![
            "credits",
            id,
            "--redis",
            &url,
            "--redis-namespace",
            &namespace,
        ];
        all.extend_from_slice(extra);
        all.into_iter().map(String::from).collect()
    };
    let run = |extra: &[&str]| {
        let owned = args(extra);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        db.json_ok(&refs)
    };
    let read = run(&[]);
    assert_eq!(read["balance"], 10);
    assert_eq!(read["limit"], "credits");
    assert_eq!(read["plan"], "prepaid");
    assert_eq!(run(&["--add", "5"])["balance"], 15);
    assert_eq!(run(&[])["balance"], 15);
}

#[test]
fn credits_of_a_key_on_no_plan_exit_1() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["credits", &id, "--redis", "redis://127.0.0.1:1/"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("on no plan"), "{}", run.stderr);
}

#[tokio::test]
async fn a_key_created_with_a_limit_override_carries_it() {
    let db = Db::new();
    db.json_ok(&[
        "plans",
        "create",
        "pro",
        "--rate",
        "100/s",
        "--quota",
        "1000000/month",
    ]);
    let created = db.json_ok(&[
        "create",
        "--name",
        "ci-pipeline",
        "--scope",
        "read:all",
        "--plan",
        "pro",
        "--limit",
        "monthly=2000000",
    ]);
    assert_eq!(
        created["limits"],
        serde_json::json!({"monthly": {"max": 2000000}})
    );
    let plan = db
        .record(created["id"].as_str().unwrap())
        .await
        .plan
        .clone();
    let plan = plan.expect("on pro");
    assert_eq!(plan.name().as_str(), "pro");
    assert_eq!(plan.limit("monthly").unwrap().capacity(), 2_000_000);
    assert_eq!(plan.limit("burst").unwrap().capacity(), 100);
}

#[tokio::test]
async fn update_sets_rate_and_credits_overrides_shows_them_and_clear_limits_removes_them() {
    let db = Db::new();
    db.json_ok(&[
        "plans",
        "create",
        "mix",
        "--rate",
        "10/s",
        "--credits",
        "100",
        "--refill",
        "100/day",
    ]);
    let created = db.json_ok(&[
        "create", "--name", "batch", "--scope", "read:all", "--plan", "mix",
    ]);
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["limits"], serde_json::json!({}));

    let updated = db.json_ok(&[
        "update",
        id,
        "--limit",
        "burst=100/s,200",
        "--limit",
        "credits=5000,refill=700",
    ]);
    assert_eq!(
        updated["limits"],
        serde_json::json!({
            "burst": {"burst": 200, "interval_us": 10000},
            "credits": {"initial": 5000, "refill": 700}
        })
    );
    let plan = db.record(id).await.plan.clone().unwrap();
    assert_eq!(plan.limit("burst").unwrap().capacity(), 200);
    assert_eq!(plan.limit("credits").unwrap().capacity(), 700);

    // Shown by show and list, as text and JSON.
    let shown = db.keygate(&["show", id]);
    assert!(
        shown
            .stdout
            .contains("limits:      burst=100/s,200 credits=5000,refill=700"),
        "{}",
        shown.stdout
    );
    let listed = db.keygate(&["list"]);
    assert!(listed.stdout.contains("LIMITS"), "{}", listed.stdout);
    assert!(
        listed
            .stdout
            .contains("burst=100/s,200 credits=5000,refill=700"),
        "{}",
        listed.stdout
    );
    let listed = db.json_ok(&["list"]);
    assert_eq!(listed["keys"][0]["limits"], updated["limits"]);

    // A credits value without its refill keeps the plan's refill.
    let credits_only = db.json_ok(&["update", id, "--limit", "credits=5"]);
    assert_eq!(
        credits_only["limits"],
        serde_json::json!({"credits": {"initial": 5}})
    );

    let cleared = db.json_ok(&["update", id, "--clear-limits"]);
    assert_eq!(cleared["limits"], serde_json::json!({}));
    let plan = db.record(id).await.plan.clone().unwrap();
    assert_eq!(plan.limit("credits").unwrap().capacity(), 100);
}

#[tokio::test]
async fn bad_limit_values_exit_2_and_change_nothing() {
    let db = Db::new();
    db.json_ok(&[
        "plans",
        "create",
        "pro",
        "--rate",
        "100/s",
        "--quota",
        "1000/day",
        "--credits",
        "10",
    ]);
    db.json_ok(&[
        "plans",
        "create",
        "team",
        "--quota",
        "1000/month",
        "--shared",
    ]);
    let created = db.json_ok(&[
        "create",
        "--name",
        "ci",
        "--scope",
        "read:all",
        "--plan",
        "pro",
        "--limit",
        "daily=2000",
    ]);
    let id = created["id"].as_str().unwrap();
    for (limit, says) in [
        ("daily=lots", "daily"),
        ("daily=0", "daily"),
        ("daily=-1", "daily"),
        ("weekly=5", "weekly"),
        ("burst=3/s,5", "microseconds"),
        ("burst=100", "burst"),
        ("burst=100/s,0", "burst"),
        ("credits=5,refill=2", "never refills"),
        ("credits=5,top=2", "credits"),
        ("nonsense", "NAME=VALUE"),
        ("Daily=5", "limit name"),
    ] {
        let run = db.keygate(&["update", id, "--name", "renamed", "--limit", limit]);
        assert_eq!(run.code, 2, "{limit}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{limit}: {}", run.stderr);
    }
    // A limit shared by the workspace cannot be changed for one key.
    let run = db.keygate(&["update", id, "--plan", "team", "--limit", "monthly=5000"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("shared"), "{}", run.stderr);

    let info = db.json_ok(&["show", id]);
    assert_eq!(info["name"], "ci", "nothing changed");
    assert_eq!(info["plan"], "pro");
    assert_eq!(info["limits"], serde_json::json!({"daily": {"max": 2000}}));
    // --clear-limits and --limit together are a usage error.
    let run = db.keygate(&["update", id, "--clear-limits", "--limit", "daily=5"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_limit_for_a_key_on_no_plan_exits_2_and_creates_nothing() {
    let db = Db::new();
    db.json_ok(&["plans", "create", "trial", "--quota", "5/day"]);
    let run = db.keygate(&[
        "create", "--name", "ci", "--scope", "read:all", "--limit", "daily=7",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no plan"), "{}", run.stderr);
    let listed = db.json_ok(&["list"]);
    assert_eq!(listed["keys"], serde_json::json!([]));
}

#[test]
fn a_malformed_limit_exits_2_before_the_database_is_opened() {
    // No database at the path: opening it for an update would exit 3.
    let db = Db::new();
    for limit in [
        "daily=lots",
        "burst=100/s",
        "credits=5,top=2",
        "burst=3/s,5",
    ] {
        let run = db.keygate(&["update", "AAAAAAAAAAAA", "--limit", limit]);
        assert_eq!(run.code, 2, "{limit}: {}", run.stderr);
    }
    assert!(!db.path().exists(), "nothing was created");
}

impl Db {
    /// `keygate audit` with `args`, expecting success: its lines on stdout, and its stderr.
    fn audit_lines(&self, args: &[&str]) -> (Vec<String>, String) {
        let run = self.keygate(&[&["audit"], args].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        (run.stdout.lines().map(str::to_owned).collect(), run.stderr)
    }
}

/// The action of each line of `keygate audit`: its third column.
fn actions(lines: &[String]) -> Vec<String> {
    let action = |line: &String| line.split("  ").nth(2).unwrap_or_default().to_owned();
    lines.iter().map(action).collect()
}

#[test]
fn changes_made_with_the_cli_are_audited_as_the_os_user_newest_first() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    for change in [
        &["scopes", &id, "--add", "write:all"][..],
        &["rotate", &id, "--grace", "1h"],
        &["revoke", &id],
    ] {
        assert_eq!(db.keygate(change).code, 0, "{change:?}");
    }
    let (lines, _) = db.audit_lines(&[]);
    assert_eq!(actions(&lines), ["revoke", "rotate", "update", "create"]);
    for line in &lines {
        assert!(line.contains(&format!("  cli:{USER}  ")), "{line}");
        assert!(line.contains(&format!("{id} (ci-pipeline)")), "{line}");
    }
    assert!(
        lines[2].ends_with("scopes: read:all -> read:all,write:all"),
        "{}",
        lines[2]
    );
}

#[test]
fn audit_key_shows_only_that_keys_events() {
    let db = Db::new();
    let (_, ci) = db.create("ci-pipeline", &["read:all"]);
    let (_, dev) = db.create("local-dev", &["read:all"]);
    db.keygate(&["revoke", &dev]);
    let (lines, _) = db.audit_lines(&["--key", &ci]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(&format!("{ci} (ci-pipeline)")));
}

#[test]
fn audit_json_is_the_page_the_admin_api_answers() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let page = db.json_ok(&["audit"]);
    assert_eq!(page["next"], Value::Null);
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "create");
    assert_eq!(
        events[0]["actor"],
        serde_json::json!({"type": "cli", "name": USER})
    );
    assert_eq!(
        events[0]["key"],
        serde_json::json!({"id": id, "name": "ci-pipeline"})
    );
}

#[test]
fn a_page_that_is_not_the_last_says_how_to_read_the_next() {
    let db = Db::new();
    for name in ["one", "two", "three"] {
        db.create(name, &["read:all"]);
    }
    let (first, said) = db.audit_lines(&["--limit", "2"]);
    assert_eq!(first.len(), 2);
    let command = said
        .lines()
        .find_map(|l| l.strip_prefix("More events follow: keygate "))
        .unwrap_or_else(|| panic!("no next page in {said:?}"));
    let (rest, said) = db.audit_lines(&command.split(' ').collect::<Vec<_>>()[1..]);
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(!said.contains("More events"), "{said}");
    assert!(rest[0].contains("(one)"), "{rest:?}");
}

#[test]
fn a_refused_cli_change_is_not_audited() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    db.create("local-dev", &["read:all"]);
    let (before, _) = db.audit_lines(&[]);
    assert_eq!(db.keygate(&["update", &id, "--name", "local-dev"]).code, 1);
    assert_eq!(db.keygate(&["scopes", &id, "--remove", "read:all"]).code, 2);
    assert_eq!(db.audit_lines(&[]).0, before);
}

#[test]
fn bad_audit_flags_exit_2_naming_the_bound() {
    let db = Db::new();
    db.create("ci-pipeline", &["read:all"]);
    for (flags, says) in [
        (&["--limit", "0"][..], "1..=500"),
        (&["--limit", "501"], "1..=500"),
        (&["--before", "yesterday"], "whole number"),
        (&["--key", "nope"], "12 base62"),
    ] {
        let run = db.keygate(&[&["audit"], flags].concat());
        assert_eq!(run.code, 2, "{flags:?}");
        assert!(run.stderr.contains(says), "{flags:?}: {}", run.stderr);
    }
}

#[test]
fn disable_then_enable_shows_the_status_and_is_audited_as_the_os_user() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let disabled = db.keygate(&["disable", &id, "--json"]);
    assert_eq!(disabled.code, 0, "{}", disabled.stderr);
    assert_eq!(disabled.json()["status"], "disabled");
    let enabled = db.keygate(&["enable", &id, "--json"]);
    assert_eq!(enabled.json()["status"], "active", "{}", enabled.stderr);
    let (lines, _) = db.audit_lines(&[]);
    assert_eq!(actions(&lines), ["enable", "disable", "create"]);
}

#[test]
fn delete_without_yes_exits_2_and_keeps_the_key() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["delete", &id]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(db.keygate(&["show", &id]).code, 0);
}

#[test]
fn delete_with_yes_removes_the_key_for_good() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let run = db.keygate(&["delete", &id, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("never be used again"), "{}", run.stderr);
    assert_eq!(db.keygate(&["show", &id]).code, 1);
    assert_eq!(db.keygate(&["delete", &id, "--yes"]).code, 1);
    let (lines, _) = db.audit_lines(&[]);
    assert_eq!(actions(&lines), ["delete", "create"]);
}

#[test]
fn list_with_a_limit_prints_one_page_and_the_command_for_the_next() {
    let db = Db::new();
    for name in ["ci-one", "web", "ci-two", "ci-three"] {
        db.create(name, &["read:all"]);
    }
    let first = db.keygate(&["list", "--name", "ci-", "--limit", "2", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let names = |run: &Run| -> Vec<String> {
        let keys = run.json()["keys"].as_array().unwrap().clone();
        keys.iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["ci-one", "ci-two"]);
    let next = first.json()["next"].as_str().unwrap().to_owned();
    let text = db.keygate(&["list", "--name", "ci-", "--limit", "2"]);
    let command = format!("keygate list --name ci- --limit 2 --after {next}");
    assert!(text.stderr.contains(&command), "{}", text.stderr);
    let rest = db.keygate(&[
        "list", "--name", "ci-", "--limit", "2", "--after", &next, "--json",
    ]);
    assert_eq!(names(&rest), ["ci-three"]);
    assert_eq!(rest.json()["next"], Value::Null);
}

#[test]
fn list_filters_by_status() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    db.create("web", &["read:all"]);
    db.keygate(&["disable", &id]);
    let run = db.keygate(&["list", "--status", "disabled", "--json"]);
    let keys = run.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["id"], id.as_str());
    assert_eq!(db.keygate(&["list", "--status", "paused"]).code, 2);
}

/// A JSON Lines file of `lines` in the database's directory.
fn jsonl(db: &Db, lines: &[String]) -> String {
    let path = db.dir.path().join("keys.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.display().to_string()
}

fn import_line(name: &str, key: &str) -> String {
    serde_json::json!({"key": key, "name": name, "scopes": ["read:all"]}).to_string()
}

#[test]
fn an_import_with_a_bad_line_exits_2_names_it_and_imports_nothing() {
    let db = Db::new();
    db.create("admin", &["admin"]);
    let good = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let file = jsonl(
        &db,
        &[
            import_line("legacy", good),
            r#"{"digest": "00", "name": "reports", "scopes": ["read:all"]}"#.to_owned(),
        ],
    );
    let run = db.keygate(&["import", "--file", &file]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("line 2: digest"), "{}", run.stderr);
    assert!(!run.stderr.contains(good));
    let list = db.keygate(&["list", "--json"]);
    assert_eq!(list.json()["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn an_import_reports_each_refused_line_exits_1_and_imports_the_others() {
    let db = Db::new();
    db.create("taken", &["read:all"]);
    let secrets = [
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_live_another_token_0123456789",
        "sk_live_a_third_token_0123456789",
    ];
    let file = jsonl(
        &db,
        &[
            import_line("legacy-one", secrets[0]),
            import_line("taken", secrets[1]),
            import_line("legacy-three", secrets[2]),
        ],
    );
    let run = db.keygate(&["import", "--file", &file, "--json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let lines = |member: &str| -> Vec<u64> {
        let entries = report[member].as_array().unwrap().clone();
        entries
            .iter()
            .map(|e| e["line"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(lines("imported"), [1, 3]);
    assert_eq!(lines("refused"), [2]);
    for secret in secrets {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
    let (audit, _) = db.audit_lines(&[]);
    assert_eq!(actions(&audit), ["import", "import", "create"]);
}

#[tokio::test]
async fn create_with_allow_ip_keeps_the_networks_and_show_and_list_show_them() {
    let db = Db::new();
    let created = db.json_ok(&[
        "create",
        "--name",
        "office",
        "--scope",
        "read:all",
        "--allow-ip",
        "192.0.2.7/24",
        "--allow-ip",
        "2001:db8::/32",
    ]);
    let expected = serde_json::json!(["192.0.2.0/24", "2001:db8::/32"]);
    assert_eq!(created["allowed_ips"], expected);
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        db.record(id).await.allowed_ips.to_string(),
        "192.0.2.0/24,2001:db8::/32"
    );
    let shown = db.keygate(&["show", id]);
    assert!(
        shown
            .stdout
            .contains("allowed ips: 192.0.2.0/24,2001:db8::/32"),
        "{}",
        shown.stdout
    );
    let listed = db.keygate(&["list"]);
    assert!(listed.stdout.contains("ALLOWED IPS"), "{}", listed.stdout);
    assert!(
        listed.stdout.contains("192.0.2.0/24,2001:db8::/32"),
        "{}",
        listed.stdout
    );
    assert_eq!(db.json_ok(&["list"])["keys"][0]["allowed_ips"], expected);
}

#[test]
fn a_key_without_an_allowlist_is_shown_usable_from_anywhere() {
    let db = Db::new();
    let (_, id) = db.create("ci-pipeline", &["read:all"]);
    let shown = db.keygate(&["show", &id]);
    assert!(
        shown.stdout.contains("allowed ips: anywhere"),
        "{}",
        shown.stdout
    );
    assert_eq!(
        db.json_ok(&["show", &id])["allowed_ips"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn update_allow_ip_replaces_the_list_and_clear_allowed_ips_removes_it() {
    let db = Db::new();
    let (_, id) = db.create("office", &["read:all"]);
    db.json_ok(&["update", &id, "--allow-ip", "192.0.2.0/24"]);
    let replaced = db.json_ok(&["update", &id, "--allow-ip", "::ffff:198.51.100.7"]);
    assert_eq!(
        replaced["allowed_ips"],
        serde_json::json!(["198.51.100.7/32"])
    );
    assert_eq!(
        db.record(&id).await.allowed_ips.to_string(),
        "198.51.100.7/32"
    );
    let renamed = db.json_ok(&["update", &id, "--name", "office-2"]);
    assert_eq!(renamed["allowed_ips"], replaced["allowed_ips"]);
    let cleared = db.json_ok(&["update", &id, "--clear-allowed-ips"]);
    assert_eq!(cleared["allowed_ips"], serde_json::json!([]));
    assert!(db.record(&id).await.allowed_ips.is_any());
}

#[tokio::test]
async fn allow_ip_together_with_clear_allowed_ips_exits_2_and_changes_nothing() {
    let db = Db::new();
    let (_, id) = db.create("office", &["read:all"]);
    let run = db.keygate(&[
        "update",
        &id,
        "--allow-ip",
        "192.0.2.0/24",
        "--clear-allowed-ips",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--clear-allowed-ips"), "{}", run.stderr);
    assert!(db.record(&id).await.allowed_ips.is_any());
}

#[test]
fn a_bad_allow_ip_exits_2_naming_it_before_the_database_is_opened() {
    let db = Db::new();
    for bad in ["10.0.0.0/33", "example.com", "192.0.2.0/24,198.51.100.0/24"] {
        let run = db.keygate(&[
            "create",
            "--name",
            "office",
            "--scope",
            "read:all",
            "--allow-ip",
            bad,
        ]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--allow-ip"), "{}", run.stderr);
        assert!(run.stderr.contains(bad), "{}", run.stderr);
    }
    assert!(!db.path().exists());
}

#[test]
fn more_allow_ip_than_a_key_holds_exits_2_saying_the_bound_and_creates_nothing() {
    let db = Db::new();
    let networks: Vec<String> = (0..=keygate::MAX_ALLOWED_NETWORKS)
        .map(|i| format!("10.0.{i}.0/24"))
        .collect();
    let mut args = vec!["create", "--name", "office", "--scope", "read:all"];
    for network in &networks {
        args.extend(["--allow-ip", network]);
    }
    let run = db.keygate(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("at most 64"), "{}", run.stderr);
    assert!(!db.path().exists());
}
