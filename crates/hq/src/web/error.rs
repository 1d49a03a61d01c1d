//! [`WebError`]: every way a dashboard request fails, as one enum. Its response carries an
//! [`ErrorPage`] marker; the `render_errors` middleware in [`super`] turns the marker into
//! a translated HTML page in the request's language, so extractors and handlers never
//! need the language to fail. Internal errors are logged without personal data.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::ApiError;
use crate::storage::StorageError;

/// A failed dashboard request.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in (or the session expired): go to the login page, then back to `next`.
    #[error("sign in first")]
    LoginRequired { next: String },
    /// No such page, or a store (or anything of one) outside the viewer's scope: the
    /// same answer either way.
    #[error("not found")]
    NotFound,
    /// Signed in, but the role does not allow it (a viewer posting, a manager on an
    /// admin page).
    #[error("forbidden")]
    Forbidden,
    /// A form posted from another site, or without the right token.
    #[error("cross-site request refused")]
    Csrf,
    /// A field is wrong; `message` is an English msgid, translated when shown.
    #[error("bad request: {message}")]
    BadRequest { message: &'static str },
    #[error("too many attempts")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

/// What the error page shows: a status and English msgids for the title and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: &'static str,
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            WebError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn page(&self) -> ErrorPage {
        let (title, message) = match self {
            WebError::LoginRequired { .. } => ("Sign in", "Please sign in."),
            WebError::NotFound => (
                "Page not found",
                "There is nothing here, or it is not yours to see. Check the address, or go back to the overview.",
            ),
            WebError::Forbidden => (
                "Not allowed",
                "Your account may not do this. Ask an administrator if you need it.",
            ),
            WebError::Csrf => (
                "Form expired",
                "This form was not sent from this dashboard, or it is too old. Go back, reload the page and send it again.",
            ),
            WebError::BadRequest { message } => ("Please check the form", *message),
            WebError::Throttled { .. } => (
                "Too many attempts",
                "Too many attempts from here or for this account. Wait a minute and try again.",
            ),
            WebError::Storage(_) => (
                "Database unavailable",
                "The database did not answer. Nothing was changed; try again in a moment.",
            ),
            WebError::Internal(_) => (
                "Something went wrong",
                "Something went wrong on the server. Nothing was changed; try again in a moment.",
            ),
        };
        ErrorPage {
            status: self.status(),
            title,
            message,
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> WebError {
        match e {
            ApiError::Throttled { retry_after } => WebError::Throttled { retry_after },
            ApiError::Storage(e) => WebError::Storage(e),
            ApiError::Client { status, .. } if status == StatusCode::NOT_FOUND => {
                WebError::NotFound
            }
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match &self {
            WebError::LoginRequired { next } => {
                let target = format!("/login?next={}", super::url_encode(next));
                return Redirect::to(&target).into_response();
            }
            WebError::Storage(e) => tracing::error!(error = %e, "storage error on a page"),
            WebError::Internal(e) => tracing::error!(error = %e, "internal error on a page"),
            _ => {}
        }
        let page = self.page();
        let mut response = page.status.into_response();
        if let WebError::Throttled { retry_after } = self {
            let secs = retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(page);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_page_is_translated() {
        let errors = [
            WebError::NotFound,
            WebError::Forbidden,
            WebError::Csrf,
            WebError::BadRequest {
                message: "The form is too large.",
            },
            WebError::Throttled {
                retry_after: Duration::from_secs(1),
            },
            WebError::Storage(StorageError::Corrupt("x".into())),
            WebError::Internal("x".into()),
            WebError::LoginRequired { next: "/".into() },
        ];
        for e in errors {
            let page = e.page();
            for msgid in [page.title, page.message] {
                assert!(super::super::i18n::has_vi(msgid), "{msgid}");
            }
        }
    }

    #[test]
    fn a_missing_sign_in_redirects_with_the_page_to_come_back_to() {
        let r = WebError::LoginRequired {
            next: "/stores/1?x=1".into(),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "/login?next=%2Fstores%2F1%3Fx%3D1"
        );
    }
}
