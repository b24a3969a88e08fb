//! `keygate import --file keys.jsonl`: keys issued elsewhere, one JSON object a line.
//!
//! ```text
//! {"key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "name": "billing", "scopes": ["read:all"]}
//! {"digest": "<64 hex digits>", "id": "LegacyBill01", "name": "reports", "scopes": ["read:all"],
//!  "workspace": "acme", "metadata": {"from": "v1"}, "expires_at": "2027-01-01T00:00:00Z"}
//! ```
//!
//! Every line is read and checked first (its JSON, its fields, the key's format against the
//! prefix keys are issued with); one bad line and nothing is imported, each bad line named by
//! number. Then the lines are imported in order, and each one the store refuses (a name
//! taken, an id or secret used already) is reported by number without stopping. A plaintext
//! is hashed on import and never printed, not even in an error.

use std::path::Path;
use std::time::SystemTime;

use keygate::audit::Actor;
use keygate::key::{ApiKey, KeyDigest, KeyId, KeyPrefix};
use keygate::store::{ImportKey, ImportedSecret};
use keygate::{KeyInfo, KeyManager, KeyName, Metadata, Scope, Scopes, StoreError, Workspace};
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use crate::failure::{Exit, Failure};

/// One line of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    workspace: Option<String>,
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    #[serde(default)]
    expires_at: Option<String>,
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(key) = &mut self.key {
            key.zeroize();
        }
    }
}

/// A line checked and ready to import: its number and the import.
pub struct Checked {
    pub line: usize,
    pub import: ImportKey,
}

/// How a line's import went.
pub enum Outcome {
    Imported(Box<KeyInfo>),
    Refused(StoreError),
}

/// Reads and checks every line of `path`: the imports, or every bad line by number.
pub fn read(
    path: &Path,
    workspace: &Workspace,
    prefix: &KeyPrefix,
) -> Result<Vec<Checked>, Failure> {
    let text = std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| {
            Failure::new(
                Exit::Invalid,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
    let now = SystemTime::now();
    let mut checked = Vec::new();
    let mut bad = Vec::new();
    for (index, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line = index + 1;
        match check(text, workspace, prefix, now) {
            Ok(import) => checked.push(Checked { line, import }),
            Err(why) => bad.push(format!("line {line}: {why}")),
        }
    }
    if !bad.is_empty() {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "{}: {} bad line(s), nothing imported:\n  {}",
                path.display(),
                bad.len(),
                bad.join("\n  ")
            ),
        ));
    }
    if checked.is_empty() {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "{}: no key to import (one JSON object a line)",
                path.display()
            ),
        ));
    }
    Ok(checked)
}

/// One line as an import, or why it is bad (every bad field, separated by `; `).
fn check(
    text: &str,
    workspace: &Workspace,
    prefix: &KeyPrefix,
    now: SystemTime,
) -> Result<ImportKey, String> {
    let line: Line = serde_json::from_str(text).map_err(|e| format!("not a key line: {e}"))?;
    let mut errors: Vec<String> = Vec::new();
    let mut field = |name: &str, why: String| errors.push(format!("{name}: {why}"));
    let secret = match (&line.key, &line.digest) {
        (Some(key), None) => Some(ImportedSecret::Plaintext(ApiKey::from_plaintext(
            key.clone(),
        ))),
        (None, Some(hex)) => KeyDigest::from_hex(hex)
            .map(ImportedSecret::Digest)
            .or_else(|| {
                let why = "must be the SHA-256 of the whole token as 64 hexadecimal digits";
                field("digest", why.into());
                None
            }),
        (Some(_), Some(_)) => {
            field("digest", "give key or digest, not both".into());
            None
        }
        (None, None) => {
            field(
                "key",
                "give the key (key) or its hex SHA-256 (digest)".into(),
            );
            None
        }
    };
    let name = KeyName::new(&line.name)
        .map_err(|e| field("name", e.to_string()))
        .ok();
    let mut scopes = Vec::new();
    for (i, text) in line.scopes.iter().enumerate() {
        match text.parse::<Scope>() {
            Ok(scope) => scopes.push(scope),
            Err(e) => field(&format!("scopes[{i}]"), e.to_string()),
        }
    }
    let id = line
        .id
        .as_deref()
        .and_then(|id| KeyId::new(id).map_err(|e| field("id", e.to_string())).ok());
    let in_workspace = match line.workspace.as_deref() {
        Some(text) => text
            .parse::<Workspace>()
            .map_err(|e| field("workspace", e.to_string()))
            .ok(),
        None => Some(workspace.clone()),
    };
    let metadata = line
        .metadata
        .clone()
        .map(|value| Metadata::from_value(value).map_err(|e| field("metadata", e.to_string())))
        .transpose()
        .ok()
        .flatten();
    let expires_at = line
        .expires_at
        .as_deref()
        .map(|text| {
            humantime::parse_rfc3339_weak(text).map_err(|e| {
                field(
                    "expires_at",
                    format!("{e}: write a UTC time such as 2027-01-01T00:00:00Z"),
                )
            })
        })
        .transpose()
        .ok()
        .flatten();
    let (Some(secret), Some(name), Some(in_workspace), true) =
        (secret, name, in_workspace, errors.is_empty())
    else {
        return Err(errors.join("; "));
    };
    let mut import = ImportKey::new(secret, name, Scopes::new(scopes))
        .workspace(in_workspace)
        .metadata(metadata.unwrap_or_default());
    import.id = id;
    import.expires_at = expires_at;
    // What the store will check of the key itself: its format, the id inside it, the scopes
    // and the expiry. (Ids and secrets used already are the store's to find.)
    import
        .record(prefix, now)
        .map_err(|e| e.to_string().replace("invalid request: ", ""))?;
    Ok(import)
}

/// Imports each checked line in order, by `actor`; a refusal is kept and the next line
/// imported. Stops at the first failure of the store itself: the lines after it are not tried.
pub async fn import_all<M: KeyManager + ?Sized>(
    manager: &M,
    actor: &Actor,
    lines: Vec<Checked>,
) -> Result<Vec<(usize, Outcome)>, (Vec<(usize, Outcome)>, usize, StoreError)> {
    let mut done = Vec::with_capacity(lines.len());
    for Checked { line, import } in lines {
        match manager.import_by(actor, import).await {
            Ok(info) => done.push((line, Outcome::Imported(Box::new(info)))),
            Err(e @ (StoreError::NameTaken { .. } | StoreError::Conflict(_))) => {
                done.push((line, Outcome::Refused(e)));
            }
            Err(e @ StoreError::Invalid(_)) => done.push((line, Outcome::Refused(e))),
            Err(e) => return Err((done, line, e)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::MemoryKeyStore;

    const FOREIGN: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    fn read_text(text: &str) -> Result<Vec<Checked>, Failure> {
        read(
            file(text).path(),
            &Workspace::default(),
            &KeyPrefix::default(),
        )
    }

    fn line(name: &str, secret: &str) -> String {
        format!(r#"{{"key": "{secret}", "name": "{name}", "scopes": ["read:all"]}}"#)
    }

    #[test]
    fn every_bad_line_is_named_by_number_and_nothing_is_kept() {
        let text = [
            line("good", FOREIGN),
            "{not json".to_owned(),
            String::new(),
            r#"{"digest": "abc", "name": "Bad Name", "scopes": ["fly:all"]}"#.to_owned(),
        ]
        .join("\n");
        let failure = read_text(&text).err().unwrap();
        assert_eq!(failure.exit, Exit::Invalid);
        assert!(
            failure.message.contains("2 bad line(s)"),
            "{}",
            failure.message
        );
        assert!(failure.message.contains("line 2: not a key line"));
        assert!(failure.message.contains("line 4: digest: "));
        assert!(failure.message.contains("name: "));
        assert!(failure.message.contains("scopes[0]: "));
        assert!(
            !failure.message.contains("\n  line 1:"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_key_the_store_could_not_read_is_refused_without_showing_it() {
        let short = "sk_9f3a71c2";
        let failure = read_text(&line("short", short)).err().unwrap();
        assert!(failure.message.contains("line 1: "), "{}", failure.message);
        assert!(!failure.message.contains(short), "{}", failure.message);
    }

    #[test]
    fn lines_are_kept_with_their_numbers_and_the_default_workspace() {
        let text = format!("\n{}\n", line("good", FOREIGN));
        let checked = read_text(&text).unwrap();
        assert_eq!(checked.len(), 1);
        assert_eq!(checked[0].line, 2);
        assert_eq!(checked[0].import.workspace, Workspace::default());
    }

    #[tokio::test]
    async fn a_refused_line_is_reported_and_the_next_still_imported() {
        let store = MemoryKeyStore::new();
        let text = [
            line("first", FOREIGN),
            line("first", "sk_live_another_token_0123456789"),
            line("third", "sk_live_a_third_token_0123456789"),
        ]
        .join("\n");
        let lines = read_text(&text).unwrap();
        let done = import_all(&store, &Actor::cli("alice"), lines)
            .await
            .ok()
            .unwrap();
        let shown: Vec<(usize, bool)> = done
            .iter()
            .map(|(line, o)| (*line, matches!(o, Outcome::Imported(_))))
            .collect();
        assert_eq!(shown, [(1, true), (2, false), (3, true)]);
    }
}
