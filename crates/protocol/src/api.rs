//! Request and response bodies of HQ's HTTP API (`/api/v1`), shared so the kiosk's sync
//! client and HQ cannot drift apart.
//!
//! | route | request | response |
//! |---|---|---|
//! | `POST /api/v1/enroll` | [`EnrollRequest`] | [`EnrollResponse`] |
//! | `POST /api/v1/events` (bearer device token, gzip or plain) | [`PushRequest`] | [`PushResponse`] |
//! | `GET /api/v1/stores/{store_id}/config?cursor=N` (bearer device token, optional `X-Countertop-Protocol: 1.0`) | — | [`ConfigResponse`] |
//! | `GET /api/v1/stores/{store_id}/regulars?cursor=N` (bearer device token of that store) | — | [`RegularsResponse`] |
//!
//! Every error is an [`ErrorBody`] with a 4xx or 5xx status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::SurveyConfig;
use crate::event::Event;
use crate::regular::{Regular, RegularErased, VisitRecord};
use crate::version::ProtocolVersion;

/// Trade a one-time enrollment code for a device identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    pub protocol: ProtocolVersion,
    pub code: String,
    /// A label for the manager, such as "counter left".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// The device's identity. `device_token` is shown once: HQ keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    pub protocol: ProtocolVersion,
    pub device_id: Uuid,
    pub store_id: Uuid,
    /// 256 random bits, hex encoded (64 characters). Send as `Authorization: Bearer`.
    pub device_token: String,
    pub server_time: DateTime<Utc>,
}

/// A batch of events from one kiosk, as the kiosk sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub protocol: ProtocolVersion,
    pub events: Vec<Event>,
}

/// What became of one event of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventOutcome {
    /// Stored now. `flags` name anything odd that was kept, such as
    /// `device_time_in_future`.
    Accepted {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        flags: Vec<String>,
    },
    /// Already stored by an earlier push: safe to forget.
    Duplicate,
    /// Never stored; retrying will not help. `code` is stable, `reason` explains.
    Rejected { code: String, reason: String },
}

/// The outcome of one event, in the order of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventResult {
    pub index: usize,
    /// Absent only when the event had no readable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(flatten)]
    pub outcome: EventOutcome,
}

/// HQ's answer to a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub protocol: ProtocolVersion,
    /// HQ's clock at receipt, so the kiosk can measure its own clock offset.
    pub server_time: DateTime<Utc>,
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

/// The store's survey, when it changed since the kiosk's cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigResponse {
    pub protocol: ProtocolVersion,
    /// Pass back as `?cursor=` next time.
    pub cursor: u64,
    /// `None` when nothing changed since the cursor given.
    pub config: Option<SurveyConfig>,
    pub server_time: DateTime<Utc>,
}

/// A page of regular profiles, visits and erasures a kiosk may see, changed since its
/// cursor (`GET /api/v1/stores/{store_id}/regulars?cursor=N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegularsResponse {
    pub protocol: ProtocolVersion,
    /// Pass back as `?cursor=` next time.
    pub cursor: u64,
    /// When true, call again at once with the new cursor: this page was full.
    pub more: bool,
    /// Each profile as HQ holds it now (the last writer on the hybrid logical clock).
    pub profiles: Vec<Regular>,
    pub visits: Vec<VisitRecord>,
    /// Ids to purge. Tombstones carry no personal data, so every kiosk gets all of them.
    pub erased: Vec<RegularErased>,
    pub server_time: DateTime<Utc>,
}

/// Every error response: a stable `error` code and a `message` that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_tagged_by_status() {
        let r = EventResult {
            index: 0,
            id: None,
            outcome: EventOutcome::Rejected {
                code: "unknown_kind".into(),
                reason: "unknown kind".into(),
            },
        };
        let v = serde_json::to_value(&r).expect("serializes");
        assert_eq!(v["status"], "rejected");
        assert_eq!(v["code"], "unknown_kind");
        let back: EventResult = serde_json::from_value(v).expect("deserializes");
        assert_eq!(back, r);
        let dup = serde_json::to_value(EventOutcome::Duplicate).expect("serializes");
        assert_eq!(dup, serde_json::json!({"status": "duplicate"}));
    }
}
