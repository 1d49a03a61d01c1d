//! `POST /devices/{device_id}/revoke`: head office cuts a kiosk off.

use axum::extract::State;
use axum::http::StatusCode;
use countertop_protocol::ErrorBody;
use uuid::Uuid;

use super::{ApiAuth, ApiPath, AppState};
use crate::error::ApiError;

/// Revoke a device's token (API token); the kiosk must enroll again.
#[utoipa::path(
    post,
    path = "/devices/{device_id}/revoke",
    tag = "devices",
    security(("api_token" = [])),
    params(("device_id" = Uuid, Path, description = "The device id the kiosk got when it enrolled")),
    responses(
        (status = 204, description = "Revoked (revoking twice is fine)"),
        (status = 400, description = "`bad_path`: the device id is not a UUID", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API token", body = ErrorBody),
        (status = 404, description = "`unknown_device`", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    _: ApiAuth,
    ApiPath(device_id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    if state.storage.revoke_device(device_id).await? {
        tracing::info!(%device_id, "device revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unknown_device())
    }
}
