//! Rows of `keygate_keys` ↔ [`KeyRecord`]s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::Row;

use crate::allowlist::IpAllowlist;
use crate::key::{KeyDigest, KeyId};
use crate::limit::Quota;
use crate::metadata::Metadata;
use crate::record::{KeyName, KeyRecord, PreviousSecret};
use crate::scope::Scopes;
use crate::store::{Definitions, StoreError, overrides};
use crate::workspace::Workspace;

/// The columns that make a [`KeyRecord`], as a string literal for `concat!`: the key's row
/// (`k`), then the name and definition of the plan that limits it (its own, else its
/// workspace's), joined by [`plan_joins`], then the key's overrides and allowlist. The metadata, the
/// definition and the overrides are read as text, and parsed (and bounded) by
/// [`Metadata::from_json`], [`Definitions`] and [`Overrides::from_json`](crate::plan::Overrides::from_json).
macro_rules! record_columns {
    () => {
        "k.id, k.name, k.digest, k.previous_digest, k.previous_valid_until, k.scopes, \
         k.quota_burst, k.quota_interval_us, k.created_at, k.expires_at, k.revoked_at, \
         k.last_used_at, k.disabled_at, k.legacy_digest, k.workspace, \
         k.metadata::text AS metadata, \
         COALESCE(k.plan, w.plan) AS plan, p.definition::text AS plan_definition, \
         k.overrides::text AS overrides, k.allowed_ips"
    };
}
pub(super) use record_columns;

/// What [`record_columns`] reads besides the key's row `k`: its workspace's plan and the
/// resolved plan's definition.
macro_rules! plan_joins {
    () => {
        " LEFT JOIN keygate_workspaces AS w ON w.workspace = k.workspace \
         LEFT JOIN keygate_plans AS p ON p.name = COALESCE(k.plan, w.plan)"
    };
}
pub(super) use plan_joins;

/// A value of `table.column` that no record (or event) can hold: the row is corrupt, and the
/// call unavailable (503), never answered from it.
pub(super) fn corrupt_in(table: &str, column: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{table}.{column} holds an invalid value: {why}").into())
}

/// The column `name` of `row`, a row of `table`, as a `T`; anything else is [`corrupt_in`].
pub(super) fn column_in<'a, T: tokio_postgres::types::FromSql<'a>>(
    table: &str,
    row: &'a Row,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(name).map_err(|e| corrupt_in(table, name, e))
}

fn corrupt(column: &str, why: impl std::fmt::Display) -> StoreError {
    corrupt_in("keygate_keys", column, why)
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    name: &str,
) -> Result<T, StoreError> {
    column_in("keygate_keys", row, name)
}

fn digest(bytes: Vec<u8>, name: &str) -> Result<KeyDigest, StoreError> {
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| corrupt(name, format_args!("{} bytes, not 32", b.len())))?;
    Ok(KeyDigest::from_bytes(array))
}

/// The record a row of [`record_columns`] describes, with its plan (its overrides applied).
pub(super) fn record_from_row(
    row: &Row,
    definitions: &Definitions,
) -> Result<KeyRecord, StoreError> {
    let id: &str = column(row, "id")?;
    let id = KeyId::new(id).map_err(|e| corrupt("id", e))?;
    let name: &str = column(row, "name")?;
    let name = KeyName::new(name).map_err(|e| corrupt("name", e))?;
    let workspace: &str = column(row, "workspace")?;
    let workspace = Workspace::new(workspace).map_err(|e| corrupt("workspace", e))?;
    let metadata: &str = column(row, "metadata")?;
    let metadata = Metadata::from_json(metadata).map_err(|e| corrupt("metadata", e))?;
    let scopes: &str = column(row, "scopes")?;
    let scopes = Scopes::parse_list(scopes).map_err(|e| corrupt("scopes", e))?;
    let previous = match (
        column::<Option<Vec<u8>>>(row, "previous_digest")?,
        column::<Option<SystemTime>>(row, "previous_valid_until")?,
    ) {
        (Some(bytes), Some(valid_until)) => Some(PreviousSecret {
            digest: digest(bytes, "previous_digest")?,
            valid_until,
        }),
        (None, None) => None,
        _ => {
            return Err(corrupt(
                "previous_digest/previous_valid_until",
                "only one of them is set",
            ));
        }
    };
    let quota = match (
        column::<Option<i32>>(row, "quota_burst")?,
        column::<Option<i64>>(row, "quota_interval_us")?,
    ) {
        (Some(burst), Some(micros)) => {
            let burst = u32::try_from(burst).map_err(|e| corrupt("quota_burst", e))?;
            let micros = u64::try_from(micros).map_err(|e| corrupt("quota_interval_us", e))?;
            Some(
                Quota::new(burst, Duration::from_micros(micros))
                    .map_err(|e| corrupt("quota_burst/quota_interval_us", e))?,
            )
        }
        (None, None) => None,
        _ => {
            return Err(corrupt(
                "quota_burst/quota_interval_us",
                "only one of them is set",
            ));
        }
    };
    let overrides = overrides(id.as_str(), column::<Option<&str>>(row, "overrides")?)?;
    let plan = match (
        column::<Option<&str>>(row, "plan")?,
        column::<Option<&str>>(row, "plan_definition")?,
    ) {
        (Some(plan), Some(definition)) => Some(
            definitions
                .plan("keygate_plans", plan, definition)?
                .with_overrides(&overrides),
        ),
        (None, _) => None,
        (Some(plan), None) => {
            return Err(corrupt(
                "plan",
                format_args!("the plan {plan:?} is not defined"),
            ));
        }
    };
    Ok(KeyRecord::new(
        id,
        name,
        digest(column(row, "digest")?, "digest")?,
        scopes,
        column(row, "created_at")?,
    )
    .with_workspace(workspace)
    .with_metadata(metadata)
    .with_plan(plan)
    .with_overrides(overrides)
    .with_previous(previous)
    .with_quota(quota)
    .with_expiry(column(row, "expires_at")?)
    .with_revoked_at(column(row, "revoked_at")?)
    .with_disabled_at(column(row, "disabled_at")?)
    .with_legacy_digest(
        column::<Option<Vec<u8>>>(row, "legacy_digest")?
            .map(|bytes| digest(bytes, "legacy_digest"))
            .transpose()?,
    )
    .with_allowed_ips(allowed_ips(column(row, "allowed_ips")?)?)
    .with_last_used_at(column(row, "last_used_at")?))
}

/// The `allowed_ips` column of `list`: its canonical networks, comma-separated; `NULL` for
/// anywhere.
pub(super) fn allowed_ips_column(list: &IpAllowlist) -> Option<String> {
    (!list.is_any()).then(|| list.to_string())
}

/// The list an `allowed_ips` column holds. An empty text is corrupt rather than anywhere
/// (keygate writes `NULL` for that): a damaged restriction must not quietly open the key to
/// every address.
fn allowed_ips(column: Option<&str>) -> Result<IpAllowlist, StoreError> {
    let Some(text) = column else {
        return Ok(IpAllowlist::any());
    };
    match text.parse::<IpAllowlist>() {
        Ok(list) if list.is_any() => Err(corrupt("allowed_ips", "no network (NULL is anywhere)")),
        Ok(list) => Ok(list),
        Err(e) => Err(corrupt("allowed_ips", e)),
    }
}

/// The `quota_burst` and `quota_interval_us` columns of a quota.
///
/// The interval is kept in whole microseconds. `NewKey::validate` and `KeyUpdate::apply`
/// refuse a quota with a sub-microsecond part before it gets here, so what is stored reads
/// back as the same quota.
pub(super) fn quota_columns(
    quota: Option<Quota>,
) -> Result<(Option<i32>, Option<i64>), StoreError> {
    let Some(quota) = quota else {
        return Ok((None, None));
    };
    let burst = i32::try_from(quota.burst()).map_err(|_| {
        StoreError::Invalid(format!(
            "a burst of {} does not fit the key store (at most {})",
            quota.burst(),
            i32::MAX
        ))
    })?;
    // At most 365 days in microseconds: always fits.
    let micros = i64::try_from(quota.interval().as_micros()).unwrap_or(i64::MAX);
    Ok((Some(burst), Some(micros)))
}

/// `t` truncated to whole microseconds, the precision of `timestamptz`, so that what a call
/// returns equals what a later read gives.
pub(super) fn db_time(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => {
            UNIX_EPOCH + Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        }
        Err(_) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_interval_is_stored_in_whole_microseconds() {
        let quota = Quota::new(3, Duration::from_nanos(333_333_999)).unwrap();
        assert_eq!(
            quota_columns(Some(quota)).unwrap(),
            (Some(3), Some(333_333))
        );
        let tiny = Quota::new(1, Duration::from_nanos(1_999)).unwrap();
        assert_eq!(quota_columns(Some(tiny)).unwrap(), (Some(1), Some(1)));
        assert_eq!(quota_columns(None).unwrap(), (None, None));
    }

    #[test]
    fn burst_beyond_the_integer_column_is_refused() {
        let huge = Quota::new(u32::MAX, Duration::from_secs(1)).unwrap();
        assert!(matches!(
            quota_columns(Some(huge)),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn times_are_truncated_to_microseconds() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            db_time(t),
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_000)
        );
    }
}
