//! What a handler learns about the calling key's tenant: its workspace and metadata, from the
//! one lookup the layer already made.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use keygate::{AuthenticatedKey, KeyManager, KeyUpdate, Metadata, NewKey, Quota, Workspace};
use tower::service_fn;
use tower::util::BoxCloneService;

/// 200 with `<workspace> <metadata>` of the calling key.
async fn tenant(req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.extensions().get::<AuthenticatedKey>() {
        Some(key) => format!("{} {}", key.workspace(), key.metadata()),
        None => "no key".to_owned(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn service(h: &Harness) -> Svc {
    let layer = h
        .builder()
        .default_quota(Quota::per_second(nz(100)))
        .build();
    BoxCloneService::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(tenant)),
    )
}

async fn key_in(h: &Harness, workspace: &str, metadata: &str) -> (keygate::key::KeyId, String) {
    let created = h
        .store
        .create(
            NewKey::new("backend".parse().unwrap(), "read:all".parse().unwrap())
                .workspace(workspace.parse().unwrap())
                .metadata(metadata.parse().unwrap()),
        )
        .await
        .unwrap();
    (
        created.info.id,
        created.plaintext.expose_secret().to_owned(),
    )
}

#[tokio::test]
async fn a_handler_reads_the_keys_workspace_and_metadata_from_the_one_lookup() {
    let h = Harness::new();
    let (_, key) = key_in(&h, "acme", r#"{"tier": "pro", "billing_id": "cus_4711"}"#).await;
    let answer = send(&service(&h), with_key(get("/v1/records"), &key)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        r#"acme {"billing_id":"cus_4711","tier":"pro"}"#
    );
    assert_eq!(
        h.lookups(),
        1,
        "workspace and metadata come with the record"
    );
}

#[tokio::test]
async fn keys_of_two_workspaces_each_tell_their_own_workspace() {
    let h = Harness::new();
    let (_, acme) = key_in(&h, "acme", "{}").await;
    let (_, globex) = key_in(&h, "globex", r#"{"env":"staging"}"#).await;
    let svc = service(&h);
    assert_eq!(send(&svc, with_key(get("/"), &acme)).await.body, "acme {}");
    assert_eq!(
        send(&svc, with_key(get("/"), &globex)).await.body,
        r#"globex {"env":"staging"}"#
    );
}

#[tokio::test]
async fn a_key_made_without_a_workspace_is_in_default_with_empty_metadata() {
    let h = Harness::new();
    let (_, key) = h.key("local-dev", "read:all").await;
    let answer = send(&service(&h), with_key(get("/"), &key)).await;
    assert_eq!(answer.body, "default {}");
}

#[tokio::test]
async fn edited_metadata_reaches_the_handler_on_the_next_request() {
    let h = Harness::new();
    let (id, key) = key_in(&h, "acme", r#"{"tier":"free"}"#).await;
    let svc = service(&h);
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.body,
        r#"acme {"tier":"free"}"#
    );
    let acme: Workspace = "acme".parse().unwrap();
    let pro: Metadata = r#"{"tier":"pro"}"#.parse().unwrap();
    h.store
        .update(&acme, &id, KeyUpdate::new().metadata(pro))
        .await
        .unwrap();
    assert_eq!(
        send(&svc, with_key(get("/"), &key)).await.body,
        r#"acme {"tier":"pro"}"#
    );
}
