//! Signing in and out, and setting a password from a one-time link. A wrong password,
//! an unknown email, a disabled account and an account without a password all get the
//! same page after the same work (one argon2 check, against a decoy hash when there is
//! no real one). Attempts are throttled per client address and per account.

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use tower_sessions::Session;

use super::audit;
use super::auth::{self, check_new_password, Viewer};
use super::csrf;
use super::error::WebError;
use super::i18n::Lang;
use super::{route, safe_next, Access, Layout, Route, WebForm};
use crate::routes::AppState;
use crate::secrets;

pub const ROUTES: &[Route] = &[
    route!(GET "/login", Access::Public, login_page),
    route!(POST "/login", Access::Public, login),
    route!(POST "/logout", Access::Account, logout),
    route!(GET "/set-password", Access::Public, set_password_page),
    route!(POST "/set-password", Access::Public, set_password),
];

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub l: Layout,
    pub next: String,
    pub email: String,
    /// English msgid of the problem, if any.
    pub error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The double-submit token of this browser: the cookie's, or a new one to set.
pub(super) fn form_token(headers: &HeaderMap) -> Result<(String, bool), WebError> {
    match csrf::cookie_token(headers) {
        Some(t) => Ok((t, false)),
        None => Ok((
            secrets::new_token().map_err(|e| WebError::Internal(e.to_string()))?,
            true,
        )),
    }
}

pub(super) fn with_token_cookie(
    mut response: Response,
    token: &str,
    fresh: bool,
    secure: bool,
) -> Response {
    if fresh {
        let secure = if secure { "; Secure" } else { "" };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax{secure}",
            csrf::CSRF_COOKIE
        )) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

pub(super) fn render(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => WebError::Internal(format!("template: {e}")).into_response(),
    }
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    email: String,
    error: Option<&'static str>,
) -> Result<Response, WebError> {
    let (token, fresh) = form_token(headers)?;
    let here = if next == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", super::url_encode(&next))
    };
    let mut l = Layout::public(Lang::from_headers(headers), &here);
    l.csrf = token.clone();
    let page = LoginPage {
        l,
        next,
        email,
        error,
    };
    Ok(with_token_cookie(
        render(status, page),
        &token,
        fresh,
        state.web.secure,
    ))
}

/// GET /login
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    Query(q): Query<NextQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(q.next.as_deref());
    if session
        .get::<uuid::Uuid>(auth::USER_KEY)
        .await
        .ok()
        .flatten()
        .is_some()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    login_form(&state, &headers, StatusCode::OK, next, String::new(), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// POST /login
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    WebForm(form): WebForm<LoginForm>,
) -> Result<Response, WebError> {
    let next = safe_next(form.next.as_deref());
    let email = form.email.trim().to_lowercase();
    let client = state.trusted_proxies.client_addr(peer.ip(), &headers);
    // The subject is a hash of the typed email, known account or not.
    state
        .web
        .login_throttle
        .attempt(client, &secrets::hash_secret(&format!("login:{email}")))?;
    let user = if email.is_empty() || email.len() > 254 {
        None
    } else {
        state.storage.user_by_email(&email).await?
    };
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| u.password_hash.as_deref());
    let ok = auth::verify_password(&form.password, hash).await && hash.is_some();
    match user {
        Some(user) if ok => {
            auth::sign_in(&session, user.id).await?;
            audit::record(&state, Some(user.id), "login_ok", None, None, "").await;
            Ok(Redirect::to(&next).into_response())
        }
        other => {
            // The account when there is one; never the typed email.
            let actor = other.map(|u| u.id);
            audit::record(&state, actor, "login_failed", None, None, "").await;
            login_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                next,
                form.email.chars().take(254).collect(),
                Some("The email or the password is wrong."),
            )
        }
    }
}

/// POST /logout
pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    session: Session,
) -> Result<Response, WebError> {
    auth::sign_out(&session).await?;
    audit::record(&state, Some(viewer.user_id), "logout", None, None, "").await;
    Ok(Redirect::to("/login").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "set_password.html")]
pub struct SetPasswordPage {
    pub l: Layout,
    pub token: String,
    pub error: Option<&'static str>,
    /// The link was unknown, used or expired: no form, a message.
    pub invalid: bool,
    pub done: bool,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn set_password_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    token: String,
    error: Option<&'static str>,
    invalid: bool,
    done: bool,
) -> Result<Response, WebError> {
    let (csrf_token, fresh) = form_token(headers)?;
    let mut l = Layout::public(Lang::from_headers(headers), "/set-password");
    l.csrf = csrf_token.clone();
    let page = SetPasswordPage {
        l,
        token,
        error,
        invalid,
        done,
    };
    Ok(with_token_cookie(
        render(status, page),
        &csrf_token,
        fresh,
        state.web.secure,
    ))
}

/// GET /set-password?token=...
pub async fn set_password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let valid = !q.token.is_empty()
        && state
            .storage
            .password_link_user(&secrets::hash_secret(&q.token), Utc::now())
            .await?
            .is_some();
    if valid {
        set_password_form(
            &state,
            &headers,
            StatusCode::OK,
            q.token,
            None,
            false,
            false,
        )
    } else {
        set_password_form(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            String::new(),
            None,
            true,
            false,
        )
    }
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// POST /set-password
pub async fn set_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    WebForm(form): WebForm<SetPasswordForm>,
) -> Result<Response, WebError> {
    let client = state.trusted_proxies.client_addr(peer.ip(), &headers);
    let token_hash = secrets::hash_secret(&form.token);
    state
        .web
        .login_throttle
        .attempt(client, &format!("link:{token_hash}"))?;
    if let Err(problem) = check_new_password(&form.password, &form.confirm) {
        return set_password_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            form.token,
            Some(problem),
            false,
            false,
        );
    }
    let hash = auth::hash_password(&form.password).await?;
    match state
        .storage
        .redeem_password_link(&token_hash, Utc::now(), &hash)
        .await?
    {
        Some(user) => {
            audit::record(
                &state,
                Some(user),
                "password_set",
                None,
                Some(user.to_string()),
                "",
            )
            .await;
            set_password_form(
                &state,
                &headers,
                StatusCode::OK,
                String::new(),
                None,
                false,
                true,
            )
        }
        None => set_password_form(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            String::new(),
            None,
            true,
            false,
        ),
    }
}
