//! Digest pages: the account's own choice of daily and weekly digests (`/account`, any
//! signed-in role, viewers included: it concerns only their own mail), and unsubscribing
//! without signing in. A digest's link opens `/unsubscribe?token=`, a confirmation page
//! whose one button POSTs (mail scanners follow GETs, so a GET never unsubscribes);
//! `/unsubscribe/one-click` takes the RFC 8058 one-click POST a mail client sends from
//! `List-Unsubscribe`, authorised by the signed token alone (it carries no cookie or
//! CSRF field, so it is routed beside the API, not through the dashboard's guard). A
//! tampered or unknown token gets a 400 page, never a 500.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::WebError;
use super::i18n::Lang;
use super::login::{form_token, render, with_token_cookie};
use super::{audit, route, Access, Layout, Route, Viewer, WebForm};
use crate::alerts::digest::{token, unsubscribe_secret};
use crate::routes::AppState;
use crate::storage::digests::{DigestKind, DigestPrefs};

pub const ROUTES: &[Route] = &[
    route!(GET "/account", Access::Account, account_page),
    route!(POST "/account/digests", Access::Account, save_prefs),
    route!(GET "/unsubscribe", Access::Public, unsubscribe_page),
    route!(POST "/unsubscribe", Access::Public, unsubscribe),
];

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub l: Layout,
    pub email: String,
    pub daily: bool,
    pub weekly: bool,
    pub saved: bool,
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

/// GET /account
pub async fn account_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SavedQuery>,
) -> Result<AccountPage, WebError> {
    let prefs = state.storage.digest_prefs(viewer.user_id).await?;
    Ok(AccountPage {
        l: Layout::new(&viewer),
        email: viewer.email.clone(),
        daily: prefs.daily,
        weekly: prefs.weekly,
        saved: q.saved.is_some(),
    })
}

#[derive(Deserialize)]
pub struct PrefsForm {
    /// `none`, `daily`, `weekly` or `both`.
    digests: String,
}

/// POST /account/digests
pub async fn save_prefs(
    State(state): State<AppState>,
    viewer: Viewer,
    WebForm(form): WebForm<PrefsForm>,
) -> Result<Response, WebError> {
    let (daily, weekly) = match form.digests.as_str() {
        "none" => (false, false),
        "daily" => (true, false),
        "weekly" => (false, true),
        "both" => (true, true),
        _ => {
            return Err(WebError::BadRequest {
                message: "Choose daily, weekly, both or none.",
            })
        }
    };
    state
        .storage
        .set_digest_prefs(viewer.user_id, DigestPrefs { daily, weekly })
        .await?;
    let detail = format!("digests={}", form.digests);
    audit::record(
        &state,
        Some(viewer.user_id),
        "digest_prefs_changed",
        None,
        Some(viewer.user_id.to_string()),
        &detail,
    )
    .await;
    Ok(Redirect::to("/account?saved=1").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "unsubscribe.html")]
pub struct UnsubscribePage {
    pub l: Layout,
    pub token: String,
    /// English msgid of the digest's name.
    pub digest: &'static str,
    pub done: bool,
}

fn digest_name(kind: DigestKind) -> &'static str {
    match kind {
        DigestKind::Daily => "the daily digest",
        DigestKind::Weekly => "the weekly digest",
    }
}

/// The account and kind of a genuine token.
async fn check_token(state: &AppState, token: &str) -> Result<(uuid::Uuid, DigestKind), WebError> {
    let secret = unsubscribe_secret(state.storage.as_ref()).await?;
    token::verify(&secret, token).ok_or(WebError::BadRequest {
        message: "This unsubscribe link is not valid. Use the link of a recent digest, or sign in and choose your digests on your account page.",
    })
}

/// Turn the token's digest off; false when its account no longer exists.
async fn turn_off(state: &AppState, user: uuid::Uuid, kind: DigestKind) -> Result<bool, WebError> {
    let prefs = state.storage.digest_prefs(user).await?;
    let done = state
        .storage
        .set_digest_prefs(user, prefs.without(kind))
        .await?;
    if done {
        audit::record(
            state,
            Some(user),
            "digest_unsubscribed",
            None,
            Some(user.to_string()),
            kind.as_str(),
        )
        .await;
    }
    Ok(done)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// GET /unsubscribe?token= — the confirmation page; nothing changes.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let (_, kind) = check_token(&state, &q.token).await?;
    let (csrf, fresh) = form_token(&headers)?;
    let mut l = Layout::public(Lang::from_headers(&headers), "/unsubscribe");
    l.csrf = csrf.clone();
    let page = UnsubscribePage {
        l,
        token: q.token.trim().to_owned(),
        digest: digest_name(kind),
        done: false,
    };
    Ok(with_token_cookie(
        render(StatusCode::OK, page),
        &csrf,
        fresh,
        state.web.secure,
    ))
}

/// POST /unsubscribe — the confirmation page's button.
pub async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebForm(form): WebForm<TokenQuery>,
) -> Result<Response, WebError> {
    let (user, kind) = check_token(&state, &form.token).await?;
    if !turn_off(&state, user, kind).await? {
        return Err(WebError::NotFound);
    }
    let page = UnsubscribePage {
        l: Layout::public(Lang::from_headers(&headers), "/unsubscribe"),
        token: String::new(),
        digest: digest_name(kind),
        done: true,
    };
    Ok(render(StatusCode::OK, page))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// POST /unsubscribe/one-click?token= — RFC 8058: the mail client's one-click request
/// (body `List-Unsubscribe=One-Click`); the token is the only authority.
pub async fn one_click(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let Ok(secret) = unsubscribe_secret(state.storage.as_ref()).await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "Try again later.\n");
    };
    let Some((user, kind)) = token::verify(&secret, &q.token) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "This unsubscribe link is not valid.\n",
        );
    };
    match turn_off(&state, user, kind).await {
        Ok(true) => plain(StatusCode::OK, "Unsubscribed.\n"),
        Ok(false) => plain(StatusCode::NOT_FOUND, "No such account.\n"),
        Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "Try again later.\n"),
    }
}

/// GET /unsubscribe/one-click?token= — a client that opens the header's link in a
/// browser gets the confirmation page.
pub async fn one_click_page(Query(q): Query<TokenQuery>) -> Response {
    Redirect::to(&format!(
        "/unsubscribe?token={}",
        super::url_encode(q.token.trim())
    ))
    .into_response()
}
