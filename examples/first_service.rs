use std::num::NonZeroU32;
use std::sync::Arc;

use axum::{Router, routing::get};
use keygate::policy::RoutePolicy;
use keygate::store::sqlite::SqliteKeyStore;
use keygate::{
    ApiKeyLayer, AuthenticatedKey, KeyManager, MemoryRateLimiter, NewKey, Quota, Scope, Scopes,
    Workspace,
};

/// A handler: the layer has checked the key, and tells it who is calling.
async fn records(key: AuthenticatedKey) -> String {
    format!("records for {} (scopes {})\n", key.name(), key.scopes())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keys live in a SQLite file (created on first use); only their SHA-256 digests are kept.
    let store = SqliteKeyStore::open("keys.db").await?;

    // On the first start, make an admin key and print it once: it cannot be shown again.
    if store.list(&Workspace::default()).await?.is_empty() {
        let admin = NewKey::new("admin".parse()?, Scopes::new([Scope::Admin]));
        let created = store.create(admin).await?;
        println!("admin key: {}", created.plaintext.expose_secret());
    }

    let per_second = NonZeroU32::new(10).ok_or("zero")?;
    let burst = NonZeroU32::new(20).ok_or("zero")?;
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        // Keys without a quota of their own get this one; without it they are not limited.
        .default_quota(Quota::per_second(per_second).allow_burst(burst))
        // GET needs read:all, POST write:all (the default); everything under /admin, admin.
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .build();

    let app = Router::new()
        .route("/v1/records", get(records))
        .nest("/admin", keygate::admin::router(Arc::new(store)))
        .layer(layer);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
