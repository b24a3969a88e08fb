//! The API Keys panel's router over real sockets: the page and its assets, their content
//! types, every security header, and the admin path reaching the page escaped.

#![cfg(feature = "panel")]

mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use bytes::Bytes;
use http::{Response, StatusCode};
use keygate::panel::{self, CONTENT_SECURITY_POLICY, Panel};
use keygate::policy::RoutePolicy;
use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter, Scope};

const MOUNT: &str = "/settings/api-keys";

/// The panel nested at [`MOUNT`] beside an admin API behind the layer, as a service mounts it.
async fn serve(panel: Panel) -> SocketAddr {
    serve_on(MemoryKeyStore::new(), panel).await
}

/// [`serve`] over `store`.
async fn serve_on(store: MemoryKeyStore, panel: Panel) -> SocketAddr {
    let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
        .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
        .build();
    let app = Router::new()
        .nest("/admin", keygate::admin::router(Arc::new(store)))
        .layer(layer)
        .nest(MOUNT, panel::router(panel));
    wire::serve_axum(app).await
}

async fn get(addr: SocketAddr, path: &str) -> Response<Bytes> {
    wire::send(addr, wire::request("GET", path, None)).await
}

fn text(response: &Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).unwrap()
}

fn admin_panel() -> Panel {
    Panel::new("/admin").unwrap()
}

/// The value of attribute `name` on the first element that has it.
fn attribute<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in the page"))
        + name.len()
        + 2;
    &html[start..start + html[start..].find('"').unwrap()]
}

fn assert_security_headers(response: &Response<Bytes>) {
    assert_eq!(
        wire::header(response, "content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(wire::header(response, "x-frame-options"), "DENY");
    assert_eq!(wire::header(response, "x-content-type-options"), "nosniff");
    assert_eq!(wire::header(response, "referrer-policy"), "no-referrer");
    assert_eq!(wire::header(response, "cache-control"), "no-store");
}

#[tokio::test]
async fn page_is_served_as_html_with_every_security_header() {
    let addr = serve(admin_panel()).await;
    let page = get(addr, MOUNT).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        wire::header(&page, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_security_headers(&page);
    assert!(text(&page).starts_with("<!doctype html>"));
}

#[tokio::test]
async fn every_asset_is_served_with_its_content_type_and_the_security_headers() {
    let addr = serve(admin_panel()).await;
    for (file, content_type, marker) in [
        ("panel.css", "text/css; charset=utf-8", ":focus-visible"),
        (
            "panel.js",
            "text/javascript; charset=utf-8",
            "sessionStorage",
        ),
        ("icon.svg", "image/svg+xml", "<svg"),
    ] {
        let asset = get(addr, &format!("{MOUNT}/{file}")).await;
        assert_eq!(asset.status(), StatusCode::OK, "{file}");
        assert_eq!(wire::header(&asset, "content-type"), content_type, "{file}");
        assert_security_headers(&asset);
        assert!(text(&asset).contains(marker), "{file} lacks {marker:?}");
    }
}

#[tokio::test]
async fn csp_allows_only_the_panels_own_files_and_forbids_framing() {
    let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
    for required in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(directives.contains(&required), "CSP lacks {required:?}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    assert!(!CONTENT_SECURITY_POLICY.contains("http"));
}

/// Fetches the page at `page_path` and every file it links, resolved as a browser does:
/// relative to the page's directory.
async fn assert_links_resolve(addr: SocketAddr, page_path: &str) {
    let page = get(addr, page_path).await;
    assert_eq!(page.status(), StatusCode::OK, "{page_path}");
    let html = text(&page);
    let dir = &page_path[..=page_path.rfind('/').unwrap()];
    let links: Vec<&str> = ["href=\"./", "src=\"./"]
        .iter()
        .flat_map(|attr| html.match_indices(attr).map(|(i, a)| &html[i + a.len()..]))
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(links.len(), 3, "icon, style sheet and script: {links:?}");
    for link in links {
        let resolved = format!("{dir}{link}");
        let asset = get(addr, &resolved).await;
        assert_eq!(asset.status(), StatusCode::OK, "{link} from {page_path}");
    }
}

#[tokio::test]
async fn the_page_links_its_assets_relative_to_where_it_is_nested() {
    let addr = serve(admin_panel()).await;
    assert_links_resolve(addr, MOUNT).await;
}

#[tokio::test]
async fn the_page_links_its_assets_relative_to_the_root_when_not_nested() {
    let addr = wire::serve_axum(panel::router(admin_panel())).await;
    assert_links_resolve(addr, "/").await;
}

#[tokio::test]
async fn the_admin_path_reaches_the_page_html_escaped_in_a_data_attribute() {
    let addr = serve(Panel::new("/admin&x'y").unwrap()).await;
    let page = get(addr, MOUNT).await;
    let html = text(&page);
    assert_eq!(attribute(html, "data-admin-path"), "/admin&amp;x&#39;y");
    assert_eq!(attribute(html, "data-example-path"), "/");
}

#[tokio::test]
async fn the_example_path_reaches_the_page_for_the_snippets() {
    let addr = serve(admin_panel().example_path("/v1/records").unwrap()).await;
    let page = get(addr, MOUNT).await;
    assert_eq!(attribute(text(&page), "data-example-path"), "/v1/records");
}

#[tokio::test]
async fn the_page_has_no_inline_script_style_or_event_handler() {
    let addr = serve(admin_panel()).await;
    let page = get(addr, MOUNT).await;
    let html = text(&page).to_ascii_lowercase();
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script src=\"./api-keys/panel.js\" defer></script>"));
    assert!(!html.contains("<style"));
    assert!(!html.contains(" style="));
    let handlers: Vec<&str> = html
        .match_indices(" on")
        .map(|(i, _)| &html[i + 1..])
        .filter(|rest| {
            let attr: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            rest[attr.len()..].starts_with('=')
        })
        .collect();
    assert!(handlers.is_empty(), "inline event handlers: {handlers:?}");
    assert!(!html.contains("javascript:"));
}

#[tokio::test]
async fn no_form_of_the_page_could_put_a_key_in_a_url() {
    // Without the script a form would submit its named fields, as a query string for GET.
    let addr = serve(admin_panel()).await;
    let page = get(addr, MOUNT).await;
    let html = text(&page);
    for control in ["<input", "<select", "<textarea"] {
        for (at, _) in html.match_indices(control) {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(!tag.contains(" name="), "a named control: {tag}");
        }
    }
    let forms: Vec<&str> = html
        .match_indices("<form")
        .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap()])
        .collect();
    assert_eq!(forms.len(), 6);
    for form in forms {
        assert!(form.contains(r#"method="post""#), "{form}");
    }
}

#[tokio::test]
async fn the_page_and_assets_name_no_other_origin() {
    let addr = serve(admin_panel()).await;
    for file in ["", "/panel.css", "/panel.js", "/icon.svg"] {
        let asset = get(addr, &format!("{MOUNT}{file}")).await;
        let body = text(&asset);
        for scheme in ["http://", "https://", "url(//", "src=\"//", "href=\"//"] {
            let found = body
                .match_indices(scheme)
                .map(|(i, _)| &body[i..(i + 40).min(body.len())])
                .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
                .collect::<Vec<_>>();
            assert!(found.is_empty(), "{file} names another origin: {found:?}");
        }
    }
}

#[tokio::test]
async fn the_page_needs_no_key_while_the_admin_api_beside_it_does() {
    let addr = serve(admin_panel()).await;
    assert_eq!(get(addr, MOUNT).await.status(), StatusCode::OK);
    assert_eq!(
        get(addr, "/admin/keys").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unknown_file_under_the_panel_is_not_found() {
    let addr = serve(admin_panel()).await;
    assert_eq!(
        get(addr, &format!("{MOUNT}/secrets.txt")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_change_made_from_the_page_is_recorded_with_the_signed_in_admin_key_as_actor() {
    use keygate::{KeyManager, NewKey};
    let store = MemoryKeyStore::new();
    let make =
        |name: &str, scopes: &str| NewKey::new(name.parse().unwrap(), scopes.parse().unwrap());
    let admin = store.create(make("ops-admin", "admin")).await.unwrap();
    let bot = store.create(make("billing-bot", "read:all")).await.unwrap();
    let addr = serve_on(store, admin_panel()).await;
    // The page's own request: the signed-in key as Bearer, to the admin path it was given.
    let key = admin.plaintext.expose_secret();
    let path = format!("/admin/keys/{}", bot.info.id);
    let edit = r#"{"add_scopes":["write:all"]}"#;
    assert_eq!(
        wire::json_call(addr, "PATCH", &path, key, edit)
            .await
            .status,
        200
    );
    let log = wire::json_call(addr, "GET", "/admin/audit?limit=1", key, "").await;
    let event = &log.json()["events"][0];
    assert_eq!(event["action"], "update");
    assert_eq!(
        event["actor"],
        serde_json::json!({"type": "key", "id": admin.info.id.to_string(), "name": "ops-admin"})
    );
}
