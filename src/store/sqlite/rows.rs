//! Key records as rows of `keygate_keys`: the SQL, and the conversions both ways.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::allowlist::IpAllowlist;
use crate::key::{KeyDigest, KeyId};
use crate::limit::Quota;
use crate::metadata::Metadata;
use crate::plan::PlanName;
use crate::record::{KeyName, KeyRecord, KeyStatus, PreviousSecret};
use crate::scope::Scopes;
use crate::store::{Definitions, KeyListQuery, StoreError, overrides, overrides_column};
use crate::workspace::Workspace;

/// The columns an insert writes, the key's own plan and overrides, then the lifecycle's, then
/// the allowlist, last.
const COLUMNS: &str = "id, name, digest, previous_digest, previous_valid_until, scopes, \
                       quota_burst, quota_interval_us, created_at, expires_at, revoked_at, \
                       last_used_at, workspace, metadata, plan, overrides, disabled_at, \
                       legacy_digest, allowed_ips";

/// What a read selects: the key's row (`k`), then the name and definition of the plan that
/// limits it, its own else its workspace's, in the same query, then the key's overrides.
const SELECT: &str = "SELECT k.id, k.name, k.digest, k.previous_digest, k.previous_valid_until, \
     k.scopes, k.quota_burst, k.quota_interval_us, k.created_at, k.expires_at, k.revoked_at, \
     k.last_used_at, k.workspace, k.metadata, COALESCE(k.plan, w.plan), p.definition, \
     k.overrides, k.disabled_at, k.legacy_digest, k.allowed_ips \
     FROM keygate_keys AS k \
     LEFT JOIN keygate_workspaces AS w ON w.workspace = k.workspace \
     LEFT JOIN keygate_plans AS p ON p.name = COALESCE(k.plan, w.plan)";

/// A backend error, as the layer reports it (503, never 401).
pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Microseconds since the Unix epoch (0 for earlier times, `i64::MAX` past year 294 247).
pub(super) fn to_micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time `micros` after the Unix epoch (negative values read as the epoch).
pub(super) fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// `record` with every time cut to whole microseconds, as the database keeps them: what a call
/// returns is then exactly what a later read finds.
pub(super) fn as_stored(mut record: KeyRecord) -> KeyRecord {
    let cut = |at: SystemTime| from_micros(to_micros(at));
    record.created_at = cut(record.created_at);
    record.expires_at = record.expires_at.map(cut);
    record.revoked_at = record.revoked_at.map(cut);
    record.disabled_at = record.disabled_at.map(cut);
    record.last_used_at = record.last_used_at.map(cut);
    if let Some(previous) = &mut record.previous {
        previous.valid_until = cut(previous.valid_until);
    }
    record
}

fn corrupt(id: &str, what: &str) -> StoreError {
    StoreError::Unavailable(format!("the keygate_keys row {id:?} is corrupt: {what}").into())
}

/// The raw columns of one row, before validation.
struct RawRow {
    id: String,
    name: String,
    digest: Vec<u8>,
    previous_digest: Option<Vec<u8>>,
    previous_valid_until: Option<i64>,
    scopes: String,
    quota_burst: Option<i64>,
    quota_interval_us: Option<i64>,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    workspace: String,
    metadata: String,
    /// The resolved plan's name and definition.
    plan: Option<String>,
    definition: Option<String>,
    /// The key's overrides, as JSON.
    overrides: Option<String>,
    disabled_at: Option<i64>,
    legacy_digest: Option<Vec<u8>>,
    /// The networks the key may be used from, comma-separated (`NULL`: anywhere).
    allowed_ips: Option<String>,
}

impl RawRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            digest: row.get(2)?,
            previous_digest: row.get(3)?,
            previous_valid_until: row.get(4)?,
            scopes: row.get(5)?,
            quota_burst: row.get(6)?,
            quota_interval_us: row.get(7)?,
            created_at: row.get(8)?,
            expires_at: row.get(9)?,
            revoked_at: row.get(10)?,
            last_used_at: row.get(11)?,
            workspace: row.get(12)?,
            metadata: row.get(13)?,
            plan: row.get(14)?,
            definition: row.get(15)?,
            overrides: row.get(16)?,
            disabled_at: row.get(17)?,
            legacy_digest: row.get(18)?,
            allowed_ips: row.get(19)?,
        })
    }

    /// The record, or a clear error naming the row if a column does not hold what keygate
    /// wrote there.
    fn into_record(self, definitions: &Definitions) -> Result<KeyRecord, StoreError> {
        let id = KeyId::new(&self.id).map_err(|e| corrupt(&self.id, &e.to_string()))?;
        let digest = |bytes: Vec<u8>| {
            <[u8; 32]>::try_from(bytes)
                .map(KeyDigest::from_bytes)
                .map_err(|_| corrupt(&self.id, "a digest is not 32 bytes"))
        };
        let name = KeyName::new(&self.name).map_err(|e| corrupt(&self.id, &e.to_string()))?;
        let workspace =
            Workspace::new(&self.workspace).map_err(|e| corrupt(&self.id, &e.to_string()))?;
        let metadata =
            Metadata::from_json(&self.metadata).map_err(|e| corrupt(&self.id, &e.to_string()))?;
        let scopes: Scopes = self
            .scopes
            .parse()
            .map_err(|e: crate::scope::ScopeError| corrupt(&self.id, &e.to_string()))?;
        let previous = match (self.previous_digest, self.previous_valid_until) {
            (Some(bytes), Some(until)) => Some(PreviousSecret {
                digest: digest(bytes)?,
                valid_until: from_micros(until),
            }),
            (None, None) => None,
            _ => {
                return Err(corrupt(
                    &self.id,
                    "previous_digest without its end, or back",
                ));
            }
        };
        let quota = match (self.quota_burst, self.quota_interval_us) {
            (Some(burst), Some(interval)) => {
                let burst = u32::try_from(burst)
                    .map_err(|_| corrupt(&self.id, "quota_burst is out of range"))?;
                let interval = Duration::from_micros(
                    u64::try_from(interval)
                        .map_err(|_| corrupt(&self.id, "quota_interval_us is negative"))?,
                );
                Some(Quota::new(burst, interval).map_err(|e| corrupt(&self.id, &e.to_string()))?)
            }
            (None, None) => None,
            _ => return Err(corrupt(&self.id, "only one of the quota columns is set")),
        };
        let legacy_digest = self.legacy_digest.map(digest).transpose()?;
        let allowed_ips = allowed_ips(self.allowed_ips.as_deref())
            .map_err(|why| corrupt(&self.id, &format!("allowed_ips {why}")))?;
        let overrides = overrides(&self.id, self.overrides.as_deref())?;
        let plan = match (&self.plan, &self.definition) {
            (Some(name), Some(definition)) => Some(
                definitions
                    .plan("keygate_plans", name, definition)?
                    .with_overrides(&overrides),
            ),
            (None, _) => None,
            (Some(name), None) => {
                return Err(corrupt(
                    &self.id,
                    &format!("its plan {name:?} is not defined"),
                ));
            }
        };
        Ok(KeyRecord::new(
            id,
            name,
            digest(self.digest)?,
            scopes,
            from_micros(self.created_at),
        )
        .with_workspace(workspace)
        .with_metadata(metadata)
        .with_plan(plan)
        .with_overrides(overrides)
        .with_previous(previous)
        .with_quota(quota)
        .with_expiry(self.expires_at.map(from_micros))
        .with_revoked_at(self.revoked_at.map(from_micros))
        .with_disabled_at(self.disabled_at.map(from_micros))
        .with_legacy_digest(legacy_digest)
        .with_allowed_ips(allowed_ips)
        .with_last_used_at(self.last_used_at.map(from_micros)))
    }
}

/// The `allowed_ips` column of `list`: its canonical networks, comma-separated; `NULL` for
/// anywhere.
fn allowed_ips_column(list: &IpAllowlist) -> Option<String> {
    (!list.is_any()).then(|| list.to_string())
}

/// The list an `allowed_ips` column holds, or why it holds none. An empty text is refused
/// rather than read as anywhere (keygate writes `NULL` for that): a damaged restriction must
/// not quietly open the key to every address.
fn allowed_ips(column: Option<&str>) -> Result<IpAllowlist, String> {
    let Some(text) = column else {
        return Ok(IpAllowlist::any());
    };
    match text.parse::<IpAllowlist>() {
        Ok(list) if list.is_any() => Err("holds no network (NULL is anywhere)".to_owned()),
        Ok(list) => Ok(list),
        Err(e) => Err(format!("does not parse: {e}")),
    }
}

fn quota_columns(quota: Option<Quota>) -> (Option<i64>, Option<i64>) {
    match quota {
        Some(q) => (
            Some(i64::from(q.burst())),
            Some(i64::try_from(q.interval().as_micros()).unwrap_or(i64::MAX)),
        ),
        None => (None, None),
    }
}

/// The record of the row matching `condition` (on the primary key), if any.
fn select_where(
    conn: &Connection,
    definitions: &Definitions,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Option<KeyRecord>, StoreError> {
    let raw = conn
        .prepare_cached(&format!("{SELECT} WHERE {condition}"))
        .and_then(|mut stmt| stmt.query_row(params, RawRow::read).optional())
        .map_err(unavailable)?;
    raw.map(|raw| raw.into_record(definitions)).transpose()
}

/// The record of `id`, whatever its workspace, if any, with its plan: the lookup on every
/// request.
pub(super) fn select(
    conn: &Connection,
    definitions: &Definitions,
    id: &KeyId,
) -> Result<Option<KeyRecord>, StoreError> {
    select_where(conn, definitions, "k.id = ?1", [id.as_str()])
}

/// The record of `id` if it belongs to `workspace`; `None` for another workspace's key, as for
/// an unknown id.
pub(super) fn select_in(
    conn: &Connection,
    definitions: &Definitions,
    workspace: &Workspace,
    id: &KeyId,
) -> Result<Option<KeyRecord>, StoreError> {
    select_where(
        conn,
        definitions,
        "k.id = ?1 AND k.workspace = ?2",
        [id.as_str(), workspace.as_str()],
    )
}

/// The key imported in another format whose whole token has `digest`, if any: the lookup of
/// such a token.
pub(super) fn select_by_legacy_digest(
    conn: &Connection,
    definitions: &Definitions,
    digest: &KeyDigest,
) -> Result<Option<KeyRecord>, StoreError> {
    select_where(
        conn,
        definitions,
        "k.legacy_digest = ?1",
        [&digest.as_bytes()[..]],
    )
}

/// A key's status at `?4` (microseconds), as [`KeyRecord::status_at`] tells it: revoked,
/// else expired, else disabled, else active.
const STATUS_AT: &str = "CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked' \
     WHEN k.expires_at IS NOT NULL AND k.expires_at <= ?4 THEN 'expired' \
     WHEN k.disabled_at IS NOT NULL THEN 'disabled' ELSE 'active' END";

/// The query of a page: `?1` the workspace, `?2` the name prefix (compared as text, so `%`
/// and `_` are themselves and case counts, unlike `LIKE`), `?3` the status at `?4`, `?5` and
/// `?6` the cursor's time and id (only `with_cursor`), `?7` the most rows to read.
fn page_sql(with_cursor: bool) -> String {
    // Row values compare column by column: a later creation time, or the same one and a
    // larger id. Without a cursor the condition is left out, not made always true, so that
    // both forms read the (workspace, created_at, id) index in order.
    let after = if with_cursor {
        "AND (k.created_at, k.id) > (?5, ?6)"
    } else {
        ""
    };
    format!(
        "{SELECT} WHERE k.workspace = ?1 \
         AND (?2 IS NULL OR substr(k.name, 1, length(?2)) = ?2) \
         AND (?3 IS NULL OR {STATUS_AT} = ?3) {after} \
         ORDER BY k.created_at, k.id LIMIT ?7"
    )
}

/// The records of `workspace` that `query` lists at `now`, oldest first (by creation time,
/// then id in byte order), at most one more than its page size: the cursor, status and name
/// prefix are all applied in SQL, so only the rows a filter skips are read beyond those.
pub(super) fn select_page(
    conn: &Connection,
    definitions: &Definitions,
    workspace: &Workspace,
    query: &KeyListQuery,
    now: SystemTime,
) -> Result<Vec<KeyRecord>, StoreError> {
    let sql = page_sql(query.after.is_some());
    let limit = i64::try_from(query.page_size() + 1).unwrap_or(i64::MAX);
    let raws = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    workspace.as_str(),
                    query.name_prefix.as_deref(),
                    query.status.map(KeyStatus::as_str),
                    to_micros(now),
                    query
                        .after
                        .map(|c| i64::try_from(c.created_micros()).unwrap_or(i64::MAX)),
                    query.after.map(|c| c.id().as_str().to_owned()),
                    limit,
                ],
                RawRow::read,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    raws.into_iter()
        .map(|raw| raw.into_record(definitions))
        .collect()
}

/// Every record of `workspace`, oldest first (then by name and id, as `MemoryKeyStore` lists
/// them).
pub(super) fn select_all(
    conn: &Connection,
    definitions: &Definitions,
    workspace: &Workspace,
) -> Result<Vec<KeyRecord>, StoreError> {
    let raws = conn
        .prepare_cached(&format!(
            "{SELECT} WHERE k.workspace = ?1 ORDER BY k.created_at, k.name, k.id"
        ))
        .and_then(|mut stmt| {
            stmt.query_map([workspace.as_str()], RawRow::read)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    raws.into_iter()
        .map(|raw| raw.into_record(definitions))
        .collect()
}

/// Whether an unrevoked key of `workspace` other than `except` is named `name`. Run inside
/// the immediate transaction that then writes, so no other writer can take the name between
/// the check and the write.
pub(super) fn name_in_use(
    conn: &Connection,
    workspace: &Workspace,
    name: &KeyName,
    except: Option<&KeyId>,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM keygate_keys \
         WHERE workspace = ?1 AND name = ?2 AND revoked_at IS NULL AND id IS NOT ?3)",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![workspace.as_str(), name.as_str(), except.map(KeyId::as_str)],
            |row| row.get(0),
        )
    })
    .map_err(unavailable)
}

/// Whether `id` belonged to a deleted key (and so is never used again).
pub(super) fn is_deleted(conn: &Connection, id: &KeyId) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM keygate_deleted_keys WHERE id = ?1)")
        .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)))
        .map_err(unavailable)
}

/// Whether a key imported in another format has the token whose digest is `digest`.
pub(super) fn legacy_digest_in_use(
    conn: &Connection,
    digest: &KeyDigest,
) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE legacy_digest = ?1)")
        .and_then(|mut stmt| stmt.query_row([&digest.as_bytes()[..]], |row| row.get(0)))
        .map_err(unavailable)
}

/// Removes the row of `record` and leaves its id in `keygate_deleted_keys`, deleted at `now`:
/// its name and legacy digest go with the row, and the id is never used again.
pub(super) fn delete(
    conn: &Connection,
    record: &KeyRecord,
    now: SystemTime,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM keygate_keys WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([record.id.as_str()]))
        .map_err(unavailable)?;
    conn.prepare_cached(
        "INSERT INTO keygate_deleted_keys (id, workspace, deleted_at) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            record.id.as_str(),
            record.workspace.as_str(),
            to_micros(now)
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

/// Inserts a new record, on its own plan `plan` if given; `Ok(false)` if its id is taken.
pub(super) fn insert(
    conn: &Connection,
    record: &KeyRecord,
    plan: Option<&PlanName>,
) -> Result<bool, StoreError> {
    let (burst, interval) = quota_columns(record.quota);
    let result = conn.execute(
        &format!("INSERT INTO keygate_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"),
        params![
            record.id.as_str(),
            record.name.as_str(),
            &record.digest.as_bytes()[..],
            record.previous.as_ref().map(|p| p.digest.as_bytes().to_vec()),
            record.previous.map(|p| to_micros(p.valid_until)),
            record.scopes.to_string(),
            burst,
            interval,
            to_micros(record.created_at),
            record.expires_at.map(to_micros),
            record.revoked_at.map(to_micros),
            record.last_used_at.map(to_micros),
            record.workspace.as_str(),
            record.metadata.as_json(),
            plan.map(PlanName::as_str),
            overrides_column(&record.overrides),
            record.disabled_at.map(to_micros),
            record.legacy_digest.as_ref().map(|d| d.as_bytes().to_vec()),
            allowed_ips_column(&record.allowed_ips),
        ],
    );
    match result {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Ok(false)
        }
        Err(e) => Err(unavailable(e)),
    }
}

/// Writes every changeable column of `record` (all but the id, workspace, own plan, legacy
/// digest, creation and last-use times), its overrides, disabling and allowlist included.
pub(super) fn update(conn: &Connection, record: &KeyRecord) -> Result<(), StoreError> {
    let (burst, interval) = quota_columns(record.quota);
    conn.execute(
        "UPDATE keygate_keys SET name = ?2, digest = ?3, previous_digest = ?4,
             previous_valid_until = ?5, scopes = ?6, quota_burst = ?7, quota_interval_us = ?8,
             expires_at = ?9, revoked_at = ?10, metadata = ?11, overrides = ?12,
             disabled_at = ?13, allowed_ips = ?14
         WHERE id = ?1",
        params![
            record.id.as_str(),
            record.name.as_str(),
            &record.digest.as_bytes()[..],
            record
                .previous
                .as_ref()
                .map(|p| p.digest.as_bytes().to_vec()),
            record.previous.map(|p| to_micros(p.valid_until)),
            record.scopes.to_string(),
            burst,
            interval,
            record.expires_at.map(to_micros),
            record.revoked_at.map(to_micros),
            record.metadata.as_json(),
            overrides_column(&record.overrides),
            record.disabled_at.map(to_micros),
            allowed_ips_column(&record.allowed_ips),
        ],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// Puts key `id` on its own plan `plan` (`None`: on its workspace's).
pub(super) fn set_plan(
    conn: &Connection,
    id: &KeyId,
    plan: Option<&PlanName>,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE keygate_keys SET plan = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![id.as_str(), plan.map(PlanName::as_str)]))
        .map_err(unavailable)?;
    Ok(())
}

/// Writes a batch of last-use times in one transaction, each only if its row holds no last use
/// within `interval_us` microseconds before it (so never moving a time backwards). Returns how
/// many rows it wrote, and the last use each key's row now holds.
pub(super) fn write_last_used(
    conn: &mut Connection,
    uses: &[(KeyId, SystemTime)],
    interval_us: i64,
) -> Result<(usize, Vec<(KeyId, SystemTime)>), StoreError> {
    let tx = conn.transaction().map_err(unavailable)?;
    let mut written = 0;
    let mut known = Vec::with_capacity(uses.len());
    {
        let mut write = tx
            .prepare_cached(
                "UPDATE keygate_keys SET last_used_at = ?2 WHERE id = ?1
                 AND (last_used_at IS NULL OR last_used_at < ?2 - ?3)",
            )
            .map_err(unavailable)?;
        let mut read = tx
            .prepare_cached("SELECT last_used_at FROM keygate_keys WHERE id = ?1")
            .map_err(unavailable)?;
        for (id, at) in uses {
            let at = to_micros(*at);
            written += write
                .execute(params![id.as_str(), at, interval_us])
                .map_err(unavailable)?;
            let now_held: Option<Option<i64>> = read
                .query_row(params![id.as_str()], |row| row.get(0))
                .optional()
                .map_err(unavailable)?;
            if let Some(Some(held)) = now_held {
                known.push((*id, from_micros(held)));
            }
        }
    }
    tx.commit().map_err(unavailable)?;
    Ok((written, known))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyCursor;

    #[test]
    fn times_are_kept_to_the_microsecond() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            from_micros(to_micros(at)),
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_000)
        );
    }

    #[test]
    fn times_before_the_epoch_read_as_the_epoch() {
        assert_eq!(to_micros(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(from_micros(-5), UNIX_EPOCH);
    }

    #[test]
    fn a_row_with_half_a_quota_is_reported_as_corrupt() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn, SystemTime::now()).unwrap();
        conn.execute(
            "INSERT INTO keygate_keys (id, name, digest, scopes, quota_burst, created_at)
             VALUES ('AAAAAAAAAAAA', 'ci', zeroblob(32), 'read:all', 5, 0)",
            [],
        )
        .unwrap_err();
        conn.execute_batch("PRAGMA ignore_check_constraints = ON")
            .unwrap();
        conn.execute(
            "INSERT INTO keygate_keys (id, name, digest, scopes, quota_burst, created_at)
             VALUES ('AAAAAAAAAAAA', 'ci', zeroblob(32), 'read:all', 5, 0)",
            [],
        )
        .unwrap();
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        let error = select(&conn, &Definitions::new(), &id).unwrap_err();
        assert!(error.to_string().contains("quota"), "{error}");
    }

    #[test]
    fn a_row_whose_workspace_or_metadata_does_not_validate_is_reported_as_corrupt() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn, SystemTime::now()).unwrap();
        let damaged = [
            ("Not A Workspace", "{}", "invalid workspace"),
            ("", "{}", "invalid workspace"),
            ("default", "[1, 2]", "metadata must be a JSON object"),
            ("default", "{tier: pro}", "metadata is not valid JSON"),
        ];
        for (i, (workspace, metadata, why)) in damaged.into_iter().enumerate() {
            let id = format!("AAAAAAAAAAA{i}");
            conn.execute(
                "INSERT INTO keygate_keys (id, name, digest, scopes, created_at, workspace, metadata)
                 VALUES (?1, 'ci', zeroblob(32), 'read:all', 0, ?2, ?3)",
                (&id, workspace, metadata),
            )
            .unwrap();
            let error = select(&conn, &Definitions::new(), &KeyId::new(&id).unwrap()).unwrap_err();
            assert!(error.is_unavailable(), "{error:?}");
            assert!(error.to_string().contains(why), "{error}");
        }
    }

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn, SystemTime::now()).unwrap();
        conn
    }

    /// A key of `default` with `id` and `name`, created `created_us` after the epoch.
    fn key(id: &str, name: &str, created_us: i64) -> KeyRecord {
        KeyRecord::new(
            KeyId::new(id).unwrap(),
            KeyName::new(name).unwrap(),
            KeyDigest::from_bytes([7; 32]),
            "read:all".parse().unwrap(),
            from_micros(created_us),
        )
    }

    /// The ids of the page `query` reads at `now`.
    fn page_ids(conn: &Connection, query: &KeyListQuery, now: SystemTime) -> Vec<String> {
        select_page(conn, &Definitions::new(), &Workspace::default(), query, now)
            .unwrap()
            .iter()
            .map(|record| record.id.to_string())
            .collect()
    }

    #[test]
    fn an_allowlist_is_stored_as_its_canonical_text_and_anywhere_as_null() {
        let conn = migrated();
        let list: IpAllowlist = "10.1.2.3/8, 2001:db8::1/32".parse().unwrap();
        insert(
            &conn,
            &key("000000000001", "listed", 1).with_allowed_ips(list.clone()),
            None,
        )
        .unwrap();
        insert(&conn, &key("000000000002", "anywhere", 2), None).unwrap();
        let stored = |id: &str| -> Option<String> {
            conn.query_row(
                "SELECT allowed_ips FROM keygate_keys WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert_eq!(
            stored("000000000001").as_deref(),
            Some("10.0.0.0/8,2001:db8::/32")
        );
        assert_eq!(stored("000000000002"), None);
        let read = select(
            &conn,
            &Definitions::new(),
            &KeyId::new("000000000001").unwrap(),
        );
        assert_eq!(read.unwrap().unwrap().allowed_ips, list);
    }

    #[test]
    fn a_row_whose_allowed_ips_do_not_read_as_networks_is_reported_as_corrupt() {
        let conn = migrated();
        for (i, damaged) in ["example.com", "10.0.0.0/33", "", " , "]
            .into_iter()
            .enumerate()
        {
            let id = format!("AAAAAAAAAAA{i}");
            conn.execute(
                "INSERT INTO keygate_keys (id, name, digest, scopes, created_at, allowed_ips)
                 VALUES (?1, 'ci', zeroblob(32), 'read:all', 0, ?2)",
                (&id, damaged),
            )
            .unwrap();
            let error = select(&conn, &Definitions::new(), &KeyId::new(&id).unwrap()).unwrap_err();
            assert!(error.is_unavailable(), "{damaged:?}: {error:?}");
            assert!(error.to_string().contains("allowed_ips"), "{error}");
        }
    }

    #[test]
    fn the_status_filter_in_sql_agrees_with_the_status_of_each_record() {
        let conn = migrated();
        let now = from_micros(1_000_000);
        let at = |us: i64| Some(from_micros(us));
        let records = [
            key("000000000001", "active", 1),
            key("000000000002", "disabled", 2).with_disabled_at(at(5)),
            key("000000000003", "expired", 3).with_expiry(at(999_999)),
            key("000000000004", "expiring-now", 4).with_expiry(at(1_000_000)),
            key("000000000005", "expiring-later", 5).with_expiry(at(1_000_001)),
            key("000000000006", "disabled-expired", 6)
                .with_disabled_at(at(5))
                .with_expiry(at(10)),
            key("000000000007", "disabled-later", 7)
                .with_disabled_at(at(5))
                .with_expiry(at(2_000_000)),
            key("000000000008", "revoked", 8).with_revoked_at(at(9)),
            key("000000000009", "revoked-disabled", 9)
                .with_revoked_at(at(9))
                .with_disabled_at(at(5))
                .with_expiry(at(10)),
        ];
        for record in &records {
            assert!(insert(&conn, record, None).unwrap());
        }
        for status in [
            KeyStatus::Active,
            KeyStatus::Disabled,
            KeyStatus::Expired,
            KeyStatus::Revoked,
        ] {
            let expected: Vec<String> = records
                .iter()
                .filter(|record| record.status_at(now) == status)
                .map(|record| record.id.to_string())
                .collect();
            let query = KeyListQuery::new().status(status);
            assert_eq!(page_ids(&conn, &query, now), expected, "{status}");
        }
    }

    #[test]
    fn a_name_prefix_is_matched_literally_and_case_sensitively() {
        let conn = migrated();
        for record in [
            key("000000000001", "ci-build", 1),
            key("000000000002", "cid", 2),
            key("000000000003", "deploy", 3),
        ] {
            insert(&conn, &record, None).unwrap();
        }
        let now = SystemTime::now();
        let listed = |prefix: &str| page_ids(&conn, &KeyListQuery::new().name_prefix(prefix), now);
        assert_eq!(listed("ci-"), ["000000000001"]);
        assert_eq!(listed("ci"), ["000000000001", "000000000002"]);
        assert!(
            listed("CI-").is_empty(),
            "LIKE would match case-insensitively"
        );
        assert!(listed("c%").is_empty(), "% is not a wildcard");
        assert!(listed("ci_").is_empty(), "_ is not a wildcard");
        assert_eq!(listed("").len(), 3);
    }

    #[test]
    fn keys_created_in_the_same_microsecond_are_paged_by_id_in_byte_order() {
        let conn = migrated();
        // Byte order puts every upper-case letter before every lower-case one.
        for (id, name) in [("aaaaaaaaaaaa", "lower"), ("BBBBBBBBBBBB", "upper")] {
            insert(&conn, &key(id, name, 5), None).unwrap();
        }
        insert(&conn, &key("000000000000", "later", 6), None).unwrap();
        let now = SystemTime::now();
        let first = KeyListQuery::new().limit(1);
        assert_eq!(
            page_ids(&conn, &first, now),
            ["BBBBBBBBBBBB", "aaaaaaaaaaaa"]
        );
        let cursor = KeyCursor::of(from_micros(5), KeyId::new("BBBBBBBBBBBB").unwrap());
        let rest = KeyListQuery::new().after(cursor);
        assert_eq!(
            page_ids(&conn, &rest, now),
            ["aaaaaaaaaaaa", "000000000000"]
        );
    }

    #[test]
    fn a_page_reads_the_paging_index_in_order_without_sorting() {
        let conn = migrated();
        for with_cursor in [false, true] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", page_sql(with_cursor)))
                .unwrap()
                .query_map(
                    params!["default", None::<String>, None::<String>, 0, 0, "", 51],
                    |row| row.get::<_, String>(3),
                )
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(plan.contains("keygate_keys_workspace_page"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    #[test]
    fn a_key_whose_plan_does_not_parse_is_unavailable_not_unlimited() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn, SystemTime::now()).unwrap();
        conn.execute_batch(
            "INSERT INTO keygate_plans (name, definition) VALUES ('trial', '{\"name\": \"trial\"}');
             INSERT INTO keygate_keys (id, name, digest, scopes, created_at, plan)
             VALUES ('AAAAAAAAAAAA', 'ci', zeroblob(32), 'read:all', 0, 'trial');",
        )
        .unwrap();
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        let error = select(&conn, &Definitions::new(), &id).unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(error.to_string().contains("\"trial\""), "{error}");
    }

    #[test]
    fn a_key_whose_overrides_do_not_parse_is_unavailable_not_unlimited() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn, SystemTime::now()).unwrap();
        let trial = crate::plan::Plan::new(
            "trial".parse().unwrap(),
            vec![crate::plan::Limit::quota(
                "daily".parse().unwrap(),
                5,
                crate::plan::Period::Day,
            )],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO keygate_plans (name, definition) VALUES ('trial', ?1)",
            [trial.to_json().to_string()],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO keygate_keys (id, name, digest, scopes, created_at, plan, overrides)
             VALUES ('AAAAAAAAAAAA', 'ci', zeroblob(32), 'read:all', 0, 'trial',
                     '{\"daily\": {\"max\": \"lots\"}}');",
        )
        .unwrap();
        let id = KeyId::new("AAAAAAAAAAAA").unwrap();
        let error = select(&conn, &Definitions::new(), &id).unwrap_err();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(error.to_string().contains("overrides"), "{error}");
    }
}
