//! The key lifecycle at the layer, over real sockets against an axum router: disabled,
//! enabled and deleted keys, and imported keys (of this service's format, and of another
//! format found by the digest of the whole token), on the memory store and on the cache in
//! front of it.

mod common;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use bytes::Bytes;
use http::Response;
use keygate::clock::ManualClock;
use keygate::key::{self, ApiKey, KeyDigest, KeyId, KeyPrefix};
use keygate::store::cache::CachedKeyStore;
use keygate::store::{ImportKey, ImportedSecret};
use keygate::{
    ApiKeyLayer, AuthenticatedKey, KeyManager, KeyStore, MemoryKeyStore, MemoryRateLimiter, NewKey,
    Workspace,
};
use wire::{header, problem_code, request, request_with, send, send_h2};

/// A token in another scheme's format, as a team moving to keygate has issued them.
const FOREIGN: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

/// Which store the layer reads.
#[derive(Clone, Copy, Debug)]
enum Backing {
    Memory,
    Cached,
}

const BACKINGS: [Backing; 2] = [Backing::Memory, Backing::Cached];

/// A server on a free port, and the store (as the layer reads it) to manage its keys with.
struct Server {
    addr: SocketAddr,
    keys: Arc<dyn KeyManager>,
    clock: ManualClock,
}

/// Answers with the authenticated key's name and scopes.
async fn records(request: Request) -> String {
    let key = request.extensions().get::<AuthenticatedKey>().unwrap();
    format!("{} {}", key.name(), key.scopes())
}

/// `layer` in front of `GET /v1/records`, served on a free port.
async fn serve<K: KeyStore + Clone>(store: K, clock: &ManualClock, imported: bool) -> SocketAddr {
    let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::with_clock(clock.clone()))
        .clock(clock.clone())
        .imported_keys(imported)
        .build();
    wire::serve_axum(
        Router::new()
            .route("/v1/records", get(records))
            .layer(layer),
    )
    .await
}

impl Server {
    /// A server on `backing`, accepting keys imported in another format when `imported`.
    async fn start(backing: Backing, imported: bool) -> Self {
        let clock = ManualClock::new();
        let memory = MemoryKeyStore::with_clock(KeyPrefix::default(), clock.clone());
        let (addr, keys): (_, Arc<dyn KeyManager>) = match backing {
            Backing::Memory => (
                serve(memory.clone(), &clock, imported).await,
                Arc::new(memory),
            ),
            Backing::Cached => {
                let cache = CachedKeyStore::builder(memory)
                    .clock(clock.clone())
                    .build()
                    .unwrap();
                (
                    serve(cache.clone(), &clock, imported).await,
                    Arc::new(cache),
                )
            }
        };
        Self { addr, keys, clock }
    }

    /// `GET /v1/records` with `Authorization: Bearer <token>`.
    async fn get(&self, token: &str) -> Response<Bytes> {
        send(self.addr, request("GET", "/v1/records", Some(token))).await
    }

    /// A new key of this service named `name`: its id and plaintext.
    async fn key(&self, name: &str) -> (KeyId, String) {
        let created = self
            .keys
            .create(NewKey::new(
                name.parse().unwrap(),
                "read:all".parse().unwrap(),
            ))
            .await
            .unwrap();
        let plaintext = created.plaintext.expose_secret().to_owned();
        (created.info.id, plaintext)
    }

    /// Imports `secret` as `name` with `scopes`: the id it got.
    async fn import(&self, secret: ImportedSecret, name: &str, scopes: &str) -> KeyId {
        let import = ImportKey::new(secret, name.parse().unwrap(), scopes.parse().unwrap());
        self.keys.import(import).await.unwrap().id
    }

    /// Imports [`FOREIGN`] as `legacy-backend`, allowed to read.
    async fn import_foreign(&self) -> KeyId {
        let secret = ImportedSecret::Plaintext(ApiKey::from_plaintext(FOREIGN));
        self.import(secret, "legacy-backend", "read:all").await
    }
}

fn ws() -> Workspace {
    Workspace::default()
}

/// Asserts a 401 problem answer with `code` and the challenge every 401 carries.
fn assert_unauthorized(answer: &Response<Bytes>, code: &str, backing: Backing) {
    assert_eq!(answer.status(), 401, "{backing:?}");
    assert_eq!(problem_code(answer), code, "{backing:?}");
    let challenge = header(answer, "www-authenticate");
    assert!(
        challenge
            .starts_with("Bearer realm=\"api\", error=\"invalid_token\", error_description=\""),
        "{backing:?}: {challenge}"
    );
}

/// A key of this service with `id` but another secret (a valid checksum).
fn other_secret(id: KeyId) -> String {
    let forged = key::generate_for(&KeyPrefix::default(), id).unwrap();
    forged.plaintext.expose_secret().to_owned()
}

#[tokio::test]
async fn disabled_key_is_refused_with_401_disabled_api_key() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        let (id, plaintext) = server.key("ci-pipeline").await;
        assert_eq!(server.get(&plaintext).await.status(), 200, "{backing:?}");
        server.keys.disable(&ws(), &id).await.unwrap();
        let answer = server.get(&plaintext).await;
        assert_unauthorized(&answer, "disabled_api_key", backing);
    }
}

#[tokio::test]
async fn wrong_secret_for_a_disabled_key_is_invalid_api_key() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        let (id, _) = server.key("ci-pipeline").await;
        server.keys.disable(&ws(), &id).await.unwrap();
        let answer = server.get(&other_secret(id)).await;
        assert_unauthorized(&answer, "invalid_api_key", backing);
    }
}

#[tokio::test]
async fn enabled_key_is_accepted_again() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        let (id, plaintext) = server.key("ci-pipeline").await;
        server.keys.disable(&ws(), &id).await.unwrap();
        assert_eq!(server.get(&plaintext).await.status(), 401, "{backing:?}");
        server.keys.enable(&ws(), &id).await.unwrap();
        let answer = server.get(&plaintext).await;
        assert_eq!(answer.status(), 200, "{backing:?}");
        assert_eq!(answer.body(), "ci-pipeline read:all", "{backing:?}");
    }
}

#[tokio::test]
async fn deleted_key_is_invalid_api_key() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        let (id, plaintext) = server.key("ci-pipeline").await;
        assert_eq!(server.get(&plaintext).await.status(), 200, "{backing:?}");
        server.keys.delete(&ws(), &id).await.unwrap();
        let answer = server.get(&plaintext).await;
        assert_unauthorized(&answer, "invalid_api_key", backing);
    }
}

#[tokio::test]
async fn imported_key_of_this_format_is_accepted_with_its_scopes() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        let generated = key::generate(&KeyPrefix::default()).unwrap();
        let secret = ImportedSecret::Plaintext(generated.plaintext.clone());
        let id = server
            .import(secret, "migrated", "read:all write:all")
            .await;
        assert_eq!(id, generated.id, "{backing:?}");
        let answer = server.get(generated.plaintext.expose_secret()).await;
        assert_eq!(answer.status(), 200, "{backing:?}");
        assert_eq!(answer.body(), "migrated read:all,write:all", "{backing:?}");
    }
}

#[tokio::test]
async fn imported_foreign_key_is_accepted_when_imported_keys_are_on() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        server.import_foreign().await;
        let answer = server.get(FOREIGN).await;
        assert_eq!(answer.status(), 200, "{backing:?}");
        assert_eq!(answer.body(), "legacy-backend read:all", "{backing:?}");
    }
}

#[tokio::test]
async fn foreign_key_imported_by_its_digest_is_accepted() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        let digest = KeyDigest::from_hex(&KeyDigest::of_secret(FOREIGN.as_bytes()).to_hex());
        let secret = ImportedSecret::Digest(digest.unwrap());
        server.import(secret, "legacy-worker", "read:all").await;
        let answer = server.get(FOREIGN).await;
        assert_eq!(answer.status(), 200, "{backing:?}");
        assert_eq!(answer.body(), "legacy-worker read:all", "{backing:?}");
    }
}

#[tokio::test]
async fn imported_foreign_key_is_malformed_when_imported_keys_are_off() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        server.import_foreign().await;
        let answer = server.get(FOREIGN).await;
        assert_unauthorized(&answer, "malformed_api_key", backing);
    }
}

#[tokio::test]
async fn unknown_foreign_token_is_invalid_api_key_like_an_unknown_id() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        server.import_foreign().await;
        let answer = server.get("sk_live_someoneElsesTokenEntirely").await;
        assert_unauthorized(&answer, "invalid_api_key", backing);
    }
}

#[tokio::test]
async fn short_foreign_token_stays_malformed_with_imported_keys_on() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        let answer = server.get("sk_live_short").await;
        assert_unauthorized(&answer, "malformed_api_key", backing);
    }
}

#[tokio::test]
async fn foreign_key_on_a_store_without_imported_keys_stays_malformed() {
    // The harness's counting store answers `None` to `get_by_digest`.
    let h = common::Harness::new();
    let layer = h.builder().imported_keys(true).build();
    let app = Router::new()
        .route("/v1/records", get(records))
        .layer(layer);
    let addr = wire::serve_axum(app).await;
    let answer = send(addr, request("GET", "/v1/records", Some(FOREIGN))).await;
    assert_unauthorized(&answer, "malformed_api_key", Backing::Memory);
    assert_eq!(h.lookups(), 0);
}

#[tokio::test]
async fn foreign_key_whose_import_was_deleted_is_invalid_api_key() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        let id = server.import_foreign().await;
        assert_eq!(server.get(FOREIGN).await.status(), 200, "{backing:?}");
        server.keys.delete(&ws(), &id).await.unwrap();
        let answer = server.get(FOREIGN).await;
        assert_unauthorized(&answer, "invalid_api_key", backing);
    }
}

#[tokio::test]
async fn disabled_foreign_key_is_refused_with_401_disabled_api_key() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        let id = server.import_foreign().await;
        assert_eq!(server.get(FOREIGN).await.status(), 200, "{backing:?}");
        server.keys.disable(&ws(), &id).await.unwrap();
        let answer = server.get(FOREIGN).await;
        assert_unauthorized(&answer, "disabled_api_key", backing);
    }
}

#[tokio::test]
async fn rotated_foreign_key_works_until_its_grace_period_ends_and_its_new_key_works() {
    for backing in BACKINGS {
        let server = Server::start(backing, true).await;
        let id = server.import_foreign().await;
        let grace = Duration::from_secs(60);
        let rotated = server.keys.rotate(&ws(), &id, grace).await.unwrap();
        let new_key = rotated.plaintext.expose_secret();
        assert!(new_key.starts_with("kg_"), "{backing:?}");
        assert_eq!(server.get(FOREIGN).await.status(), 200, "{backing:?}");
        assert_eq!(server.get(new_key).await.status(), 200, "{backing:?}");
        server.clock.advance(grace);
        let answer = server.get(FOREIGN).await;
        assert_unauthorized(&answer, "invalid_api_key", backing);
        assert_eq!(server.get(new_key).await.status(), 200, "{backing:?}");
    }
}

#[tokio::test]
async fn disabled_api_key_is_grpc_status_16() {
    for backing in BACKINGS {
        let server = Server::start(backing, false).await;
        let (id, plaintext) = server.key("ci-pipeline").await;
        server.keys.disable(&ws(), &id).await.unwrap();
        let bearer = format!("Bearer {plaintext}");
        let headers = [
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("authorization", &*bearer),
        ];
        let uri = format!("http://{}/grpc.health.v1.Health/Check", server.addr);
        let answer = send_h2(server.addr, request_with("POST", &uri, &headers)).await;
        assert_eq!(answer.status(), 200, "{backing:?}");
        assert_eq!(header(&answer, "grpc-status"), "16", "{backing:?}");
        let message = header(&answer, "grpc-message");
        assert!(message.contains("disabled"), "{backing:?}: {message}");
    }
}
