//! The HTTP API under `/api/v1`, one file per resource, plus `/healthz` and `/metrics`.
//!
//! Everything a handler would otherwise repeat is an extractor here: [`DeviceAuth`]
//! (device token, and the optional protocol header), [`StoreDevice`] (a device of the
//! store in the path), [`ApiAuth`] (API token), [`ApiPath`] and [`ApiQuery`] (JSON
//! errors for bad paths and queries) and [`crate::body::GzJson`] (the body). The routes
//! are registered through utoipa-axum's `OpenApiRouter`, so a route cannot exist without
//! its operation in the generated document. Handlers never log comments, tokens or codes.

pub mod config;
pub mod devices;
pub mod enroll;
pub mod events;
pub mod export;
pub mod regulars;
pub mod reports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use countertop_protocol::{ProtocolVersion, PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::Limits;
use crate::body::check_protocol;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::secrets;
use crate::storage::{DeviceRecord, Storage, StoreRecord, TokenState};
use crate::throttle::{AttemptThrottle, TrustedProxies};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub request_timeout: Duration,
    pub trusted_proxies: Arc<TrustedProxies>,
    pub enroll_throttle: Arc<AttemptThrottle>,
    /// The web dashboard's settings and sign-in throttle.
    pub web: Arc<crate::web::WebState>,
    /// Alerts: a push tells the engine which store it touched.
    pub alerts: Arc<crate::alerts::Engine>,
}

/// The `/api/v1` operations, each with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(enroll::enroll))
        .routes(routes!(events::push))
        .routes(routes!(config::pull, config::replace))
        .routes(routes!(regulars::pull))
        .routes(routes!(regulars::set_scope))
        .routes(routes!(devices::revoke))
        .routes(routes!(reports::ratings))
        .routes(routes!(reports::regulars))
        .routes(routes!(export::ratings))
        .routes(routes!(openapi_json))
}

/// The whole router: the API, health, metrics, JSON fallbacks, the time limit and
/// request metrics.
pub fn router(state: AppState) -> Router {
    let (api, _) = api_router().split_for_parts();
    Router::new()
        .nest(
            "/api/v1",
            api.method_not_allowed_fallback(method_not_allowed),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // RFC 8058 one-click unsubscribe: authorised by its signed token, outside the
        // dashboard's session and CSRF guard (a mail client sends neither).
        .route(
            "/unsubscribe/one-click",
            get(crate::web::digests::one_click_page).post(crate::web::digests::one_click),
        )
        .merge(crate::web::router(state.clone()))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            time_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .with_state(state)
}

async fn record_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(&method, &route, status, took);
    tracing::debug!(%method, %route, status, micros = took.as_micros() as u64, "request");
    response
}

/// Answer 503 `timeout` (JSON) when a request takes longer than the configured limit.
async fn time_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout().into_response(),
    }
}

/// JSON 404, or the dashboard's HTML 404 for a browser outside `/api`.
async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if !uri.path().starts_with("/api/") && crate::web::wants_html(&headers) {
        return crate::web::not_found_page(&headers, uri.path());
    }
    ApiError::unknown_route().into_response()
}

/// 405 with a JSON body; axum adds the `Allow` header listing the route's methods.
async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this route does not take {method}; the Allow header lists the methods it takes"),
    )
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.storage.ping().await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "storage": state.storage.backend(),
        "protocol": PROTOCOL_VERSION,
    })))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object))
)]
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_json(),
    )
        .into_response()
}

/// A path parameter, with a JSON 400 `bad_path` when it does not parse.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters, with a JSON 400 `bad_query` when they do not parse (or repeat).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `?cursor=N`: where the last pull ended (absent on the first pull).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CursorQuery {
    /// The cursor the previous answer returned.
    #[param(value_type = u64, required = false, nullable = false, minimum = 0, maximum = 9223372036854775807_i64)]
    pub cursor: Option<u64>,
}

impl CursorQuery {
    /// The cursor, refused when over the largest one HQ hands out (`i64::MAX`).
    pub fn cursor(&self) -> Result<Option<u64>, ApiError> {
        match self.cursor {
            Some(c) if c > i64::MAX as u64 => Err(ApiError::bad_request(
                "bad_query",
                "cursor is larger than any cursor HQ hands out; pass back the cursor of the last answer",
            )),
            other => Ok(other),
        }
    }
}

/// The optional `X-Countertop-Protocol` header of requests without a body.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ProtocolHeader {
    /// The protocol version the kiosk speaks, MAJOR.MINOR; another major is refused
    /// with 400 `unsupported_protocol_version`.
    #[param(
        rename = "X-Countertop-Protocol",
        required = false,
        schema_with = protocol_header_schema
    )]
    pub protocol: Option<String>,
}

/// A protocol version of our major: the same schema as a body's `protocol` field.
fn protocol_header_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    <ProtocolVersion as utoipa::PartialSchema>::schema()
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(
            "missing_token",
            "send the token as 'Authorization: Bearer <token>'",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "the Authorization header must be 'Bearer <token>'",
            )
        })
}

/// Check the optional protocol header.
fn check_protocol_header(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(PROTOCOL_HEADER) else {
        return Ok(());
    };
    let v: ProtocolVersion =
        v.to_str()
            .unwrap_or("")
            .parse()
            .map_err(|e: countertop_protocol::VersionError| {
                ApiError::bad_request("unsupported_protocol_version", e.to_string())
            })?;
    check_protocol(v)
}

/// An enrolled, unrevoked kiosk, from its bearer device token (401 otherwise); also
/// checks the optional protocol header.
pub struct DeviceAuth(pub DeviceRecord);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?;
        let device = state
            .storage
            .device_by_token(&secrets::hash_secret(token))
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "unknown_token",
                    "this device token is not known here; enroll the kiosk again",
                )
            })?;
        if device.revoked {
            return Err(ApiError::unauthorized(
                "revoked_token",
                "this device has been revoked; enroll it again with a new code",
            ));
        }
        check_protocol_header(&parts.headers)?;
        Ok(DeviceAuth(device))
    }
}

#[derive(Deserialize)]
struct StorePath {
    store_id: Uuid,
}

/// A kiosk of the store named in the path: 404 `unknown_store` when there is no such
/// store, 403 `wrong_store` when the device belongs to another.
pub struct StoreDevice {
    pub device: DeviceRecord,
    pub store: StoreRecord,
}

impl FromRequestParts<AppState> for StoreDevice {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let DeviceAuth(device) = DeviceAuth::from_request_parts(parts, state).await?;
        let ApiPath(StorePath { store_id }) =
            ApiPath::<StorePath>::from_request_parts(parts, state).await?;
        let store = state
            .storage
            .store(store_id)
            .await?
            .ok_or_else(ApiError::unknown_store)?;
        if device.store_id != store_id {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_store",
                "this device token belongs to another store",
            ));
        }
        Ok(StoreDevice { device, store })
    }
}

/// A valid API token (head office's scripts and reports); 401 otherwise.
pub struct ApiAuth;

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?;
        match state
            .storage
            .api_token_state(&secrets::hash_secret(token))
            .await?
        {
            TokenState::Valid => Ok(ApiAuth),
            TokenState::Revoked => Err(ApiError::unauthorized(
                "revoked_token",
                "this API token has been revoked; create a new one with 'countertop-hq token add'",
            )),
            TokenState::Unknown => Err(ApiError::unauthorized(
                "unknown_token",
                "this API token is not known; create one with 'countertop-hq token add'",
            )),
        }
    }
}

/// The store with this id, or 404 `unknown_store`.
pub async fn existing_store(state: &AppState, id: Uuid) -> Result<StoreRecord, ApiError> {
    state
        .storage
        .store(id)
        .await?
        .ok_or_else(ApiError::unknown_store)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_header_pattern_is_the_protocols() {
        assert_eq!(
            r"^1\.[0-9]{1,4}$",
            countertop_protocol::openapi::protocol_version_pattern()
        );
    }
}
