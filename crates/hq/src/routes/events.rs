//! `POST /events`: a kiosk pushes a batch of events (gzip or plain). Each event is
//! judged on its own, so one bad event never fails the batch: the answer is a 200 with
//! one result per event (accepted, duplicate, or rejected with a code).

use std::time::Instant;

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use chrono_tz::Tz;
use countertop_protocol::{
    ErrorBody, EventOutcome, EventResult, ProtocolVersion, PushResponse, PROTOCOL_VERSION,
};
use serde::Deserialize;

use super::{AppState, DeviceAuth, ProtocolHeader};
use crate::body::{GzJson, WireBody};
use crate::error::ApiError;
use crate::ingest::{parse_batch, Parsed, FLAG_FUTURE};
use crate::metrics::PushTally;
use crate::storage::Stored;

/// A push as HQ reads it: the envelope strictly, the events one by one, so that an
/// event HQ cannot read is rejected by itself inside the 200 instead of failing the
/// batch.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PushRequest)]
pub struct IncomingPush {
    pub protocol: ProtocolVersion,
    /// Events in the `Event` schema. Each is checked on its own: one that does not
    /// match (not an object, unknown kind, bad field) is answered `rejected` with a
    /// code inside the 200 and the rest of the batch is stored. At most 1,000 events
    /// (413 `too_many_events` beyond).
    #[schema(value_type = Vec<Value>)]
    pub events: Vec<Box<serde_json::value::RawValue>>,
}

impl WireBody for IncomingPush {
    fn protocol(&self) -> Option<ProtocolVersion> {
        Some(self.protocol)
    }
}

/// Push a batch of events; idempotent by event id.
///
/// The body may be gzip-compressed (`Content-Encoding: gzip`). Per-event outcomes, in
/// request order: `accepted` (with `flags` such as `device_time_in_future`),
/// `duplicate` (already stored: safe to forget), or `rejected` with a stable `code`
/// (`malformed_event`, `unknown_kind`, `invalid_utc_offset`, `score_out_of_range`,
/// `nps_out_of_range`, `comment_too_long`, `invalid_slug`, `too_many_reasons`,
/// `field_too_long`, `invalid_regular`, `regular_erased`, `unknown_rating`, ...) and a
/// `reason`. A rejected event will never be accepted: quarantine it.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    security(("device_token" = [])),
    params(ProtocolHeader),
    request_body(content = IncomingPush, content_type = "application/json"),
    responses(
        (status = 200, description = "One result per event, in request order; HQ answers per event inside this 200", body = PushResponse),
        (status = 400, description = "Broken JSON (`malformed_json`), broken gzip (`bad_gzip`) or another protocol major (`unsupported_protocol_version`)", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked device token", body = ErrorBody),
        (status = 413, description = "`body_too_large` (2 MiB on the wire), `decoded_body_too_large` (8 MiB inflated) or `too_many_events` (1,000)", body = ErrorBody),
        (status = 415, description = "Not `application/json` (`unsupported_media_type`) or an encoding other than gzip (`unsupported_content_encoding`)", body = ErrorBody),
        (status = 422, description = "JSON that is not a push envelope (`invalid_body`)", body = ErrorBody),
        (status = 503, description = "`storage_unavailable` or `timeout`: nothing was stored; retry (pushes are idempotent)", body = ErrorBody),
    )
)]
pub async fn push(
    State(state): State<AppState>,
    DeviceAuth(device): DeviceAuth,
    GzJson(push): GzJson<IncomingPush>,
) -> Result<Json<PushResponse>, ApiError> {
    let started = Instant::now();
    if push.events.len() > state.limits.max_events {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
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
    if stored.contains(&Stored::Inserted) {
        // Committed: the store's alert rules are evaluated now, in the background.
        state.alerts.store_touched(device.store_id);
    }
    let mut stored = stored.into_iter().zip(flags_of);
    let mut results = Vec::with_capacity(parsed.len());
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
        results.push(EventResult { index, id, outcome });
    }
    let mut tally = PushTally::default();
    for r in &results {
        match &r.outcome {
            EventOutcome::Accepted { flags } => {
                tally.accepted += 1;
                if flags.iter().any(|f| f == FLAG_FUTURE) {
                    tally.flagged += 1;
                }
            }
            EventOutcome::Duplicate => tally.duplicates += 1,
            EventOutcome::Rejected { code, .. } => tally.rejected.push(code),
        }
    }
    state.metrics.push(&tally, started.elapsed());
    let (accepted, duplicates, rejected) = (
        tally.accepted as usize,
        tally.duplicates as usize,
        tally.rejected.len(),
    );
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
