//! The demo's record routes, shared by the quickstart and the server example:
//! `GET /v1/records` lists them, `POST /v1/records` adds one named by the body.
//!
//! Records belong to a workspace, as keys do: each handler reads the calling key's
//! workspace and touches only that workspace's records. Every workspace starts with the same
//! two records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use keygate::{AuthenticatedKey, Workspace};
use serde_json::{Value, json};

/// Each workspace's records.
type Records = Arc<Mutex<HashMap<Workspace, Vec<Value>>>>;

fn first_records() -> Vec<Value> {
    vec![
        json!({"id": 1, "name": "first record"}),
        json!({"id": 2, "name": "second record"}),
    ]
}

/// `/v1/records`, starting with two records in each workspace.
pub fn routes() -> Router {
    let records: Records = Arc::default();
    Router::new()
        .route("/v1/records", get(list_records).post(create_record))
        .with_state(records)
}

async fn list_records(
    State(records): State<Records>,
    Extension(key): Extension<AuthenticatedKey>,
) -> Json<Value> {
    let records = records
        .lock()
        .map(|all| {
            all.get(key.workspace())
                .cloned()
                .unwrap_or_else(first_records)
        })
        .unwrap_or_default();
    Json(json!({
        "records": records,
        "key": key.name().as_str(),
        "workspace": key.workspace().as_str(),
    }))
}

async fn create_record(
    State(records): State<Records>,
    Extension(key): Extension<AuthenticatedKey>,
    body: String,
) -> (StatusCode, Json<Value>) {
    let Ok(mut records) = records.lock() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "state poisoned"})),
        );
    };
    let records = records
        .entry(key.workspace().clone())
        .or_insert_with(first_records);
    let record = json!({
        "id": records.len() + 1,
        "name": body.trim(),
        "created_by": key.name().as_str(),
    });
    records.push(record.clone());
    (StatusCode::CREATED, Json(record))
}
