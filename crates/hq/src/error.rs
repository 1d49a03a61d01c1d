//! One error type for every HTTP answer that is not a success. Each variant maps to a
//! status and a JSON [`ErrorBody`] with a stable code and a message that says what to do,
//! including axum's own rejections (bad path, bad query), unknown routes, wrong methods
//! and timeouts, so no client ever has to parse plain text. Internal errors are logged
//! (without personal data) and answered with a generic message.

use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countertop_protocol::ErrorBody;

use crate::storage::StorageError;

/// An error an HTTP handler (or extractor, or middleware) returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// Too many attempts: 429 with `Retry-After`.
    #[error("too many attempts; retry after {retry_after:?}")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Client {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A well-formed body whose values are refused (a survey missing a translation).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unknown_store() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_store",
            "no store with this id; list stores with the CLI, or add one with 'countertop-hq store add'",
        )
    }

    pub fn unknown_device() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            "no device with this id; use the device_id the kiosk got when it enrolled",
        )
    }

    pub fn unknown_route() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route; the API lives under /api/v1 (see /api/v1/openapi.json)",
        )
    }

    pub fn timeout() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "HQ took too long to answer; retry later (pushes are idempotent, so resending is safe)",
        )
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> ApiError {
        ApiError::bad_request(
            "bad_path",
            format!(
                "{}; ids in the path are UUIDs, such as the store id 'countertop-hq store add' printed",
                e.body_text()
            ),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::bad_request(
            "bad_query",
            format!(
                "{}; give each parameter at most once, with the types /api/v1/openapi.json lists",
                e.body_text()
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut retry_after = None;
        let (code, message) = match self {
            ApiError::Client { code, message, .. } => (code, message),
            ApiError::Throttled { retry_after: wait } => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let secs = secs.max(1);
                retry_after = Some(secs);
                (
                    "too_many_attempts",
                    format!(
                        "too many attempts from here; wait {secs} s (Retry-After) and try again"
                    ),
                )
            }
            ApiError::Storage(e) => {
                tracing::error!(error = %e, "storage error");
                (
                    "storage_unavailable",
                    "the database failed; nothing from this request was stored; retry later"
                        .to_owned(),
                )
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (
                    "internal",
                    "internal error; nothing from this request was stored; retry later".to_owned(),
                )
            }
        };
        let body = ErrorBody {
            error: code.to_owned(),
            message,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
