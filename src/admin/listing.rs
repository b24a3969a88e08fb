//! `GET /keys`: the caller's workspace's keys, oldest first, a page at a time.
//!
//! The query takes `limit` (1 to [`MAX_KEY_PAGE`], default [`DEFAULT_KEY_PAGE`]), `after`
//! (the `next` of the page before), `status` (`active`, `disabled`, `expired` or `revoked`)
//! and `name` (a prefix of the names listed, at most [`MAX_NAME_PREFIX`] bytes). Every bad
//! value is a 422 `invalid_request` naming its parameter, all at once. Keys are ordered by
//! creation time, then id, and a cursor stays valid while keys are created or deleted: a key
//! is never listed twice across pages.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};

use super::query::{decoded, read_query};
use super::types::{KeyList, KeyView};
use super::{AdminCaller, AdminError};
use crate::record::KeyStatus;
use crate::store::{
    DEFAULT_KEY_PAGE, KeyCursor, KeyListQuery, KeyManager, MAX_KEY_PAGE, MAX_NAME_PREFIX,
};

/// `GET /keys`
pub(super) async fn list(
    AdminCaller(caller): AdminCaller,
    State(manager): State<Arc<dyn KeyManager>>,
    RawQuery(query): RawQuery,
) -> Result<Json<KeyList>, AdminError> {
    let query = key_query(query.as_deref())?;
    let page = manager.list_page(caller.workspace(), &query).await?;
    Ok(Json(KeyList {
        keys: page.keys.iter().map(KeyView::from).collect(),
        next: page.next.map(|cursor| cursor.to_string()),
    }))
}

/// The [`KeyListQuery`] of a query string; every bad parameter is reported at once.
fn key_query(raw: Option<&str>) -> Result<KeyListQuery, AdminError> {
    let mut query = KeyListQuery::new();
    read_query(raw, |name, value| match name {
        "limit" => limit(value).map(|limit| query.limit = limit),
        "after" => value
            .parse::<KeyCursor>()
            .map(|cursor| query.after = Some(cursor))
            .map_err(|e| e.to_string()),
        "status" => value
            .parse::<KeyStatus>()
            .map(|status| query.status = Some(status)),
        "name" => name_prefix(value).map(|prefix| query.name_prefix = Some(prefix)),
        "workspace" => {
            Err("keys are listed in your own workspace only: leave workspace out".to_owned())
        }
        _ => Err(
            "unknown query parameter: the key listing takes limit, after, status and name"
                .to_owned(),
        ),
    })?;
    Ok(query)
}

/// `limit`: 1 to [`MAX_KEY_PAGE`] keys.
fn limit(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_KEY_PAGE).contains(n))
        .ok_or_else(|| {
            format!(
                "must be a whole number of keys from 1 to {MAX_KEY_PAGE} (default \
                 {DEFAULT_KEY_PAGE})"
            )
        })
}

/// `name`: the start of the names listed, percent-decoded, at most [`MAX_NAME_PREFIX`] bytes.
fn name_prefix(value: &str) -> Result<String, String> {
    let prefix = decoded(value).ok_or_else(|| "must be percent-encoded UTF-8".to_owned())?;
    if prefix.len() > MAX_NAME_PREFIX {
        return Err(format!(
            "a name prefix is at most {MAX_NAME_PREFIX} bytes (a key name is at most 64)"
        ));
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_fields(raw: &str) -> Vec<String> {
        super::super::query::refused_fields(raw, key_query)
    }

    #[test]
    fn no_query_reads_the_first_default_page_of_every_key() {
        assert_eq!(key_query(None).unwrap(), KeyListQuery::new());
        assert_eq!(key_query(Some("")).unwrap(), KeyListQuery::new());
    }

    #[test]
    fn limit_after_status_and_name_are_read() {
        let query = key_query(Some(
            "limit=5&after=1234567.AAAAAAAAAAAA&status=disabled&name=ci-",
        ))
        .unwrap();
        let cursor: KeyCursor = "1234567.AAAAAAAAAAAA".parse().unwrap();
        let expected = KeyListQuery::new()
            .limit(5)
            .after(cursor)
            .status(KeyStatus::Disabled)
            .name_prefix("ci-");
        assert_eq!(query, expected);
    }

    #[test]
    fn every_limit_outside_one_to_the_bound_is_refused_naming_the_bound() {
        for limit in ["0", "501", "-1", "ten", ""] {
            let refused = key_query(Some(&format!("limit={limit}")));
            let Err(AdminError::Invalid(errors)) = refused else {
                panic!("limit={limit} was not refused");
            };
            assert!(errors[0].message.contains("1 to 500"), "{:?}", errors[0]);
        }
        assert_eq!(key_query(Some("limit=500")).unwrap().limit, 500);
    }

    #[test]
    fn every_bad_parameter_is_reported_at_once() {
        let long = "a".repeat(MAX_NAME_PREFIX + 1);
        let raw = format!("limit=0&after=x&status=gone&name={long}&colour=red&workspace=acme");
        let fields = refused_fields(&raw);
        assert_eq!(
            fields,
            ["limit", "after", "status", "name", "colour", "workspace"]
        );
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        assert_eq!(refused_fields("status=active&status=revoked"), ["status"]);
    }

    #[test]
    fn a_percent_encoded_name_prefix_is_decoded() {
        let query = key_query(Some("name=ci%2Dpipe")).unwrap();
        assert_eq!(query.name_prefix.as_deref(), Some("ci-pipe"));
    }
}
