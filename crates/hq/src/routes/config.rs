//! `GET/PUT /stores/{store_id}/config`: kiosks pull their store's survey; head office
//! replaces it.

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use countertop_protocol::{ConfigResponse, ErrorBody, SurveyConfig, PROTOCOL_VERSION};
use uuid::Uuid;

use super::{
    existing_store, ApiAuth, ApiPath, ApiQuery, AppState, CursorQuery, ProtocolHeader, StoreDevice,
};
use crate::body::GzJson;
use crate::error::ApiError;
use crate::storage::StorageError;

/// The store's survey, if it changed since the cursor.
#[utoipa::path(
    get,
    path = "/stores/{store_id}/config",
    tag = "config",
    security(("device_token" = [])),
    params(
        ("store_id" = Uuid, Path, description = "The kiosk's own store"),
        CursorQuery,
        ProtocolHeader,
    ),
    responses(
        (status = 200, description = "The new cursor, and the survey (null when unchanged since the cursor)", body = ConfigResponse),
        (status = 400, description = "`bad_path`, `bad_query` or `unsupported_protocol_version`", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked device token", body = ErrorBody),
        (status = 403, description = "`wrong_store`: the device belongs to another store", body = ErrorBody),
        (status = 404, description = "`unknown_store`", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn pull(
    StoreDevice { store, .. }: StoreDevice,
    ApiQuery(q): ApiQuery<CursorQuery>,
) -> Result<Json<ConfigResponse>, ApiError> {
    let cursor = q.cursor()?;
    let changed = cursor.is_none_or(|c| c < store.config_version);
    Ok(Json(ConfigResponse {
        protocol: PROTOCOL_VERSION,
        cursor: store.config_version,
        config: changed.then_some(store.config),
        server_time: Utc::now(),
    }))
}

/// Replace the store's survey (API token); kiosks get it on their next pull.
#[utoipa::path(
    put,
    path = "/stores/{store_id}/config",
    tag = "config",
    security(("api_token" = [])),
    params(("store_id" = Uuid, Path, description = "The store")),
    request_body(content = SurveyConfig, content_type = "application/json"),
    responses(
        (status = 200, description = "The survey as stored, with the new cursor", body = ConfigResponse),
        (status = 400, description = "`bad_path` or broken JSON (`malformed_json`)", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API token", body = ErrorBody),
        (status = 404, description = "`unknown_store`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "`invalid_body`: a survey the schema allows but HQ refuses, because a rule spans fields: every language in `languages` needs its text in `question`, `nps_question`, every reason label and, with `remember_me.enabled`, the consent texts, menu labels and at least one menu item", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    _: ApiAuth,
    ApiPath(store_id): ApiPath<Uuid>,
    GzJson(config): GzJson<SurveyConfig>,
) -> Result<Json<ConfigResponse>, ApiError> {
    let version = match state.storage.set_config(store_id, &config).await {
        Ok(v) => v,
        Err(StorageError::NoSuchStore(_)) => return Err(ApiError::unknown_store()),
        Err(e) => return Err(e.into()),
    };
    let store = existing_store(&state, store_id).await?;
    tracing::info!(%store_id, version, "survey replaced");
    Ok(Json(ConfigResponse {
        protocol: PROTOCOL_VERSION,
        cursor: version,
        config: Some(store.config),
        server_time: Utc::now(),
    }))
}
