//! The web dashboard: server-rendered pages for head office, in English and Vietnamese.
//!
//! # The pieces
//! - Route tables (`ROUTES` in each page module): every dashboard route is one [`Route`]
//!   (method, path, who may call it: [`Access`]). [`routes`] concatenates the tables;
//!   [`router`] builds the axum router from that one list and wraps every route in
//!   `guard`, which (in this order) signs the caller in ([`auth::Viewer`], else a
//!   redirect to `/login?next=`), checks the CSRF token and origin of every non-GET
//!   request ([`csrf`]), checks a `{store_id}` in the path against the viewer's scope
//!   (404 outside it, the same as for a missing store, [`auth::ScopedStore`]), then the
//!   minimum role ([`required_role`], 403). The test `tests/web/scope.rs` iterates
//!   [`routes`], so a new route is covered by construction.
//! - [`error::WebError`]: every failure; `render_errors` turns it into a translated page.
//! - [`layout::Layout`] and `templates/base.html`: the header, nav and language switch.
//! - [`i18n`]: every visible string is an English msgid, translated from
//!   `crates/hq/lang/vi.po`.
//! - Security headers on every response of this router (CSP without inline script,
//!   frames denied, `no-store` on pages).
//!
//! # How to add a page (for example the devices page)
//! The overview at `/` (`pages::overview`, a list of the stores in scope) is a
//! placeholder: the overview page replaces its handler and template. `/stores/{store_id}`
//! is free for the store page.
//! 1. **Template**: `templates/devices.html`, starting with `{% extends "base.html" %}`,
//!    with `{% block title %}{{ l.t("Devices") }}{% endblock %}` and a
//!    `{% block content %}`. Every visible string is `{{ l.t("...") }}` (or `l.f("... {n}",
//!    [("n", value)])`); askama escapes every `{{ }}`. Forms: `method="post"` and
//!    `<input type="hidden" name="csrf" value="{{ l.csrf }}">`. No inline script or style
//!    (the CSP refuses them); classes from `static/app.css`.
//! 2. **Handler** in its own module (`web/devices.rs`): a struct
//!    `#[derive(askama::Template, askama_web::WebTemplate)] #[template(path =
//!    "devices.html")] struct DevicesPage { l: Layout, ... }` built from one query, and
//!    `async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<DevicesPage,
//!    WebError>` with `l: Layout::new(&viewer)`. Store lists come from
//!    `viewer.stores_in_scope(&state)`; a store from the path from the `ScopedStore`
//!    extractor (declare the path with `{store_id}`); a store id from a query or form goes
//!    through `viewer.store(&state, id)`. Numbers come from `crate::reports` (no business
//!    rule in a template). Forms are read with [`WebForm`] (400 with a translated message).
//!    Audit what changes with [`audit::record`].
//! 3. **Route-table entry**: `pub const ROUTES: &[Route] = &[route!(GET "/devices",
//!    Access::Signed(Role::Viewer), page), route!(POST "/stores/{store_id}/devices/{device_id}/revoke",
//!    Access::Signed(Role::Manager), revoke)];` in the module, and one
//!    `.chain(devices::ROUTES)` line in [`routes`]. A POST needs `Role::Manager` at
//!    least whatever it declares (the guard enforces it: viewers are read-only); admin
//!    pages declare `Role::Admin`.
//! 4. **Translations**: add each new msgid with its Vietnamese `msgstr` to
//!    `crates/hq/lang/vi.po`; the unit test `every_template_string_is_translated` fails on
//!    a msgid a template uses that the catalog lacks.
//! 5. **Tests** in `crates/hq/tests/web/<page>.rs` with `crate::on_both_backends!`, using
//!    `common::web` (`WebClient`, `login`, `user_of_role`, `csrf_of`). The scope test
//!    picks the new routes up by itself; give a route that needs a second path parameter a
//!    fixture in `tests/web/scope.rs` only if a random UUID will not do.

pub mod alerts;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod charts;
pub mod csrf;
pub mod device_status;
pub mod devices;
pub mod digests;
pub mod error;
pub mod export;
pub mod figures;
pub mod format;
pub mod i18n;
pub mod layout;
pub mod login;
pub mod overview;
pub mod pages;
pub mod period;
pub mod privacy;
pub mod session;
pub mod store_page;
pub mod survey;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use auth::{Scope, ScopedStore, Viewer};
pub use error::WebError;
pub use layout::Layout;

use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::throttle::{AttemptRules, AttemptThrottle, Rule};
use error::ErrorPage;
use i18n::Lang;

/// How the dashboard behaves; part of [`crate::Settings`].
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// Mark cookies `Secure` even without `--tls-cert` (HQ behind a TLS proxy).
    pub secure_cookies: bool,
    /// How hard sign-in attempts are throttled.
    pub login_throttle: AttemptRules,
    /// How long a set-password link stays valid.
    pub password_link_valid: Duration,
    /// The dashboard's address as people reach it (`https://hq.example.com`), for
    /// set-password links; without it, the admin's own request's host.
    pub public_url: Option<String>,
    /// A kiosk silent for this much of its store's opening time is flagged offline
    /// ([`crate::storage::analytics::DeviceHealth::is_offline`]).
    pub offline_after: Duration,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            session_idle: Duration::from_secs(8 * 3600),
            secure_cookies: false,
            login_throttle: login_rules(),
            password_link_valid: Duration::from_secs(72 * 3600),
            public_url: None,
            offline_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Sign-in: 20 attempts from one address, then one every 3 s; 5 on one account, then one
/// every 30 s. People mistype a password a few times, not dozens.
pub fn login_rules() -> AttemptRules {
    AttemptRules {
        per_address: Rule::new(20, Duration::from_secs(3)),
        per_subject: Rule::new(5, Duration::from_secs(30)),
    }
}

/// The dashboard's share of [`AppState`].
pub struct WebState {
    pub settings: WebSettings,
    pub login_throttle: AttemptThrottle,
    /// Whether cookies are `Secure` (TLS, or `secure_cookies`).
    pub secure: bool,
}

impl WebState {
    pub fn new(settings: WebSettings, tls: bool) -> WebState {
        WebState {
            login_throttle: AttemptThrottle::new(settings.login_throttle),
            secure: tls || settings.secure_cookies,
            settings,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-in, set password, the stylesheet). POSTs still need the
    /// double-submit CSRF token.
    Public,
    /// Any signed-in account, viewers included, for what concerns only the account's own
    /// session (sign out, language). The only POSTs a viewer may make.
    Account,
    /// A signed-in account with at least this role. A POST (or any other non-GET) needs
    /// at least `Manager` whatever is written here: viewers are read-only.
    Signed(Role),
}

/// One dashboard route: the single place its path, method and access are declared.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub endpoint: fn() -> MethodRouter<AppState>,
}

impl Route {
    /// Whether the path names a store (then the guard checks it against the scope).
    pub fn takes_store(&self) -> bool {
        self.path.contains("{store_id}")
    }
}

/// `route!(GET "/path", Access::Signed(Role::Viewer), handler)`: one [`Route`].
#[macro_export]
macro_rules! route {
    (GET $path:literal, $access:expr, $handler:path) => {
        $crate::web::Route {
            method: ::axum::http::Method::GET,
            path: $path,
            access: $access,
            endpoint: || ::axum::routing::get($handler),
        }
    };
    (POST $path:literal, $access:expr, $handler:path) => {
        $crate::web::Route {
            method: ::axum::http::Method::POST,
            path: $path,
            access: $access,
            endpoint: || ::axum::routing::post($handler),
        }
    };
}
pub use route;

/// Routes of this module: the stylesheet and the language switch.
const OWN_ROUTES: &[Route] = &[
    route!(GET "/static/app.css", Access::Public, assets::stylesheet),
    route!(GET "/lang", Access::Public, pages::switch_language),
    route!(POST "/lang", Access::Account, pages::save_language),
];

/// Every dashboard route. Page modules add their table here.
pub fn routes() -> Vec<Route> {
    OWN_ROUTES
        .iter()
        .chain(pages::ROUTES)
        .chain(login::ROUTES)
        .chain(users::ROUTES)
        .chain(audit::ROUTES)
        .chain(overview::ROUTES)
        .chain(store_page::ROUTES)
        .chain(alerts::ROUTES)
        .chain(devices::ROUTES)
        .chain(survey::ROUTES)
        .chain(privacy::ROUTES)
        .chain(export::ROUTES)
        .chain(digests::ROUTES)
        .cloned()
        .collect()
}

/// The dashboard router, built from [`routes`].
pub fn router(state: AppState) -> Router<AppState> {
    tokio::task::spawn_blocking(auth::prepare_decoy);
    session::spawn_sweeper(Arc::clone(&state.storage));
    let mut router = Router::new();
    // Assets need no session: they stay outside the session layer (no database work).
    let mut assets = Router::new();
    for route in routes() {
        let guard_state = GuardState {
            app: state.clone(),
            access: route.access,
            takes_store: route.takes_store(),
        };
        let endpoint =
            (route.endpoint)().layer(axum::middleware::from_fn_with_state(guard_state, guard));
        if route.path.starts_with("/static/") {
            assets = assets.route(route.path, endpoint);
        } else {
            router = router.route(route.path, endpoint);
        }
    }
    router
        .layer(axum::middleware::from_fn(render_errors))
        .layer(session::layer(
            Arc::clone(&state.storage),
            state.web.secure,
            state.web.settings.session_idle,
        ))
        .merge(assets)
        .layer(axum::middleware::from_fn(security_headers))
}

#[derive(Clone)]
struct GuardState {
    app: AppState,
    access: Access,
    takes_store: bool,
}

/// Sign-in, CSRF, store scope and role, for every route (see the module docs).
async fn guard(State(g): State<GuardState>, req: Request, next: Next) -> Response {
    match check(&g, req).await {
        Ok((req, lang)) => {
            let mut response = next.run(req).await;
            if let Some(lang) = lang {
                response.extensions_mut().insert(lang);
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// The least role that may call a route with this method; `None` for public routes.
/// Viewers are read-only: only `Access::Account` routes take their POSTs.
pub fn required_role(access: Access, method: &Method) -> Option<Role> {
    match access {
        Access::Public => None,
        Access::Account => Some(Role::Viewer),
        Access::Signed(role) if !is_safe(method) => Some(role.max(Role::Manager)),
        Access::Signed(role) => Some(role),
    }
}

fn is_safe(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

async fn check(g: &GuardState, req: Request) -> Result<(Request, Option<Lang>), WebError> {
    let (mut parts, body) = req.into_parts();
    let limit = g.app.limits.max_body_bytes;
    let Some(min_role) = required_role(g.access, &parts.method) else {
        let body = if is_safe(&parts.method) {
            body
        } else {
            csrf::check_origin(&parts.headers)?;
            let expected = csrf::cookie_token(&parts.headers);
            csrf::verify(&parts, body, expected.as_deref(), limit).await?
        };
        return Ok((Request::from_parts(parts, body), None));
    };
    let viewer = auth::authenticate(&parts, &g.app).await?;
    let body = if is_safe(&parts.method) {
        body
    } else {
        csrf::check_origin(&parts.headers)?;
        csrf::verify(&parts, body, Some(&viewer.csrf), limit).await?
    };
    if g.takes_store {
        let params = RawPathParams::from_request_parts(&mut parts, &g.app)
            .await
            .map_err(|_| WebError::NotFound)?;
        let id = params
            .iter()
            .find(|(k, _)| *k == "store_id")
            .and_then(|(_, v)| Uuid::parse_str(v).ok())
            .ok_or(WebError::NotFound)?;
        let store = viewer.store(&g.app, id).await?;
        parts.extensions.insert(ScopedStore(store));
    }
    if viewer.role < min_role {
        return Err(WebError::Forbidden);
    }
    let lang = viewer.lang;
    parts.extensions.insert(viewer);
    Ok((Request::from_parts(parts, body), Some(lang)))
}

/// Render [`ErrorPage`] markers as translated HTML pages.
async fn render_errors(req: Request, next: Next) -> Response {
    let lang = Lang::from_headers(req.headers());
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let Some(page) = response.extensions().get::<ErrorPage>().copied() else {
        return response;
    };
    let lang = response.extensions().get::<Lang>().copied().unwrap_or(lang);
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let mut out = pages::error_page(page, lang, &path);
    if let Some(v) = retry_after {
        out.headers_mut().insert(header::RETRY_AFTER, v);
    }
    out
}

/// An HTML 404 for a browser that asked for a path no route has.
pub fn not_found_page(headers: &HeaderMap, path: &str) -> Response {
    let lang = Lang::from_headers(headers);
    let page = ErrorPage {
        status: axum::http::StatusCode::NOT_FOUND,
        title: "Page not found",
        message: "There is nothing here, or it is not yours to see. Check the address, or go back to the overview.",
    };
    let mut response = pages::error_page(page, lang, path);
    add_security_headers(response.headers_mut());
    response
}

/// Whether the client prefers HTML (a browser) to JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The Content-Security-Policy of every dashboard response: nothing inline, nothing from
/// elsewhere, no frames.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; \
     object-src 'none'";

fn add_security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    add_security_headers(response.headers_mut());
    response
}

/// Percent-encode a query value.
pub fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A path to come back to after signing in: only a local path (`/...`, not `//host`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A urlencoded form, with a 400 page naming the problem when it does not parse.
pub struct WebForm<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for WebForm<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| WebForm(v))
            .map_err(|_| WebError::BadRequest {
                message: "The form could not be read. Reload the page and send it again.",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(safe_next(Some("/stores/x?a=1")), "/stores/x?a=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn viewers_are_read_only_whatever_a_route_declares() {
        let viewer = Access::Signed(Role::Viewer);
        assert_eq!(required_role(viewer, &Method::GET), Some(Role::Viewer));
        assert_eq!(required_role(viewer, &Method::POST), Some(Role::Manager));
        assert_eq!(required_role(viewer, &Method::DELETE), Some(Role::Manager));
        assert_eq!(
            required_role(Access::Signed(Role::Admin), &Method::POST),
            Some(Role::Admin)
        );
        assert_eq!(
            required_role(Access::Account, &Method::POST),
            Some(Role::Viewer)
        );
        assert_eq!(required_role(Access::Public, &Method::POST), None);
    }

    #[test]
    fn every_route_is_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for r in routes() {
            assert!(
                seen.insert((r.method.clone(), r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn every_template_string_is_translated() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web");
        let mut missing = Vec::new();
        for d in [dir, src] {
            for entry in std::fs::read_dir(d).expect("dir") {
                let path = entry.expect("entry").path();
                let text = std::fs::read_to_string(&path).expect("read");
                let text = text.split("#[cfg(test)]").next().unwrap_or("");
                for msgid in msgids(text) {
                    if !i18n::has_vi(&msgid) {
                        missing.push(format!("{}: {msgid}", path.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not in lang/vi.po:\n{}",
            missing.join("\n")
        );
    }

    /// The literals passed to `t(..)` / `f(..)` and given as `message:`, `title:` or
    /// `label:` (error pages and nav entries check their own tables).
    fn msgids(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for marker in [".t(\"", ".f(\"", "message: \"", "title: \"", "label: \""] {
            let mut rest = text;
            while let Some(i) = rest.find(marker) {
                rest = &rest[i + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let id = &rest[..end];
                    if !id.is_empty() && !id.starts_with("...") {
                        out.push(id.to_owned());
                    }
                    rest = &rest[end..];
                }
            }
        }
        out
    }
}
