//! Turning admin requests into store calls, refusing every bad field at once.

use std::time::{Duration, SystemTime};

use super::types::{
    CreateKeyRequest, ImportKeyRequest, QuotaRequest, RotateKeyRequest, UpdateKeyRequest,
};
use super::{AdminError, DEFAULT_GRACE, FieldError, MAX_GRACE};
use crate::allowlist::{InvalidAllowlist, IpAllowlist, MAX_ALLOWED_NETWORKS};
use crate::key::{ApiKey, KeyDigest, KeyId};
use crate::limit::Quota;
use crate::metadata::Metadata;
use crate::record::KeyName;
use crate::scope::{Scope, Scopes};
use crate::store::{ImportKey, ImportedSecret, KeyUpdate, NewKey, check_expiry};
use crate::workspace::Workspace;

/// Collects field errors while a request is read.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result
            .map_err(|e| self.0.push(FieldError::new(field, e.to_string())))
            .ok()
    }

    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, AdminError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(AdminError::Invalid(self.0)),
        }
    }
}

fn duration(errors: &mut Errors, field: &str, text: &str) -> Option<Duration> {
    errors.check(
        field,
        humantime::parse_duration(text)
            .map_err(|e| format!("{e}: write a duration such as 90d, 24h, 15m or 100ms")),
    )
}

fn scope_list(errors: &mut Errors, field: &str, list: &[String]) -> Vec<Scope> {
    list.iter()
        .enumerate()
        .filter_map(|(i, s)| errors.check(&format!("{field}[{i}]"), s.parse::<Scope>()))
        .collect()
}

/// The allowlist `list` gives, or `None` with an error naming each entry that is no address or
/// CIDR range (`allowed_ips[2]`). Beyond [`MAX_ALLOWED_NETWORKS`] entries, one error naming
/// `allowed_ips` says the bound, and the entries are not read one by one.
fn allowlist(errors: &mut Errors, list: &[String]) -> Option<IpAllowlist> {
    if list.len() > MAX_ALLOWED_NETWORKS {
        errors.push(
            "allowed_ips",
            InvalidAllowlist::TooMany(list.len()).to_string(),
        );
        return None;
    }
    let mut bad = false;
    for (i, entry) in list.iter().enumerate() {
        let field = format!("allowed_ips[{i}]");
        bad |= errors
            .check(&field, IpAllowlist::parse_all([entry.as_str()]))
            .is_none();
    }
    if bad {
        return None;
    }
    errors.check(
        "allowed_ips",
        IpAllowlist::parse_all(list.iter().map(String::as_str)),
    )
}

fn name(errors: &mut Errors, text: &str) -> Option<KeyName> {
    errors.check("name", KeyName::new(text))
}

fn metadata(errors: &mut Errors, value: Option<&serde_json::Value>) -> Option<Metadata> {
    errors.check("metadata", Metadata::from_value(value?.clone()))
}

/// The workspace a create or import request names, if any, must be the caller's own. The refusal says
/// nothing of the workspace named: not whether it exists, nor whether it has keys.
fn own_workspace(errors: &mut Errors, named: Option<&str>, caller: &Workspace) {
    if named.is_some_and(|named| named != caller.as_str()) {
        errors.push(
            "workspace",
            format!(
                "keys are created and imported in your own workspace, {caller}: leave workspace \
                 out or give {caller}"
            ),
        );
    }
}

/// Refuses `limits` and `overrides`, when present: a key's overrides of its plan's limit values
/// are the operator's to set, never a workspace admin's (who could otherwise raise its own).
fn operator_only(
    errors: &mut Errors,
    limits: Option<&serde_json::Value>,
    overrides: Option<&serde_json::Value>,
) {
    for (member, value) in [("limits", limits), ("overrides", overrides)] {
        if value.is_some() {
            errors.push(
                member,
                "a key's limits are set by the operator only (keygate update ID --limit \
                 NAME=VALUE): the admin API shows them read-only",
            );
        }
    }
}

fn no_scope() -> &'static str {
    "a key needs at least one scope: read:all, write:all or admin"
}

/// The expiry given as `expires_at` (RFC 3339) or `expires_in` (from `now`), if any.
fn expiry(
    errors: &mut Errors,
    expires_at: Option<&str>,
    expires_in: Option<&str>,
    now: SystemTime,
) -> Option<SystemTime> {
    let at = match (expires_at, expires_in) {
        (Some(_), Some(_)) => {
            errors.push("expires_in", "give expires_at or expires_in, not both");
            return None;
        }
        (Some(text), None) => errors.check(
            "expires_at",
            humantime::parse_rfc3339_weak(text)
                .map_err(|e| format!("{e}: write a UTC time such as 2027-01-01T00:00:00Z")),
        )?,
        (None, Some(text)) => {
            let after = duration(errors, "expires_in", text)?;
            match now.checked_add(after) {
                Some(at) => at,
                None => {
                    errors.push("expires_in", "too far in the future");
                    return None;
                }
            }
        }
        (None, None) => return None,
    };
    let field = if expires_at.is_some() {
        "expires_at"
    } else {
        "expires_in"
    };
    errors.check(field, check_expiry(at, now))?;
    Some(at)
}

fn quota(errors: &mut Errors, req: &QuotaRequest) -> Option<Quota> {
    let interval = duration(errors, "quota.interval", &req.interval)?;
    let quota = errors.check("quota", Quota::new(req.burst, interval))?;
    if !quota.is_whole_micros() {
        errors.push(
            "quota.interval",
            "must be a whole number of microseconds (such as 1500us or 100ms)",
        );
        return None;
    }
    Some(quota)
}

impl CreateKeyRequest {
    /// The key to create in the caller's `workspace`, or every refused field (a `workspace`
    /// member naming another workspace is one).
    pub fn validate(&self, workspace: &Workspace, now: SystemTime) -> Result<NewKey, AdminError> {
        let mut errors = Errors::default();
        own_workspace(&mut errors, self.workspace.as_deref(), workspace);
        operator_only(&mut errors, self.limits.as_ref(), self.overrides.as_ref());
        let name = name(&mut errors, &self.name);
        let metadata = metadata(&mut errors, self.metadata.as_ref());
        let scopes = Scopes::new(scope_list(&mut errors, "scopes", &self.scopes));
        if self.scopes.is_empty() {
            errors.push("scopes", no_scope());
        }
        let expires_at = expiry(
            &mut errors,
            self.expires_at.as_deref(),
            self.expires_in.as_deref(),
            now,
        );
        let quota = self.quota.as_ref().and_then(|q| quota(&mut errors, q));
        let allowed_ips = allowlist(&mut errors, &self.allowed_ips);
        let new = name.map(|name| {
            let mut new = NewKey::new(name, scopes)
                .workspace(workspace.clone())
                .metadata(metadata.unwrap_or_default())
                .allowed_ips(allowed_ips.unwrap_or_default());
            new.expires_at = expires_at;
            new.quota = quota;
            new
        });
        errors.finish(new)
    }
}

impl ImportKeyRequest {
    /// The key to import into the caller's `workspace`, or every refused field: exactly one
    /// of `key` and `digest` (a digest of 64 hexadecimal digits), an `id` that is a key id,
    /// and the name, scopes, metadata and expiry as [`CreateKeyRequest::validate`] checks
    /// them. The store checks what depends on it: the key's format against its prefix, and
    /// ids and secrets already used.
    pub fn validate(
        &self,
        workspace: &Workspace,
        now: SystemTime,
    ) -> Result<ImportKey, AdminError> {
        let mut errors = Errors::default();
        own_workspace(&mut errors, self.workspace.as_deref(), workspace);
        let secret = match (&self.key, &self.digest) {
            (Some(key), None) if key.is_empty() => {
                errors.push("key", "must be the key's whole plaintext");
                None
            }
            (Some(key), None) => Some(ImportedSecret::Plaintext(ApiKey::from_plaintext(
                key.clone(),
            ))),
            (None, Some(hex)) => errors.check(
                "digest",
                KeyDigest::from_hex(hex)
                    .map(ImportedSecret::Digest)
                    .ok_or("must be the SHA-256 of the whole token as 64 hexadecimal digits"),
            ),
            (Some(_), Some(_)) => {
                errors.push("digest", "give key or digest, not both");
                None
            }
            (None, None) => {
                errors.push(
                    "key",
                    "give the key (key) or the hex SHA-256 of its whole token (digest)",
                );
                None
            }
        };
        let id = match &self.id {
            Some(text) => errors.check("id", KeyId::new(text)),
            None => None,
        };
        let name = name(&mut errors, &self.name);
        let metadata = metadata(&mut errors, self.metadata.as_ref());
        let scopes = Scopes::new(scope_list(&mut errors, "scopes", &self.scopes));
        if self.scopes.is_empty() {
            errors.push("scopes", no_scope());
        }
        let expires_at = expiry(
            &mut errors,
            self.expires_at.as_deref(),
            self.expires_in.as_deref(),
            now,
        );
        let import = secret.zip(name).map(|(secret, name)| {
            let mut import = ImportKey::new(secret, name, scopes)
                .workspace(workspace.clone())
                .metadata(metadata.unwrap_or_default());
            import.id = id;
            import.expires_at = expires_at;
            import
        });
        errors.finish(import)
    }
}

impl UpdateKeyRequest {
    /// The change to make, or every refused field. Scopes are replaced (`scopes`), then added
    /// to (`add_scopes`), then removed from (`remove_scopes`): the store applies that to the
    /// key's current scopes in one step, so concurrent edits never undo each other.
    pub fn validate(&self) -> Result<KeyUpdate, AdminError> {
        let mut errors = Errors::default();
        operator_only(&mut errors, self.limits.as_ref(), self.overrides.as_ref());
        let refused_limits = self.limits.is_some() || self.overrides.is_some();
        let mut update = KeyUpdate::new();
        if let Some(text) = &self.name {
            update.name = name(&mut errors, text);
        }
        update.metadata = metadata(&mut errors, self.metadata.as_ref());
        if let Some(list) = &self.scopes {
            update.scopes = Some(Scopes::new(scope_list(&mut errors, "scopes", list)));
        }
        update.add_scopes = Scopes::new(scope_list(&mut errors, "add_scopes", &self.add_scopes));
        update.remove_scopes = Scopes::new(scope_list(
            &mut errors,
            "remove_scopes",
            &self.remove_scopes,
        ));
        if let Some(list) = &self.allowed_ips {
            update.allowed_ips = allowlist(&mut errors, list);
        }
        let touches_scopes =
            self.scopes.is_some() || !self.add_scopes.is_empty() || !self.remove_scopes.is_empty();
        if self.scopes.as_ref().is_some_and(Vec::is_empty) && self.add_scopes.is_empty() {
            errors.push("scopes", no_scope());
        }
        let changes = self.name.is_some()
            || self.metadata.is_some()
            || touches_scopes
            || self.allowed_ips.is_some();
        if !changes && !refused_limits {
            errors.0.push(FieldError {
                field: None,
                message: "nothing to change: give name, metadata, scopes, add_scopes, \
                          remove_scopes or allowed_ips"
                    .into(),
            });
        }
        errors.finish(Some(update))
    }
}

impl RotateKeyRequest {
    /// The grace period: [`DEFAULT_GRACE`] when not given, at most [`MAX_GRACE`].
    pub fn grace(&self) -> Result<Duration, AdminError> {
        let Some(text) = &self.grace else {
            return Ok(DEFAULT_GRACE);
        };
        let mut errors = Errors::default();
        let grace = duration(&mut errors, "grace", text);
        if grace.is_some_and(|g| g > MAX_GRACE) {
            errors.push(
                "grace",
                format!("at most {}", crate::view::format_duration(MAX_GRACE)),
            );
        }
        errors.finish(grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: serde_json::Value) -> Result<NewKey, AdminError> {
        serde_json::from_value::<CreateKeyRequest>(json)
            .unwrap()
            .validate(&Workspace::default(), SystemTime::now())
    }

    fn fields(error: AdminError) -> Vec<Option<String>> {
        match error {
            AdminError::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_becomes_the_key_to_create() {
        let new = create(serde_json::json!({
            "name": "ci-pipeline", "scopes": ["read:all", "write:all"],
            "expires_in": "90d", "quota": {"burst": 20, "interval": "100ms"}
        }))
        .unwrap();
        assert_eq!(new.name.as_str(), "ci-pipeline");
        assert_eq!(new.scopes.to_string(), "read:all,write:all");
        assert!(new.expires_at.is_some());
        assert_eq!(new.quota.unwrap().burst(), 20);
    }

    #[test]
    fn expires_at_and_expires_in_together_are_refused() {
        let error = create(serde_json::json!({
            "name": "ci", "scopes": ["read:all"],
            "expires_at": "2999-01-01T00:00:00Z", "expires_in": "1d"
        }))
        .unwrap_err();
        assert_eq!(fields(error), [Some("expires_in".to_owned())]);
    }

    #[test]
    fn a_quota_of_zero_is_refused() {
        let error = create(serde_json::json!({
            "name": "ci", "scopes": ["read:all"], "quota": {"burst": 0, "interval": "1s"}
        }))
        .unwrap_err();
        assert_eq!(fields(error), [Some("quota".to_owned())]);
    }

    #[test]
    fn a_quota_interval_with_a_sub_microsecond_part_is_refused() {
        let error = create(serde_json::json!({
            "name": "ci", "scopes": ["read:all"], "quota": {"burst": 2, "interval": "1500ns"}
        }))
        .unwrap_err();
        assert_eq!(fields(error), [Some("quota.interval".to_owned())]);
    }

    #[test]
    fn a_workspace_other_than_the_callers_is_refused_and_the_callers_own_is_kept() {
        let request = |workspace: &str| CreateKeyRequest {
            workspace: Some(workspace.into()),
            name: "ci".into(),
            scopes: vec!["read:all".into()],
            ..CreateKeyRequest::default()
        };
        let acme: Workspace = "acme".parse().unwrap();
        let error = request("globex").validate(&acme, SystemTime::now());
        assert_eq!(fields(error.unwrap_err()), [Some("workspace".to_owned())]);
        let new = request("acme").validate(&acme, SystemTime::now()).unwrap();
        assert_eq!(new.workspace, acme);
    }

    #[test]
    fn metadata_that_is_not_an_object_is_refused_naming_it() {
        let error = create(serde_json::json!({
            "name": "ci", "scopes": ["read:all"], "metadata": null
        }))
        .unwrap_err();
        assert_eq!(fields(error), [Some("metadata".to_owned())]);
    }

    #[test]
    fn an_update_of_the_metadata_alone_is_a_change() {
        let request = UpdateKeyRequest {
            metadata: Some(serde_json::json!({"tier": "pro"})),
            ..UpdateKeyRequest::default()
        };
        let update = request.validate().unwrap();
        assert_eq!(update.metadata.unwrap().as_json(), r#"{"tier":"pro"}"#);
    }

    #[test]
    fn allowed_ips_become_the_new_keys_allowlist() {
        let new = create(serde_json::json!({
            "name": "ci", "scopes": ["read:all"],
            "allowed_ips": ["192.0.2.7/24", "2001:db8::/32", "192.0.2.0/24"]
        }))
        .unwrap();
        assert_eq!(new.allowed_ips.to_string(), "192.0.2.0/24,2001:db8::/32");
    }

    #[test]
    fn each_allowed_ips_entry_that_is_no_network_is_refused_naming_it() {
        let error = create(serde_json::json!({
            "name": "ci", "scopes": ["read:all"],
            "allowed_ips": ["192.0.2.0/24", "example.com", "10.0.0.0/33", ""]
        }))
        .unwrap_err();
        let expected = ["allowed_ips[1]", "allowed_ips[2]", "allowed_ips[3]"];
        assert_eq!(fields(error), expected.map(|f| Some(f.to_owned())));
    }

    #[test]
    fn an_allowed_ips_entry_holding_two_networks_is_refused() {
        let request = UpdateKeyRequest {
            allowed_ips: Some(vec!["192.0.2.0/24,198.51.100.0/24".into()]),
            ..UpdateKeyRequest::default()
        };
        let error = request.validate().unwrap_err();
        assert_eq!(fields(error), [Some("allowed_ips[0]".to_owned())]);
    }

    #[test]
    fn more_allowed_ips_than_the_bound_are_refused_saying_it() {
        let many: Vec<String> = (0..=MAX_ALLOWED_NETWORKS)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        let request = UpdateKeyRequest {
            allowed_ips: Some(many),
            ..UpdateKeyRequest::default()
        };
        let AdminError::Invalid(errors) = request.validate().unwrap_err() else {
            panic!("not a validation error");
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field.as_deref(), Some("allowed_ips"));
        assert!(
            errors[0].message.contains("at most 64"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn an_update_of_the_allowlist_alone_is_a_change_and_an_empty_list_clears_it() {
        let update = |list: &[&str]| {
            let request = UpdateKeyRequest {
                allowed_ips: Some(list.iter().map(|s| (*s).to_owned()).collect()),
                ..UpdateKeyRequest::default()
            };
            request.validate().unwrap().allowed_ips
        };
        assert_eq!(
            update(&["::ffff:192.0.2.0/120"]).unwrap().to_string(),
            "192.0.2.0/24"
        );
        assert_eq!(update(&[]), Some(IpAllowlist::any()));
    }

    #[test]
    fn an_update_that_changes_nothing_is_refused() {
        let error = UpdateKeyRequest::default().validate().unwrap_err();
        assert_eq!(fields(error), [None]);
    }

    #[test]
    fn limits_and_overrides_are_refused_as_operator_only() {
        for member in ["limits", "overrides"] {
            let raise = serde_json::json!({"daily": {"max": 1_000_000}});
            let error = create(serde_json::json!({
                "name": "ci", "scopes": ["read:all"], member: raise.clone()
            }))
            .unwrap_err();
            assert_eq!(fields(error), [Some(member.to_owned())]);
            let update: UpdateKeyRequest =
                serde_json::from_value(serde_json::json!({ member: raise })).unwrap();
            assert_eq!(
                fields(update.validate().unwrap_err()),
                [Some(member.to_owned())]
            );
        }
    }

    #[test]
    fn grace_is_a_day_by_default_and_at_most_thirty_days() {
        assert_eq!(RotateKeyRequest::default().grace().unwrap(), DEFAULT_GRACE);
        let long = RotateKeyRequest {
            grace: Some("31d".into()),
        };
        assert_eq!(
            fields(long.grace().unwrap_err()),
            [Some("grace".to_owned())]
        );
    }

    fn import(json: serde_json::Value) -> Result<ImportKey, AdminError> {
        serde_json::from_value::<ImportKeyRequest>(json)
            .unwrap()
            .validate(&Workspace::default(), SystemTime::now())
    }

    #[test]
    fn an_import_by_digest_keeps_the_digest_id_and_expiry() {
        let digest = KeyDigest::of_secret(b"sk_live_0123456789abcdefghij");
        let import = import(serde_json::json!({
            "digest": digest.to_hex(), "id": "LegacyBill01", "name": "legacy",
            "scopes": ["read:all"], "expires_in": "30d"
        }))
        .unwrap();
        assert!(matches!(import.secret, ImportedSecret::Digest(d) if d == digest));
        assert_eq!(import.id, Some(KeyId::new("LegacyBill01").unwrap()));
        assert!(import.expires_at.is_some());
    }

    #[test]
    fn an_import_needs_exactly_one_of_key_and_digest() {
        let neither = import(serde_json::json!({"name": "a", "scopes": ["read:all"]}));
        assert_eq!(fields(neither.unwrap_err()), [Some("key".to_owned())]);
        let both = import(serde_json::json!({
            "key": "sk_live_0123456789abcdefghij", "digest": "00", "name": "a",
            "scopes": ["read:all"]
        }));
        assert_eq!(fields(both.unwrap_err()), [Some("digest".to_owned())]);
    }

    #[test]
    fn every_bad_field_of_an_import_is_reported_at_once() {
        let error = import(serde_json::json!({
            "digest": "not hex", "id": "short", "name": "Bad Name", "scopes": [],
            "workspace": "globex", "expires_at": "2001-01-01T00:00:00Z"
        }))
        .unwrap_err();
        let expected = ["workspace", "digest", "id", "name", "scopes", "expires_at"];
        assert_eq!(fields(error), expected.map(|f| Some(f.to_owned())));
    }

    #[test]
    fn an_import_requests_debug_output_never_shows_the_key() {
        let request: ImportKeyRequest = serde_json::from_value(serde_json::json!({
            "key": "sk_live_0123456789abcdefghij", "name": "a", "scopes": ["read:all"]
        }))
        .unwrap();
        let shown = format!("{request:?}");
        assert!(!shown.contains("sk_live"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
