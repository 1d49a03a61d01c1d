//! The HTTP API under `/api/v1`, plus `/healthz` and `/metrics`. Handlers check input,
//! call [`crate::ingest`] and the [`Storage`], and never log comments, tokens or codes.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use countertop_protocol::{
    ConfigResponse, EnrollRequest, EnrollResponse, EventOutcome, EventResult, ProtocolVersion,
    PushResponse, RegularsResponse, SurveyConfig, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use http_body_util::BodyExt;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::Limits;
use crate::error::ApiError;
use crate::ingest::{parse_batch, Parsed, FLAG_FUTURE};
use crate::metrics::Metrics;
use crate::reports::{sort_groups, Group, Report, Summary};
use crate::secrets;
use crate::storage::{
    DeviceRecord, GroupBy, Redeemed, RegularsReportQuery, RegularsScope, RegularsTally,
    ReportQuery, Storage, StorageError, Stored, Tally, TokenState, REGULARS_PAGE,
};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/enroll", post(enroll))
        .route("/events", post(push_events))
        .route("/stores/{store_id}/config", get(pull_config))
        .route("/stores/{store_id}/config", put(put_config))
        .route("/stores/{store_id}/regulars", get(pull_regulars))
        .route("/stores/{store_id}/regulars-scope", put(put_regulars_scope))
        .route("/devices/{device_id}/revoke", post(revoke_device))
        .route("/reports", get(reports))
        .route("/reports/regulars", get(regulars_report))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
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

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; the API lives under /api/v1 (see /api/v1/openapi.json)",
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

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

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
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "the Authorization header must be 'Bearer <token>'",
            )
        })
}

async fn device(state: &AppState, headers: &HeaderMap) -> Result<DeviceRecord, ApiError> {
    let token = bearer(headers)?;
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
    Ok(device)
}

async fn api_user(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = bearer(headers)?;
    match state
        .storage
        .api_token_state(&secrets::hash_secret(token))
        .await?
    {
        TokenState::Valid => Ok(()),
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

fn check_protocol(v: ProtocolVersion) -> Result<(), ApiError> {
    PROTOCOL_VERSION
        .check_compatible(v)
        .map_err(|e| ApiError::bad_request("unsupported_protocol_version", e.to_string()))
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send Content-Type: application/json (got {:?})",
                ct.chars().take(64).collect::<String>()
            ),
        ))
    }
}

/// Read the body within the wire limit, then undo gzip within the decoded limit
/// ([`crate::body::decode`]).
async fn read_body(body: Body, headers: &HeaderMap, limits: &Limits) -> Result<Vec<u8>, ApiError> {
    // A body somewhat over the limit is read and thrown away, so the client (still
    // sending) gets a clean 413 rather than a reset connection; a huge one is refused at
    // once.
    let drain_cap = limits.max_body_bytes.saturating_mul(4);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > drain_cap) {
        return Err(crate::body::too_large(limits));
    }
    let mut body = body;
    let mut raw = Vec::with_capacity(declared.unwrap_or(0).min(limits.max_body_bytes));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        })?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > drain_cap {
                break;
            }
            if seen <= limits.max_body_bytes {
                raw.extend_from_slice(&data);
            }
        }
    }
    if seen > limits.max_body_bytes {
        return Err(crate::body::too_large(limits));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    crate::body::decode(&raw, encoding, limits)
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not valid: {e}")))
}

async fn enroll(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<EnrollResponse>), ApiError> {
    require_json(&headers)?;
    let bytes = read_body(body, &headers, &state.limits).await?;
    let req: EnrollRequest = parse_json(&bytes)?;
    check_protocol(req.protocol)?;
    let code_hash = secrets::hash_secret(&secrets::normalize_enroll_code(&req.code));
    let token = secrets::new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let device_id = Uuid::now_v7();
    let now = Utc::now();
    let name = req.device_name.as_deref().map(|n| {
        let end = n.char_indices().nth(64).map_or(n.len(), |(i, _)| i);
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
        Redeemed::UnknownCode => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_enrollment_code",
            "this enrollment code is not known; check it, or ask head office for a new one",
        )),
        Redeemed::AlreadyUsed => Err(ApiError::new(
            StatusCode::GONE,
            "enrollment_code_used",
            "this enrollment code has already been used; ask head office for a new one",
        )),
        Redeemed::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "enrollment_code_expired",
            "this enrollment code has expired; ask head office for a new one",
        )),
    }
}

#[derive(Deserialize)]
struct IncomingPush {
    protocol: ProtocolVersion,
    events: Vec<serde_json::Value>,
}

async fn push_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PushResponse>, ApiError> {
    let started = Instant::now();
    let device = device(&state, &headers).await?;
    require_json(&headers)?;
    let bytes = read_body(body, &headers, &state.limits).await?;
    let push: IncomingPush = parse_json(&bytes)?;
    drop(bytes);
    check_protocol(push.protocol)?;
    if push.events.len() > state.limits.max_events {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "{} events in one batch; the limit is {}; split the batch",
                push.events.len(),
                state.limits.max_events
            ),
        ));
    }
    let received_at = Utc::now();
    let tz: Tz = device.store_timezone.parse().map_err(|_| {
        ApiError::Internal(format!("store {} has a bad time zone", device.store_id))
    })?;
    let parsed = parse_batch(push.events, tz, received_at);
    let mut to_store = Vec::new();
    let mut flags_of = Vec::new();
    for (_, p) in &parsed {
        if let Parsed::Store(item) = p {
            flags_of.push(item.flags.clone());
            to_store.push((**item).clone());
        }
    }
    let stored = if to_store.is_empty() {
        Vec::new()
    } else {
        state.storage.ingest(&device, to_store).await?
    };
    let mut stored = stored.into_iter().zip(flags_of);
    let mut results = Vec::with_capacity(parsed.len());
    let (mut accepted, mut duplicates, mut rejected) = (0, 0, 0);
    for (index, (id, p)) in parsed.into_iter().enumerate() {
        let outcome = match p {
            Parsed::Decided(o) => o,
            Parsed::Store(_) => match stored.next() {
                Some((Stored::Inserted, flags)) => EventOutcome::Accepted {
                    flags: if flags.is_empty() {
                        Vec::new()
                    } else {
                        flags.split(',').map(str::to_owned).collect()
                    },
                },
                Some((Stored::Duplicate, _)) => EventOutcome::Duplicate,
                Some((Stored::Rejected { code, reason }, _)) => {
                    EventOutcome::Rejected { code, reason }
                }
                None => return Err(ApiError::Internal("storage lost an outcome".into())),
            },
        };
        match &outcome {
            EventOutcome::Accepted { flags } => {
                accepted += 1;
                if flags.iter().any(|f| f == FLAG_FUTURE) {
                    state
                        .metrics
                        .events_flagged
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            EventOutcome::Duplicate => duplicates += 1,
            EventOutcome::Rejected { code, .. } => {
                rejected += 1;
                state.metrics.reject(code);
            }
        }
        results.push(EventResult { index, id, outcome });
    }
    let m = &state.metrics;
    m.events_accepted
        .fetch_add(accepted as u64, std::sync::atomic::Ordering::Relaxed);
    m.events_duplicate
        .fetch_add(duplicates as u64, std::sync::atomic::Ordering::Relaxed);
    m.push_latency.observe(started.elapsed());
    tracing::info!(
        device_id = %device.id,
        accepted,
        duplicates,
        rejected,
        "push"
    );
    Ok(Json(PushResponse {
        protocol: PROTOCOL_VERSION,
        server_time: Utc::now(),
        accepted,
        duplicates,
        rejected,
        results,
    }))
}

#[derive(Deserialize)]
struct CursorQuery {
    cursor: Option<u64>,
}

/// The device behind the bearer token, which must belong to `store_id` (403
/// `wrong_store` otherwise); checks the optional protocol header too.
async fn device_of_store(
    state: &AppState,
    headers: &HeaderMap,
    store_id: Uuid,
) -> Result<DeviceRecord, ApiError> {
    let device = device(state, headers).await?;
    if let Some(v) = headers.get(PROTOCOL_HEADER) {
        let v: ProtocolVersion =
            v.to_str()
                .unwrap_or("")
                .parse()
                .map_err(|e: countertop_protocol::VersionError| {
                    ApiError::bad_request("unsupported_protocol_version", e.to_string())
                })?;
        check_protocol(v)?;
    }
    if device.store_id != store_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_store",
            "this device token belongs to another store",
        ));
    }
    Ok(device)
}

fn unknown_store() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "unknown_store", "no such store")
}

/// The regulars this store's kiosks may see, changed since the cursor, a page at a time.
async fn pull_regulars(
    State(state): State<AppState>,
    Path(store_id): Path<Uuid>,
    query: Result<Query<CursorQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<RegularsResponse>, ApiError> {
    device_of_store(&state, &headers, store_id).await?;
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("{e}; use ?cursor=N with the cursor of the last pull (or none)"),
        )
    })?;
    let page = match state
        .storage
        .pull_regulars(store_id, q.cursor.unwrap_or(0), REGULARS_PAGE)
        .await
    {
        Ok(p) => p,
        Err(StorageError::NoSuchStore(_)) => return Err(unknown_store()),
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

/// The body of `PUT /stores/{store_id}/regulars-scope`, and its answer.
#[derive(Debug, serde::Serialize, Deserialize)]
struct ScopeBody {
    scope: RegularsScope,
}

async fn put_regulars_scope(
    State(state): State<AppState>,
    Path(store_id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    api_user(&state, &headers).await?;
    require_json(&headers)?;
    let bytes = read_body(body, &headers, &state.limits).await?;
    let ScopeBody { scope } = parse_json(&bytes)?;
    match state.storage.set_regulars_scope(store_id, scope).await {
        Ok(()) => {}
        Err(StorageError::NoSuchStore(_)) => return Err(unknown_store()),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(%store_id, scope = scope.as_str(), "regulars scope set");
    Ok(Json(
        serde_json::json!({"store_id": store_id, "scope": scope}),
    ))
}

async fn pull_config(
    State(state): State<AppState>,
    Path(store_id): Path<Uuid>,
    Query(q): Query<CursorQuery>,
    headers: HeaderMap,
) -> Result<Json<ConfigResponse>, ApiError> {
    device_of_store(&state, &headers, store_id).await?;
    let store =
        state.storage.store(store_id).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_store", "no such store")
        })?;
    let changed = q.cursor.is_none_or(|c| c < store.config_version);
    Ok(Json(ConfigResponse {
        protocol: PROTOCOL_VERSION,
        cursor: store.config_version,
        config: changed.then_some(store.config),
        server_time: Utc::now(),
    }))
}

async fn put_config(
    State(state): State<AppState>,
    Path(store_id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ConfigResponse>, ApiError> {
    api_user(&state, &headers).await?;
    require_json(&headers)?;
    let bytes = read_body(body, &headers, &state.limits).await?;
    let config: SurveyConfig = parse_json(&bytes)?;
    let version = match state.storage.set_config(store_id, &config).await {
        Ok(v) => v,
        Err(crate::storage::StorageError::NoSuchStore(_)) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_store",
                "no such store",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let store =
        state.storage.store(store_id).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_store", "no such store")
        })?;
    Ok(Json(ConfigResponse {
        protocol: PROTOCOL_VERSION,
        cursor: version,
        config: Some(store.config),
        server_time: Utc::now(),
    }))
}

async fn revoke_device(
    State(state): State<AppState>,
    Path(device_id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    api_user(&state, &headers).await?;
    if state.storage.revoke_device(device_id).await? {
        tracing::info!(%device_id, "device revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            "no such device",
        ))
    }
}

#[derive(Deserialize)]
struct ReportParams {
    from: String,
    to: String,
    store: Option<Uuid>,
    group_by: Option<GroupBy>,
    #[serde(default)]
    include_repeats: bool,
}

/// Longest date range one report may cover.
const MAX_REPORT_DAYS: i64 = 366 * 3;

/// Parse and check a report's local date range.
fn date_range(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                "dates must be YYYY-MM-DD, in the store's time zone",
            )
        })
    };
    let (from, to) = (date(from)?, date(to)?);
    if to < from || (to - from).num_days() > MAX_REPORT_DAYS {
        return Err(ApiError::bad_request(
            "bad_date_range",
            format!("'to' must be on or after 'from', at most {MAX_REPORT_DAYS} days later"),
        ));
    }
    Ok((from, to))
}

async fn reports(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    api_user(&state, &headers).await?;
    let Query(p) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("{e}; use ?from=YYYY-MM-DD&to=YYYY-MM-DD[&store=ID][&group_by=store|day|hour|touchpoint|reason][&include_repeats=true]"),
        )
    })?;
    let (from, to) = date_range(&p.from, &p.to)?;
    let mut q = ReportQuery {
        from,
        to,
        store_id: p.store,
        group_by: None,
        include_repeats: p.include_repeats,
    };
    let total = state.storage.report(&q).await?;
    let total = total.first().cloned().unwrap_or_default();
    let mut groups = Vec::new();
    if p.group_by.is_some() {
        q.group_by = p.group_by;
        groups = state
            .storage
            .report(&q)
            .await?
            .iter()
            .map(|t: &Tally| Group {
                key: t.key.clone(),
                summary: Summary::from(t),
            })
            .collect();
        sort_groups(p.group_by, &mut groups);
    }
    Ok(Json(Report {
        from,
        to,
        store_id: p.store,
        group_by: p.group_by,
        include_repeats: p.include_repeats,
        total: Summary::from(&total),
        groups,
    }))
}

#[derive(Deserialize)]
struct RegularsReportParams {
    from: String,
    to: String,
    store: Option<Uuid>,
}

/// The regulars report: counts only, never a name or a phone.
#[derive(Debug, serde::Serialize)]
struct RegularsReport {
    from: NaiveDate,
    to: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    store_id: Option<Uuid>,
    #[serde(flatten)]
    tally: RegularsTally,
}

async fn regulars_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<RegularsReportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RegularsReport>, ApiError> {
    api_user(&state, &headers).await?;
    let Query(p) = query.map_err(|e| {
        ApiError::bad_request(
            "bad_query",
            format!("{e}; use ?from=YYYY-MM-DD&to=YYYY-MM-DD[&store=ID]"),
        )
    })?;
    let (from, to) = date_range(&p.from, &p.to)?;
    let tally = state
        .storage
        .regulars_report(&RegularsReportQuery {
            from,
            to,
            store_id: p.store,
        })
        .await?;
    Ok(Json(RegularsReport {
        from,
        to,
        store_id: p.store,
        tally,
    }))
}
