//! The API Keys panel (feature `panel`): a key-management web page over the
//! [admin API](crate::admin), to nest at `Settings → API Keys` of an axum service.
//!
//! The page is one HTML file, a style sheet, a script and an icon, embedded in the crate: no
//! build step, no CDN, no third-party request; it works offline. In the browser it asks once
//! for a key with the `admin` scope, keeps it in `sessionStorage` (never `localStorage`, a
//! cookie or the URL) and sends it as `Authorization: Bearer` to the admin API. It lists the
//! keys (name, scopes, status, created, last used, expiry, and under the name the networks a
//! key is limited to, if any, read-only; never a secret), every page of them,
//! creates keys (scopes as checkboxes with what each grants), shows a new plaintext once with a
//! copy button and ready-to-paste cURL, Python and JavaScript snippets, edits scopes, rotates
//! with a grace period, disables and enables, and revokes or deletes after a confirmation
//! naming the key. Refusals show the API's problem
//! `detail`, `fix` and per-field `errors`.
//!
//! The panel router itself needs no key: it serves only static files. Nest it **outside**
//! [`ApiKeyLayer`](crate::ApiKeyLayer), and the admin API behind it:
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use axum::body::Body;
//! use http::{Request, StatusCode};
//! use keygate::panel::{self, Panel};
//! use keygate::policy::RoutePolicy;
//! use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter, Scope};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryKeyStore::new();
//! let layer = ApiKeyLayer::builder(store.clone(), MemoryRateLimiter::new())
//!     .policy(RoutePolicy::new().route("/admin/**", Scope::Admin))
//!     .build();
//! let app = Router::new()
//!     .nest("/admin", keygate::admin::router(Arc::new(store)))
//!     .layer(layer)
//!     // Added after `.layer`: the page is served without a key.
//!     .nest("/settings/api-keys", panel::router(Panel::new("/admin").unwrap()));
//!
//! let page = app
//!     .oneshot(Request::get("/settings/api-keys").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(page.status(), StatusCode::OK);
//! assert!(page.headers()["content-security-policy"]
//!     .to_str()
//!     .unwrap()
//!     .contains("frame-ancestors 'none'"));
//! # });
//! ```
//!
//! # Security
//!
//! Every answer carries a strict `Content-Security-Policy` ([`CONTENT_SECURITY_POLICY`]: only
//! the panel's own script and style sheet run, no inline script or style, no framing),
//! `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
//! and `Cache-Control: no-store`. The script writes every value from the API as text, never as
//! markup. A plaintext key is removed from the page as soon as its dialog is closed and is
//! never stored, so it does not survive a reload. The admin path reaches the page as an
//! HTML-escaped `data-` attribute, never pasted into a script.
//!
//! What the application must do: serve the page and the admin API over HTTPS, on one origin
//! (the script may only talk to its own origin), and keep the admin API behind `ApiKeyLayer`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("assets/index.html");
const PANEL_CSS: &str = include_str!("assets/panel.css");
const PANEL_JS: &str = include_str!("assets/panel.js");
const ICON_SVG: &str = include_str!("assets/icon.svg");

/// The `Content-Security-Policy` of every panel answer: the panel's own files only, no inline
/// script or style, requests to the page's own origin only, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers every panel answer carries, beside its `Content-Type`.
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (CSP, CONTENT_SECURITY_POLICY),
    (X_FRAME_OPTIONS, "DENY"),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (REFERRER_POLICY, "no-referrer"),
    (CACHE_CONTROL, "no-store"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// A path refused by [`Panel::new`] or [`Panel::example_path`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid panel path {0:?}: give an absolute path on the page's own origin, such as /admin \
     (letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ % /)"
)]
pub struct InvalidPanelPath(String);

impl InvalidPanelPath {
    /// A same-origin absolute path, without its trailing slashes.
    fn check(path: &str) -> Result<String, Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/".contains(c);
        let same_origin = path.starts_with('/') && !path.starts_with("//");
        if !same_origin || !path.chars().all(allowed) {
            return Err(Self(path.chars().take(80).collect()));
        }
        Ok(path.trim_end_matches('/').to_owned())
    }
}

/// What the page needs to know about the service it is served by.
///
/// ```
/// use keygate::panel::Panel;
///
/// let panel = Panel::new("/admin").unwrap().example_path("/v1/records").unwrap();
/// assert!(Panel::new("https://elsewhere.example/admin").is_err());
/// # let _ = panel;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    admin_path: String,
    example_path: String,
}

impl Panel {
    /// A panel over the admin API mounted at `admin_path` (the path the browser uses, e.g.
    /// `/admin` for `Router::new().nest("/admin", keygate::admin::router(..))`).
    ///
    /// The path must be absolute on the page's own origin: a URL or `//host` is refused.
    pub fn new(admin_path: &str) -> Result<Self, InvalidPanelPath> {
        Ok(Self {
            admin_path: InvalidPanelPath::check(admin_path)?,
            example_path: "/".to_owned(),
        })
    }

    /// The request the snippets shown with a new key make (`GET`, on the page's origin);
    /// `/` unless given, e.g. `/v1/records`.
    pub fn example_path(mut self, path: &str) -> Result<Self, InvalidPanelPath> {
        let checked = InvalidPanelPath::check(path)?;
        self.example_path = if checked.is_empty() {
            "/".to_owned()
        } else {
            checked
        };
        Ok(self)
    }

    /// The page, with the paths in escaped `data-` attributes; `{assets}` is left for
    /// [`index`] to fill.
    fn render(&self) -> String {
        INDEX_HTML
            .replace("{admin_path}", &escape_html(&self.admin_path))
            .replace("{example_path}", &escape_html(&self.example_path))
    }
}

/// The panel's routes, to nest where the page belongs
/// (`.nest("/settings/api-keys", keygate::panel::router(panel))`), outside `ApiKeyLayer`.
///
/// | path | answers |
/// |---|---|
/// | `/` | the page, `text/html` |
/// | `/panel.css` | its style sheet, `text/css` |
/// | `/panel.js` | its script, `text/javascript` |
/// | `/icon.svg` | its icon, `image/svg+xml` |
///
/// Each answer carries the security headers listed in the [module docs](self); any other path
/// under the panel is a 404, with the same headers.
pub fn router(panel: Panel) -> Router {
    let page: Arc<str> = Arc::from(panel.render());
    Router::new()
        .route("/", get(index))
        .route(
            "/panel.css",
            get(|| asset("text/css; charset=utf-8", PANEL_CSS)),
        )
        .route(
            "/panel.js",
            get(|| asset("text/javascript; charset=utf-8", PANEL_JS)),
        )
        .route("/icon.svg", get(|| asset("image/svg+xml", ICON_SVG)))
        .fallback(not_found)
        .with_state(page)
}

/// The page, its asset links relative to the address the browser asked for, so they resolve
/// wherever the panel is nested, and behind a proxy that strips a prefix.
async fn index(State(page): State<Arc<str>>, OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    let assets = match path.rsplit_once('/') {
        Some((_, "")) | None => String::from("./"),
        Some((_, last)) => format!("./{last}/"),
    };
    let body = page.replace("{assets}", &escape_html(&assets));
    with_headers("text/html; charset=utf-8", body)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    with_headers(content_type, body)
}

async fn not_found() -> Response {
    with_status(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "Not Found",
    )
}

fn with_headers(content_type: &'static str, body: impl IntoResponse) -> Response {
    with_status(StatusCode::OK, content_type, body)
}

fn with_status(
    status: StatusCode,
    content_type: &'static str,
    body: impl IntoResponse,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `text` safe inside an HTML element or a double- or single-quoted attribute.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_for_attributes_and_text() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_url_or_protocol_relative_path_is_refused() {
        for path in ["https://evil.example/admin", "//evil.example", "admin", ""] {
            assert!(Panel::new(path).is_err(), "{path:?} was accepted");
        }
    }

    #[test]
    fn a_path_with_quotes_or_angle_brackets_is_refused() {
        for path in ["/admin\"x", "/a<b", "/a>b", "/a b", "/a\\b", "/a\nb"] {
            assert!(Panel::new(path).is_err(), "{path:?} was accepted");
        }
    }

    #[test]
    fn trailing_slashes_are_dropped_from_the_admin_path() {
        assert_eq!(Panel::new("/admin/").unwrap().admin_path, "/admin");
        assert_eq!(Panel::new("/").unwrap().admin_path, "");
    }
}
