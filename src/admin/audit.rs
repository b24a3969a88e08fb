//! `GET /audit`: the caller's workspace's audit log, newest first, a page at a time.
//!
//! The query takes `limit` (1 to [`MAX_AUDIT_PAGE`], default [`DEFAULT_AUDIT_PAGE`]),
//! `before` (the `next` of the page before) and `key` (one key's events only). Every bad value
//! is a 422 `invalid_request` naming its parameter, all at once. The log read is always the
//! caller's own workspace's: a `key` of another workspace finds no event, exactly as an id no
//! key has, and there is no `workspace` parameter (the operator reads another workspace's log
//! with `keygate audit --workspace`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::handlers::uncached;
use super::query::read_query;
use super::{AdminCaller, AdminError};
use crate::audit::{
    AuditEvent, AuditId, AuditPage, AuditQuery, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE,
};
use crate::key::KeyId;
use crate::store::KeyManager;

/// `GET /audit`: a page of events, newest first, and the cursor of the next page.
///
/// ```json
/// {"events": [{"id": "12", "at": 1796000000, "workspace": "acme",
///   "actor": {"type": "key", "id": "Zwce9UxZEDf0", "name": "ops-admin"},
///   "action": "update", "key": {"id": "aB3dE5gH7jK9", "name": "ci-pipeline"},
///   "changes": [{"field": "scopes", "before": ["read:all"], "after": ["read:all", "write:all"]}]}],
///  "next": "12"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditList {
    /// The events, newest first, each as [`AuditEvent::to_json`] shows it.
    pub events: Vec<Value>,
    /// When older events follow: the `before` that reads them (`null` on the last page).
    pub next: Option<String>,
}

impl From<&AuditPage> for AuditList {
    fn from(page: &AuditPage) -> Self {
        Self {
            events: page.events.iter().map(AuditEvent::to_json).collect(),
            next: page.next.map(|id| id.to_string()),
        }
    }
}

/// `GET /audit`
pub(super) async fn list(
    admin: AdminCaller,
    State(manager): State<Arc<dyn KeyManager>>,
    RawQuery(query): RawQuery,
) -> Result<Response, AdminError> {
    let query = audit_query(query.as_deref())?;
    let page = manager.audit(admin.0.workspace(), &query).await?;
    Ok(uncached(Json(AuditList::from(&page)).into_response()))
}

/// The [`AuditQuery`] of a query string; every bad parameter is reported at once.
fn audit_query(raw: Option<&str>) -> Result<AuditQuery, AdminError> {
    let mut query = AuditQuery::new();
    read_query(raw, |name, value| match name {
        "limit" => limit(value).map(|limit| query.limit = limit),
        "before" => before(value).map(|before| query.before = Some(before)),
        "key" => KeyId::new(value)
            .map(|key| query.key = Some(key))
            .map_err(|e| e.to_string()),
        "workspace" => {
            Err("the audit log is read in your own workspace only: leave workspace out".to_owned())
        }
        _ => Err("unknown query parameter: the audit log takes limit, before and key".to_owned()),
    })?;
    Ok(query)
}

/// `limit`: 1 to [`MAX_AUDIT_PAGE`] events.
fn limit(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_AUDIT_PAGE).contains(n))
        .ok_or_else(|| {
            format!(
                "must be a whole number of events from 1 to {MAX_AUDIT_PAGE} (default \
                 {DEFAULT_AUDIT_PAGE})"
            )
        })
}

/// `before`: the `next` of an earlier page.
fn before(value: &str) -> Result<AuditId, String> {
    value.parse().map_err(|_| {
        "must be the next member of an earlier page: a whole number, such as 12".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_fields(raw: &str) -> Vec<String> {
        super::super::query::refused_fields(raw, audit_query)
    }

    #[test]
    fn no_query_reads_the_newest_default_page_of_every_key() {
        assert_eq!(audit_query(None).unwrap(), AuditQuery::new());
        assert_eq!(audit_query(Some("")).unwrap(), AuditQuery::new());
    }

    #[test]
    fn limit_before_and_key_are_read() {
        let query = audit_query(Some("limit=5&before=17&key=aB3dE5gH7jK9")).unwrap();
        let key = KeyId::new("aB3dE5gH7jK9").unwrap();
        assert_eq!(
            query,
            AuditQuery::new().limit(5).before(AuditId(17)).key(key)
        );
    }

    #[test]
    fn every_limit_outside_one_to_the_bound_is_refused_naming_the_bound() {
        for limit in ["0", "501", "-1", "ten", "", "99999999999999999999999"] {
            let refused = audit_query(Some(&format!("limit={limit}")));
            let Err(AdminError::Invalid(errors)) = refused else {
                panic!("limit={limit} was not refused");
            };
            assert!(errors[0].message.contains("1 to 500"), "{:?}", errors[0]);
        }
        assert_eq!(audit_query(Some("limit=500")).unwrap().limit, 500);
    }

    #[test]
    fn every_bad_parameter_is_reported_at_once() {
        let fields = refused_fields("limit=0&before=x&key=nope&colour=red&workspace=acme");
        assert_eq!(fields, ["limit", "before", "key", "colour", "workspace"]);
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        assert_eq!(refused_fields("limit=5&limit=6"), ["limit"]);
    }
}
