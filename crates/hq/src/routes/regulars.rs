//! `GET /stores/{store_id}/regulars` (kiosks pull regulars' changes) and
//! `PUT /stores/{store_id}/regulars-scope` (head office sets who sees them).

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use countertop_protocol::{ErrorBody, RegularsResponse, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiAuth, ApiPath, ApiQuery, AppState, CursorQuery, ProtocolHeader, StoreDevice};
use crate::body::{GzJson, WireBody};
use crate::error::ApiError;
use crate::storage::{RegularsScope, StorageError, REGULARS_PAGE};

/// Regular profiles, visits and erasures this store's kiosks may see, changed after the
/// cursor, at most 500 a page (`more` = pull again at once).
#[utoipa::path(
    get,
    path = "/stores/{store_id}/regulars",
    tag = "regulars",
    security(("device_token" = [])),
    params(
        ("store_id" = Uuid, Path, description = "The kiosk's own store"),
        CursorQuery,
        ProtocolHeader,
    ),
    responses(
        (status = 200, description = "A page in change order, the new cursor, and more=true when the page was full", body = RegularsResponse),
        (status = 400, description = "`bad_path`, `bad_query` or `unsupported_protocol_version`", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked device token", body = ErrorBody),
        (status = 403, description = "`wrong_store`: the device belongs to another store", body = ErrorBody),
        (status = 404, description = "`unknown_store`", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn pull(
    State(state): State<AppState>,
    StoreDevice { store, .. }: StoreDevice,
    ApiQuery(q): ApiQuery<CursorQuery>,
) -> Result<Json<RegularsResponse>, ApiError> {
    let cursor = q.cursor()?.unwrap_or(0);
    let page = match state
        .storage
        .pull_regulars(store.id, cursor, REGULARS_PAGE)
        .await
    {
        Ok(p) => p,
        Err(StorageError::NoSuchStore(_)) => return Err(ApiError::unknown_store()),
        Err(e) => return Err(e.into()),
    };
    Ok(Json(RegularsResponse {
        protocol: PROTOCOL_VERSION,
        cursor: page.cursor,
        more: page.more,
        profiles: page.profiles,
        visits: page.visits,
        erased: page.erased,
        server_time: Utc::now(),
    }))
}

/// Who sees a store's regulars.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = RegularsScopeRequest)]
pub struct ScopeBody {
    scope: RegularsScope,
}

impl WireBody for ScopeBody {}

/// The scope a store now has.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegularsScopeResponse {
    store_id: Uuid,
    scope: RegularsScope,
}

/// Set who sees the store's regulars: `store` (its own kiosks, the default) or `chain`
/// (every chain-scoped store's kiosks) (API token).
#[utoipa::path(
    put,
    path = "/stores/{store_id}/regulars-scope",
    tag = "regulars",
    security(("api_token" = [])),
    params(("store_id" = Uuid, Path, description = "The store")),
    request_body(content = ScopeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The store's scope now", body = RegularsScopeResponse),
        (status = 400, description = "`bad_path` or broken JSON (`malformed_json`)", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked API token", body = ErrorBody),
        (status = 404, description = "`unknown_store`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "`invalid_body`: not {\"scope\": \"store\" | \"chain\"}", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: retry later", body = ErrorBody),
    )
)]
pub async fn set_scope(
    State(state): State<AppState>,
    _: ApiAuth,
    ApiPath(store_id): ApiPath<Uuid>,
    GzJson(ScopeBody { scope }): GzJson<ScopeBody>,
) -> Result<Json<RegularsScopeResponse>, ApiError> {
    match state.storage.set_regulars_scope(store_id, scope).await {
        Ok(()) => {}
        Err(StorageError::NoSuchStore(_)) => return Err(ApiError::unknown_store()),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(%store_id, scope = scope.as_str(), "regulars scope set");
    Ok(Json(RegularsScopeResponse { store_id, scope }))
}
