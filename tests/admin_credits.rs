//! Credits through the admin API, over a real socket, on the memory limiter the layer spends
//! them with: a workspace's admin reads its keys' balances; only the operator's admins top
//! them up, in any workspace; another workspace's key is the 404 of an unknown id; bad
//! requests change nothing. (The Redis ledger: tests/redis_credits.rs.)

#![cfg(feature = "axum")]

mod credits;
mod wire;

use credits::{App, serve};
use keygate::MemoryRateLimiter;
use serde_json::json;

async fn app() -> App {
    serve(MemoryRateLimiter::new(), true).await
}

/// The largest top-up: 2^53 − 1, the largest integer every JSON reader keeps exactly.
const MAX_ADD: u64 = (1 << 53) - 1;

#[tokio::test]
async fn a_workspace_admin_reads_the_balance_falling_as_requests_pass() {
    let app = app().await;
    assert_eq!(app.bot_balance(&app.acme).await, 3);
    assert_eq!(app.request(&app.acme.bot).await, 200);
    assert_eq!(app.bot_balance(&app.acme).await, 2);
    assert_eq!(app.request(&app.acme.bot).await, 200);
    assert_eq!(app.bot_balance(&app.acme).await, 1);
}

#[tokio::test]
async fn the_view_shows_every_credits_limit_of_the_plan_with_its_refill_and_sharing() {
    let app = app().await;
    let (id, _) = app.key_on(&app.acme, "pro-bot", Some("pro")).await;
    let view = app.credits(&app.acme.admin, &id).await;
    assert_eq!(
        view,
        json!({
            "id": id,
            "workspace": app.acme.workspace.as_str(),
            "plan": "pro",
            "credits": [{
                "limit": "credits",
                "shared": true,
                "balance": 1000,
                "initial": 1000,
                "refill": {"amount": 500, "period": "month"},
            }],
        })
    );
    let view = app.credits(&app.acme.admin, &app.acme.bot_id).await;
    assert_eq!(view["credits"][0]["shared"], false);
    assert_eq!(view["credits"][0]["refill"], json!(null));
}

#[tokio::test]
async fn a_key_with_its_own_credits_value_is_shown_and_spent_from_it() {
    use keygate::plan::{LimitValue, Overrides};
    use keygate::{KeyManager, NewKey};
    let app = app().await;
    let own = Overrides::new(vec![(
        "credits".parse().unwrap(),
        LimitValue::Credits {
            initial: 7,
            refill: None,
        },
    )])
    .unwrap();
    let created = app
        .store
        .create(
            NewKey::new("big-batch".parse().unwrap(), "read:all".parse().unwrap())
                .workspace(app.acme.workspace.clone())
                .plan("prepaid".parse().unwrap())
                .overrides(own),
        )
        .await
        .unwrap();
    let (id, key) = (
        created.info.id.to_string(),
        created.plaintext.expose_secret().to_owned(),
    );
    let view = app.credits(&app.acme.admin, &id).await;
    assert_eq!(view["credits"][0]["initial"], json!(7));
    assert_eq!(view["credits"][0]["balance"], json!(7));
    for _ in 0..7 {
        assert_eq!(app.request(&key).await, 200);
    }
    assert_eq!(app.request(&key).await, 429);
    let view = app.credits(&app.acme.admin, &id).await;
    assert_eq!(view["credits"][0]["balance"], json!(0));
}

#[tokio::test]
async fn a_key_without_a_plan_shows_no_plan_and_no_credits() {
    let app = app().await;
    let (id, _) = app.key_on(&app.acme, "plain", None).await;
    let view = app.credits(&app.acme.admin, &id).await;
    assert_eq!(view["plan"], json!(null));
    assert_eq!(view["credits"], json!([]));
}

#[tokio::test]
async fn a_key_on_a_plan_without_credits_shows_the_plan_and_no_credits() {
    let app = app().await;
    let (id, _) = app.key_on(&app.acme, "trial-bot", Some("trial")).await;
    let view = app.credits(&app.acme.admin, &id).await;
    assert_eq!(view["plan"], "trial");
    assert_eq!(view["credits"], json!([]));
}

#[tokio::test]
async fn a_workspace_admin_cannot_top_up_its_own_key_and_the_balance_stays() {
    let app = app().await;
    let path = format!("/admin/keys/{}/credits", app.acme.bot_id);
    let refused = app
        .call("POST", &path, &app.acme.admin, r#"{"add": 500}"#)
        .await;
    refused.assert_problem(403, "operator_only");
    assert_eq!(refused.header("cache-control"), Some("no-store"));
    assert_eq!(app.bot_balance(&app.acme).await, 3);
}

#[tokio::test]
async fn a_workspace_admin_naming_another_workspace_is_refused_as_not_the_operator() {
    let app = app().await;
    let path = format!(
        "/admin/keys/{}/credits?workspace={}",
        app.globex.bot_id, app.globex.workspace
    );
    for method in ["GET", "POST"] {
        let refused = app
            .call(method, &path, &app.acme.admin, r#"{"add": 5}"#)
            .await;
        refused.assert_problem(403, "operator_only");
    }
    assert_eq!(app.bot_balance(&app.globex).await, 3);
}

#[tokio::test]
async fn without_an_operator_no_admin_can_top_up() {
    let app = serve(MemoryRateLimiter::new(), false).await;
    for tenant in [&app.ops, &app.acme] {
        let path = format!("/admin/keys/{}/credits", tenant.bot_id);
        let refused = app
            .call("POST", &path, &tenant.admin, r#"{"add": 5}"#)
            .await;
        refused.assert_problem(403, "operator_only");
        assert_eq!(app.bot_balance(tenant).await, 3);
    }
}

#[tokio::test]
async fn a_key_without_admin_cannot_read_credits() {
    let app = app().await;
    let path = format!("/admin/keys/{}/credits", app.acme.bot_id);
    let refused = app.call("GET", &path, &app.acme.bot, "").await;
    refused.assert_problem(403, "insufficient_scope");
}

#[tokio::test]
async fn the_operator_tops_up_a_key_of_another_workspace() {
    let app = app().await;
    assert_eq!(app.request(&app.acme.bot).await, 200);
    let topped = app.operator_top_up(&app.acme, r#"{"add": 500}"#).await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    let view = topped.json();
    assert_eq!(view["id"], app.acme.bot_id);
    assert_eq!(view["workspace"], app.acme.workspace.as_str());
    assert_eq!(view["credits"][0]["balance"], 502);
    assert_eq!(app.bot_balance(&app.acme).await, 502);
    // Nothing else moved: globex's key of the same name and plan keeps its balance.
    assert_eq!(app.bot_balance(&app.globex).await, 3);
}

#[tokio::test]
async fn the_operator_reads_a_balance_in_another_workspace() {
    let app = app().await;
    let path = format!(
        "/admin/keys/{}/credits?workspace={}",
        app.globex.bot_id, app.globex.workspace
    );
    let shown = app.call("GET", &path, &app.ops.admin, "").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.json()["credits"][0]["balance"], 3);
}

#[tokio::test]
async fn the_operator_tops_up_its_own_workspaces_key_without_naming_it() {
    let app = app().await;
    let path = format!("/admin/keys/{}/credits", app.ops.bot_id);
    let topped = app
        .call("POST", &path, &app.ops.admin, r#"{"add": 2}"#)
        .await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    assert_eq!(app.bot_balance(&app.ops).await, 5);
}

#[tokio::test]
async fn a_key_refused_at_zero_passes_again_after_the_operators_top_up() {
    let app = app().await;
    for _ in 0..3 {
        assert_eq!(app.request(&app.acme.bot).await, 200);
    }
    let refused = app.call("GET", "/v1/records", &app.acme.bot, "").await;
    refused.assert_problem(429, "quota_exceeded");
    assert_eq!(app.bot_balance(&app.acme).await, 0);
    let topped = app.operator_top_up(&app.acme, r#"{"add": 1}"#).await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    assert_eq!(app.request(&app.acme.bot).await, 200);
    assert_eq!(app.request(&app.acme.bot).await, 429);
}

#[tokio::test]
async fn another_workspaces_key_is_the_404_of_an_unknown_id_byte_for_byte() {
    let app = app().await;
    // An id no key has: globex's with its first character changed.
    let target = &app.globex.bot_id;
    let unknown: String = std::iter::once(if target.starts_with('A') { 'B' } else { 'A' })
        .chain(target.chars().skip(1))
        .collect();
    let cases = [
        ("GET", &app.acme.admin, ""),
        // The operator without ?workspace= acts in its own workspace.
        ("GET", &app.ops.admin, ""),
        ("POST", &app.ops.admin, r#"{"add": 5}"#),
    ];
    for (method, caller, body) in cases {
        let route = "/admin/keys/{id}/credits";
        let across = app
            .call(method, &route.replace("{id}", target), caller, body)
            .await;
        let missing = app
            .call(method, &route.replace("{id}", &unknown), caller, body)
            .await;
        across.assert_problem(404, "key_not_found");
        assert_eq!(
            across.with_placeholder(target),
            missing.with_placeholder(&unknown)
        );
    }
    assert_eq!(app.bot_balance(&app.globex).await, 3);
}

#[tokio::test]
async fn bad_top_up_bodies_are_refused_and_change_nothing() {
    let app = app().await;
    let too_large = format!(r#"{{"add": 5, "limit": "{}"}}"#, "x".repeat(17 * 1024));
    let cases: [(&str, u16, &str, Option<&str>); 12] = [
        ("{not json", 400, "malformed_request", None),
        (&too_large, 413, "request_too_large", None),
        ("", 400, "malformed_request", None),
        ("{}", 422, "invalid_request", Some("add")),
        (r#"{"add": 0}"#, 422, "invalid_request", Some("add")),
        (r#"{"add": -1}"#, 422, "invalid_request", Some("add")),
        (r#"{"add": 1.5}"#, 422, "invalid_request", Some("add")),
        (r#"{"add": "5"}"#, 422, "invalid_request", Some("add")),
        (
            r#"{"add": 9007199254740992}"#,
            422,
            "invalid_request",
            Some("add"),
        ),
        (
            r#"{"add": 5, "amount": 5}"#,
            422,
            "invalid_request",
            Some("amount"),
        ),
        (
            r#"{"add": 5, "limit": "daily"}"#,
            422,
            "invalid_request",
            Some("limit"),
        ),
        (
            r#"{"add": 5, "limit": "Not A Name"}"#,
            422,
            "invalid_request",
            Some("limit"),
        ),
    ];
    for (body, status, code, field) in cases {
        let refused = app.operator_top_up(&app.acme, body).await;
        refused.assert_problem(status, code);
        if let Some(field) = field {
            assert_eq!(refused.json()["errors"][0]["field"], field, "{body}");
        }
    }
    assert_eq!(app.bot_balance(&app.acme).await, 3);
}

#[tokio::test]
async fn the_largest_top_up_is_two_to_the_53_minus_one() {
    let app = app().await;
    let body = json!({ "add": MAX_ADD }).to_string();
    let topped = app.operator_top_up(&app.acme, &body).await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    assert_eq!(topped.json()["credits"][0]["balance"], MAX_ADD + 3);
}

#[tokio::test]
async fn a_plan_with_several_credits_limits_needs_the_limit_named() {
    let app = app().await;
    let (id, _) = app.key_on(&app.acme, "duo-bot", Some("duo")).await;
    let path = format!("/admin/keys/{id}/credits?workspace={}", app.acme.workspace);
    let refused = app
        .call("POST", &path, &app.ops.admin, r#"{"add": 5}"#)
        .await;
    refused.assert_problem(422, "invalid_request");
    assert_eq!(refused.json()["errors"][0]["field"], "limit");

    let topped = app
        .call(
            "POST",
            &path,
            &app.ops.admin,
            r#"{"add": 5, "limit": "extra"}"#,
        )
        .await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    let balances: Vec<_> = topped.json()["credits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["limit"].as_str().unwrap().to_owned(),
                c["balance"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        balances,
        [("credits".to_owned(), 10), ("extra".to_owned(), 25)]
    );
}

#[tokio::test]
async fn a_key_with_no_credits_limit_cannot_be_topped_up() {
    let app = app().await;
    for plan in [None, Some("trial")] {
        let name = format!("bot-{}", plan.unwrap_or("none"));
        let (id, _) = app.key_on(&app.acme, &name, plan).await;
        let path = format!("/admin/keys/{id}/credits?workspace={}", app.acme.workspace);
        let refused = app
            .call("POST", &path, &app.ops.admin, r#"{"add": 5}"#)
            .await;
        refused.assert_problem(409, "key_conflict");
    }
}

#[tokio::test]
async fn a_bad_query_is_refused() {
    let app = app().await;
    let base = format!("/admin/keys/{}/credits", app.acme.bot_id);
    for query in [
        "workspace=Not%20A%20Workspace",
        "workspace=",
        "limit=credits",
        "workspace=a&workspace=b",
    ] {
        let refused = app
            .call(
                "POST",
                &format!("{base}?{query}"),
                &app.ops.admin,
                r#"{"add": 5}"#,
            )
            .await;
        refused.assert_problem(422, "invalid_request");
    }
    assert_eq!(app.bot_balance(&app.acme).await, 3);
}

#[tokio::test]
async fn an_unknown_query_parameter_is_named_in_at_most_64_characters() {
    let app = app().await;
    let name = "x".repeat(4096);
    let path = format!("/admin/keys/{}/credits?{name}=1", app.acme.bot_id);
    let refused = app.call("GET", &path, &app.acme.admin, "").await;
    refused.assert_problem(422, "invalid_request");
    assert_eq!(refused.json()["errors"][0]["field"], "x".repeat(64));
}

#[tokio::test]
async fn a_path_that_is_not_a_key_id_is_malformed() {
    let app = app().await;
    let refused = app
        .call("GET", "/admin/keys/not-an-id/credits", &app.acme.admin, "")
        .await;
    refused.assert_problem(400, "malformed_request");
}
