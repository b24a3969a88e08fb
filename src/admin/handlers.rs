//! The admin routes' handlers. Each starts with [`AdminCaller`], so each checks for itself
//! that the caller holds `admin`; each change is recorded in the audit log with the caller's
//! key as its actor, and logged (by key id and name, never a secret).

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::types::{
    CreateKeyRequest, CreatedKeyView, ImportKeyRequest, KeyView, RotateKeyRequest, UpdateKeyRequest,
};
use super::{AdminCaller, AdminError, FieldError};
use crate::key::KeyId;
use crate::store::plans::PlanManager;
use crate::store::{CreatedKey, ImportedSecret, KeyManager, StoreError};

type Manager = State<Arc<dyn KeyManager>>;

/// `GET /plans`: the plans the caller's workspace uses, its keys' and its own.
pub(super) async fn plans(
    AdminCaller(caller): AdminCaller,
    State((keys, plans)): State<(Arc<dyn KeyManager>, Arc<dyn PlanManager>)>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let workspace = caller.workspace();
    let workspace_plan = plans.workspace_plan(workspace).await?;
    let mut used: std::collections::BTreeSet<_> = keys
        .list(workspace)
        .await?
        .into_iter()
        .filter_map(|key| key.plan)
        .collect();
    used.extend(workspace_plan.clone());
    let mut shown = Vec::with_capacity(used.len());
    for name in &used {
        if let Some(plan) = plans.plan(name).await? {
            shown.push(plan.to_json());
        }
    }
    Ok(Json(serde_json::json!({
        "workspace_plan": workspace_plan.as_ref().map(|p| p.as_str()),
        "plans": shown,
    })))
}

/// Reads a JSON body; an empty body is `T::default()` where `empty_ok`.
pub(super) fn json_body<T: DeserializeOwned + Default>(
    body: Result<Bytes, BytesRejection>,
    empty_ok: bool,
) -> Result<T, AdminError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::TooLarge
        } else {
            AdminError::Malformed(rejection.body_text())
        }
    })?;
    if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let not_json =
        |e: &serde_json::Error| AdminError::Malformed(format!("the body is not valid JSON: {e}"));
    let mut json = serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        if e.inner().is_data() {
            AdminError::Invalid(vec![FieldError {
                field: Some(offending_member(&e)),
                message: e.inner().to_string(),
            }])
        } else {
            not_json(e.inner())
        }
    })?;
    json.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

/// The member a JSON data error is about: its path (`scope` for an unknown member,
/// `scopes[1]` or `quota.burst` for a value of the wrong type), or for a missing member the
/// path it should have had.
fn offending_member(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (missing, path.as_str()) {
        (Some(member), ".") => member.to_owned(),
        (Some(member), parent) => format!("{parent}.{member}"),
        (None, path) => path.to_owned(),
    }
}

pub(super) fn key_id(text: &str) -> Result<KeyId, AdminError> {
    KeyId::new(text).map_err(|e| AdminError::Malformed(e.to_string()))
}

/// `response` with `Cache-Control: no-store`.
pub(super) fn uncached(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A plaintext key, shown once: never cached.
fn shown_once(status: StatusCode, created: &CreatedKey) -> Response {
    uncached((status, Json(CreatedKeyView::from(created))).into_response())
}

/// `POST /keys`
pub(super) async fn create(
    admin: AdminCaller,
    State(manager): Manager,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = &admin.0;
    let request: CreateKeyRequest = json_body(body, false)?;
    let new = request.validate(caller.workspace(), SystemTime::now())?;
    let created = manager.create_by(&admin.actor(), new).await?;
    tracing::info!(workspace = %caller.workspace(), by = %caller.name(), key = %created.info.id,
        name = %created.info.name, scopes = %created.info.scopes, "keygate admin: key created");
    Ok(shown_once(StatusCode::CREATED, &created))
}

/// `GET /keys/{id}`
pub(super) async fn show(
    AdminCaller(caller): AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    let info = manager.info(caller.workspace(), &key_id(&id)?).await?;
    Ok(Json(KeyView::from(&info)))
}

/// `PATCH /keys/{id}`
pub(super) async fn update(
    admin: AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<KeyView>, AdminError> {
    let caller = &admin.0;
    let id = key_id(&id)?;
    let request: UpdateKeyRequest = json_body(body, false)?;
    let update = request.validate()?;
    // The store applies the scope edits to the key's current scopes in one step; the only
    // change it can refuse as invalid here is one that would leave no scope.
    let info = manager
        .update_by(&admin.actor(), caller.workspace(), &id, update)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(message) => AdminError::invalid("scopes", message),
            other => AdminError::from(other),
        })?;
    tracing::info!(workspace = %caller.workspace(), by = %caller.name(), key = %id,
        name = %info.name, scopes = %info.scopes, "keygate admin: key updated");
    Ok(Json(KeyView::from(&info)))
}

/// `POST /keys/{id}/revoke`
pub(super) async fn revoke(
    admin: AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    let caller = &admin.0;
    let id = key_id(&id)?;
    let info = manager
        .revoke_by(&admin.actor(), caller.workspace(), &id)
        .await?;
    tracing::info!(workspace = %caller.workspace(), by = %caller.name(), key = %id,
        name = %info.name, "keygate admin: key revoked");
    Ok(Json(KeyView::from(&info)))
}

/// `POST /keys/{id}/rotate`
pub(super) async fn rotate(
    admin: AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = &admin.0;
    let id = key_id(&id)?;
    let request: RotateKeyRequest = json_body(body, true)?;
    let grace = request.grace()?;
    let rotated = manager
        .rotate_by(&admin.actor(), caller.workspace(), &id, grace)
        .await?;
    tracing::info!(workspace = %caller.workspace(), by = %caller.name(), key = %id,
        grace_secs = grace.as_secs(), "keygate admin: key rotated");
    Ok(shown_once(StatusCode::OK, &rotated))
}

/// A change of a key's state that answers with its view: disable, enable, delete.
#[derive(Clone, Copy)]
enum StateChange {
    Disable,
    Enable,
    Delete,
}

/// Makes `change` to key `id` of the caller's workspace, by the caller, and logs it.
async fn change_state(
    admin: AdminCaller,
    manager: Arc<dyn KeyManager>,
    id: &str,
    change: StateChange,
) -> Result<Json<KeyView>, AdminError> {
    let caller = &admin.0;
    let id = key_id(id)?;
    let (actor, workspace) = (admin.actor(), caller.workspace());
    let (info, done) = match change {
        StateChange::Disable => (
            manager.disable_by(&actor, workspace, &id).await?,
            "disabled",
        ),
        StateChange::Enable => (manager.enable_by(&actor, workspace, &id).await?, "enabled"),
        StateChange::Delete => (manager.delete_by(&actor, workspace, &id).await?, "deleted"),
    };
    tracing::info!(workspace = %workspace, by = %caller.name(), key = %id,
        name = %info.name, "keygate admin: key {done}");
    Ok(Json(KeyView::from(&info)))
}

/// `POST /keys/{id}/disable`
pub(super) async fn disable(
    admin: AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    change_state(admin, manager, &id, StateChange::Disable).await
}

/// `POST /keys/{id}/enable`
pub(super) async fn enable(
    admin: AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    change_state(admin, manager, &id, StateChange::Enable).await
}

/// `DELETE /keys/{id}`: the key as it was.
pub(super) async fn delete(
    admin: AdminCaller,
    State(manager): Manager,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, AdminError> {
    change_state(admin, manager, &id, StateChange::Delete).await
}

/// `POST /keys/import`
pub(super) async fn import(
    admin: AdminCaller,
    State(manager): Manager,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<KeyView>), AdminError> {
    let caller = &admin.0;
    let request: ImportKeyRequest = json_body(body, false)?;
    let import = request.validate(caller.workspace(), SystemTime::now())?;
    drop(request);
    let plaintext = matches!(import.secret, ImportedSecret::Plaintext(_));
    // What the store refuses as invalid once the fields are read is the key itself: its
    // format, or an id that is not the one inside it.
    let info = manager
        .import_by(&admin.actor(), import)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(message) if plaintext => AdminError::invalid("key", message),
            other => AdminError::from(other),
        })?;
    tracing::info!(workspace = %caller.workspace(), by = %caller.name(), key = %info.id,
        name = %info.name, scopes = %info.scopes, "keygate admin: key imported");
    Ok((StatusCode::CREATED, Json(KeyView::from(&info))))
}
