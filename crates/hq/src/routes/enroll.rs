//! `POST /enroll`: a kiosk trades a one-time enrollment code for a device id and token.
//! Attempts are throttled per client address and per code, and every failed code
//! (unknown, used, expired) gets the same answer, so a guesser learns nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use countertop_protocol::{EnrollRequest, EnrollResponse, ErrorBody, PROTOCOL_VERSION};
use uuid::Uuid;

use super::AppState;
use crate::body::GzJson;
use crate::error::ApiError;
use crate::secrets;
use crate::storage::Redeemed;
use crate::throttle::ClientAddr;

/// Longest device name kept; longer names are cut.
const MAX_DEVICE_NAME_CHARS: usize = 64;

fn refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "enrollment_refused",
        "this enrollment code is not valid: it is mistyped, already used or expired; check it, or ask head office for a new one",
    )
}

/// Trade a one-time enrollment code for a device id and a 256-bit device token.
#[utoipa::path(
    post,
    path = "/enroll",
    tag = "devices",
    request_body(content = EnrollRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Enrolled: the token is shown once, HQ keeps only its hash", body = EnrollResponse),
        (status = 400, description = "Broken JSON (`malformed_json`), another protocol major (`unsupported_protocol_version`), or a device name no database can store (`unstorable_text`)", body = ErrorBody),
        (status = 403, description = "`enrollment_refused`: the code is unknown, used or expired (one answer for all three)", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape (`invalid_body`)", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: too many attempts from this address or on this code; wait for Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before the next attempt"))),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn enroll(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    GzJson(req): GzJson<EnrollRequest>,
) -> Result<(StatusCode, Json<EnrollResponse>), ApiError> {
    let code_hash = secrets::hash_secret(&secrets::normalize_enroll_code(&req.code));
    state.enroll_throttle.attempt(addr, &code_hash)?;
    // Text no backend can store (a NUL) is refused before the code is spent.
    if let Some(e) = req
        .device_name
        .as_deref()
        .and_then(|n| countertop_protocol::text::check_text("device_name", n).err())
    {
        return Err(ApiError::bad_request(e.code(), e.to_string()));
    }
    let token = secrets::new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let device_id = Uuid::now_v7();
    let now = Utc::now();
    let name = req.device_name.as_deref().map(|n| {
        let end = n
            .char_indices()
            .nth(MAX_DEVICE_NAME_CHARS)
            .map_or(n.len(), |(i, _)| i);
        &n[..end]
    });
    let outcome = state
        .storage
        .redeem_enroll_code(
            &code_hash,
            now,
            device_id,
            name,
            &secrets::hash_secret(&token),
        )
        .await?;
    match outcome {
        Redeemed::Enrolled { store_id } => {
            tracing::info!(%device_id, %store_id, "device enrolled");
            Ok((
                StatusCode::CREATED,
                Json(EnrollResponse {
                    protocol: PROTOCOL_VERSION,
                    device_id,
                    store_id,
                    device_token: token,
                    server_time: now,
                }),
            ))
        }
        Redeemed::UnknownCode | Redeemed::AlreadyUsed | Redeemed::Expired => {
            tracing::info!(%addr, "enrollment refused");
            Err(refused())
        }
    }
}
