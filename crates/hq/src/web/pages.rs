//! The error page and the language switch.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::{ErrorPage, WebError};
use super::i18n::{Lang, LANG_COOKIE};
use super::{safe_next, Layout, Route, Viewer, WebForm};
use crate::routes::AppState;

/// The overview moved to [`super::overview`].
pub const ROUTES: &[Route] = &[];

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    l: Layout,
    title: &'static str,
    message: &'static str,
    status: u16,
}

/// The HTML page of an error.
pub fn error_page(page: ErrorPage, lang: Lang, path: &str) -> Response {
    let t = ErrorTemplate {
        l: Layout::public(lang, path),
        title: page.title,
        message: page.message,
        status: page.status.as_u16(),
    };
    match t.render() {
        Ok(html) => (
            page.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page does not render");
            page.status.into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct LangQuery {
    set: Option<String>,
    next: Option<String>,
}

fn lang_cookie(lang: Lang, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
        lang.code()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("ct_lang=en; Path=/"))
}

/// GET /lang?set=vi&next=/login — remember the language in a cookie (pages without an
/// account; no stored state changes).
pub async fn switch_language(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
) -> Result<Response, WebError> {
    let lang = q
        .set
        .as_deref()
        .and_then(Lang::from_code)
        .ok_or(WebError::BadRequest {
            message: "Choose English or Vietnamese.",
        })?;
    let mut response = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, lang_cookie(lang, state.web.secure));
    Ok(response)
}

#[derive(Deserialize)]
pub struct LangForm {
    set: String,
    next: Option<String>,
}

/// POST /lang — the signed-in switch: saved as the account's setting, and in the cookie.
pub async fn save_language(
    State(state): State<AppState>,
    viewer: Viewer,
    WebForm(form): WebForm<LangForm>,
) -> Result<Response, WebError> {
    let lang = Lang::from_code(&form.set).ok_or(WebError::BadRequest {
        message: "Choose English or Vietnamese.",
    })?;
    state
        .storage
        .set_user_lang(viewer.user_id, lang.code())
        .await?;
    let mut response = Redirect::to(&safe_next(form.next.as_deref())).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, lang_cookie(lang, state.web.secure));
    Ok(response)
}
