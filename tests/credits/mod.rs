//! A served app for the credits routes (and the audit log's, in tests/admin_audit.rs): records
//! behind `ApiKeyLayer` and the admin API with `/keys/{id}/credits`, over a memory store
//! holding three workspaces (the operator's `ops`, `acme` and `globex`), on any limiter that is
//! also the credits ledger.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use keygate::admin::Admin;
use keygate::plan::{AnchorDay, CreditLedger, Limit, Period, Plan, Refill, Sharing};
use keygate::policy::RoutePolicy;
use keygate::{
    ApiKeyLayer, KeyManager, MemoryKeyStore, NewKey, PlanManager, Quota, RateLimiter, Scope,
    Workspace,
};
use serde_json::Value;

use crate::wire::{self, Wire};

/// `prepaid`: 3 credits per key, never refilled.
pub fn prepaid() -> Plan {
    Plan::new(
        "prepaid".parse().unwrap(),
        vec![Limit::credits("credits".parse().unwrap(), 3, None)],
    )
    .unwrap()
}

/// `pro`: a rate, and 1000 credits shared by the workspace, refilled to 500 each month.
pub fn pro() -> Plan {
    let refill = Refill {
        amount: 500,
        period: Period::Month(AnchorDay::FIRST),
    };
    Plan::new(
        "pro".parse().unwrap(),
        vec![
            Limit::rate(
                "burst".parse().unwrap(),
                Quota::new(100, Duration::from_millis(10)).unwrap(),
            ),
            Limit::credits("credits".parse().unwrap(), 1000, Some(refill))
                .shared_by(Sharing::Workspace),
        ],
    )
    .unwrap()
}

/// `duo`: two credits limits, `credits` (10) and `extra` (20).
pub fn duo() -> Plan {
    Plan::new(
        "duo".parse().unwrap(),
        vec![
            Limit::credits("credits".parse().unwrap(), 10, None),
            Limit::credits("extra".parse().unwrap(), 20, None),
        ],
    )
    .unwrap()
}

/// `trial`: a daily quota, no credits.
pub fn trial() -> Plan {
    Plan::new(
        "trial".parse().unwrap(),
        vec![Limit::quota("daily".parse().unwrap(), 5, Period::Day)],
    )
    .unwrap()
}

/// A workspace id no other test (nor an earlier run on the same Redis) uses.
pub fn fresh_workspace(label: &str) -> Workspace {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{nanos:x}-{n}").parse().unwrap()
}

/// One workspace of the app: its admin key, and a key on `prepaid` (`billing-bot`).
pub struct Tenant {
    pub workspace: Workspace,
    pub admin: String,
    pub bot: String,
    pub bot_id: String,
}

/// The served app.
pub struct App {
    pub addr: SocketAddr,
    pub store: MemoryKeyStore,
    /// The operator's workspace (`ops`), named to the router only when asked.
    pub ops: Tenant,
    pub acme: Tenant,
    pub globex: Tenant,
}

async fn tenant(store: &MemoryKeyStore, workspace: Workspace) -> Tenant {
    let make = |name: &str, scopes: &str| {
        NewKey::new(name.parse().unwrap(), scopes.parse().unwrap()).workspace(workspace.clone())
    };
    let admin = store.create(make("admin", "admin")).await.unwrap();
    let bot = store
        .create(make("billing-bot", "read:all").plan("prepaid".parse().unwrap()))
        .await
        .unwrap();
    Tenant {
        workspace,
        admin: admin.plaintext.expose_secret().to_owned(),
        bot: bot.plaintext.expose_secret().to_owned(),
        bot_id: bot.info.id.to_string(),
    }
}

/// Serves the app on `limiter`, the operator being `ops` if `operator`, else nobody.
pub async fn serve<L>(limiter: L, operator: bool) -> App
where
    L: RateLimiter + CreditLedger + Clone,
{
    let store = MemoryKeyStore::new();
    for plan in [prepaid(), pro(), duo(), trial()] {
        store.put_plan(plan).await.unwrap();
    }
    let ops = tenant(&store, fresh_workspace("ops")).await;
    let acme = tenant(&store, fresh_workspace("acme")).await;
    let globex = tenant(&store, fresh_workspace("globex")).await;

    let mut admin = Admin::new(Arc::new(store.clone()))
        .plans()
        .credits(limiter.clone());
    if operator {
        admin = admin.operator(ops.workspace.clone());
    }
    let layer = ApiKeyLayer::builder(store.clone(), limiter)
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .build();
    let router = Router::new()
        .route("/v1/records", get(|| async { "records" }))
        .nest("/admin", admin.router())
        .layer(layer);
    App {
        addr: wire::serve_axum(router).await,
        store,
        ops,
        acme,
        globex,
    }
}

impl App {
    /// `method path` with `key` and `body` (none if empty), as raw HTTP/1.1.
    pub async fn call(&self, method: &str, path: &str, key: &str, body: &str) -> Wire {
        wire::json_call(self.addr, method, path, key, body).await
    }

    /// `GET /admin/keys/{id}/credits` by `admin`: the view, which must be a 200.
    pub async fn credits(&self, admin: &str, id: &str) -> Value {
        let shown = self
            .call("GET", &format!("/admin/keys/{id}/credits"), admin, "")
            .await;
        assert_eq!(shown.status, 200, "{}", shown.body);
        shown.json()
    }

    /// The balance of the first credits limit of `tenant`'s `billing-bot`, as its admin
    /// reads it.
    pub async fn bot_balance(&self, tenant: &Tenant) -> u64 {
        let view = self.credits(&tenant.admin, &tenant.bot_id).await;
        view["credits"][0]["balance"].as_u64().unwrap()
    }

    /// One request to `GET /v1/records` with `key`: its status.
    pub async fn request(&self, key: &str) -> u16 {
        self.call("GET", "/v1/records", key, "").await.status
    }

    /// The operator's top-up of `tenant`'s `billing-bot`, across workspaces.
    pub async fn operator_top_up(&self, tenant: &Tenant, body: &str) -> Wire {
        let path = format!(
            "/admin/keys/{}/credits?workspace={}",
            tenant.bot_id, tenant.workspace
        );
        self.call("POST", &path, &self.ops.admin, body).await
    }

    /// A key of `tenant` on `plan` (none: on no plan), with `read:all`: (id, plaintext).
    pub async fn key_on(
        &self,
        tenant: &Tenant,
        name: &str,
        plan: Option<&str>,
    ) -> (String, String) {
        let mut new = NewKey::new(name.parse().unwrap(), "read:all".parse().unwrap())
            .workspace(tenant.workspace.clone());
        if let Some(plan) = plan {
            new = new.plan(plan.parse().unwrap());
        }
        let created = self.store.create(new).await.unwrap();
        (
            created.info.id.to_string(),
            created.plaintext.expose_secret().to_owned(),
        )
    }
}
