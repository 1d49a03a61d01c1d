//! The privacy page (admins only): erasure requests often reach head office, not the
//! counter. An admin finds a regular by the full phone number (normalised by the
//! protocol's [`phone_digits`], the rule kiosks apply) or by id, sees only that a record
//! exists, its home store and its dates, and erases it. The erasure is a
//! `regular_erased` event stored through the ingest path ([`Storage::ingest`]), exactly
//! as a kiosk's would be: HQ writes the tombstone, deletes the profile and visits, and
//! every kiosk that sees the regular purges it on its next regulars pull. Lookups are
//! throttled per account; the audit log records that an erasure happened and where,
//! never a phone, a name or the regular's id.

use std::sync::LazyLock;
use std::time::Duration as StdDuration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::{Offset, Utc};
use countertop_protocol::phone_digits;
use countertop_protocol::regular::PHONE_DIGITS;
use serde::Deserialize;
use uuid::Uuid;

use super::error::WebError;
use super::{audit, route, Access, Layout, Route, Viewer, WebForm};
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::privacy::{RegularFound, RegularKey};
use crate::storage::{DeviceRecord, IngestItem, RegularOp, Storage, Stored};
use crate::throttle::{Limiter, Rule};

pub const ROUTES: &[Route] = &[
    route!(GET "/privacy", Access::Signed(Role::Admin), page),
    route!(POST "/privacy/find", Access::Signed(Role::Admin), find),
    route!(POST "/privacy/erase", Access::Signed(Role::Admin), erase),
];

/// The device id HQ's own erasures are stored under (no kiosk has it: kiosk ids are
/// random v7 UUIDs).
pub const HQ_DEVICE_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);

/// Lookups per admin account: 10, then one every 6 s. An erasure request names one
/// person; nobody needs to try hundreds of numbers.
static LOOKUPS: LazyLock<Limiter<Uuid>> =
    LazyLock::new(|| Limiter::new(Rule::new(10, StdDuration::from_secs(6))));

/// What the page shows about a regular found.
pub enum Outcome {
    NotFound,
    Held {
        regular_id: Uuid,
        home: String,
        first_seen: String,
        last_visit: Option<String>,
        visits: String,
    },
    Erased {
        home: String,
        erased_at: String,
    },
    JustErased {
        home: String,
    },
}

#[derive(Template, WebTemplate)]
#[template(path = "privacy.html")]
pub struct PrivacyPage {
    pub l: Layout,
    pub outcome: Option<Outcome>,
    pub error: Option<&'static str>,
}

/// GET /privacy
pub async fn page(viewer: Viewer) -> PrivacyPage {
    PrivacyPage {
        l: Layout::new(&viewer),
        outcome: None,
        error: None,
    }
}

#[derive(Deserialize)]
pub struct FindForm {
    query: String,
}

/// The key of what was typed: a regular id, else a phone number of 6 to 15 digits.
fn key_of(typed: &str) -> Option<RegularKey> {
    let typed = typed.trim();
    if let Ok(id) = Uuid::parse_str(typed) {
        return Some(RegularKey::Id(id));
    }
    if typed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
    {
        return None;
    }
    let digits = phone_digits(typed);
    PHONE_DIGITS
        .contains(&digits.len())
        .then_some(RegularKey::Phone(digits))
}

async fn store_name(state: &AppState, id: Uuid) -> Result<String, WebError> {
    Ok(state
        .storage
        .store(id)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| id.to_string()))
}

/// POST /privacy/find (a POST, so a phone number never sits in a URL or an access log).
pub async fn find(
    State(state): State<AppState>,
    viewer: Viewer,
    WebForm(f): WebForm<FindForm>,
) -> Result<PrivacyPage, WebError> {
    LOOKUPS
        .attempt(&viewer.user_id)
        .map_err(|retry_after| WebError::Throttled { retry_after })?;
    let mut page = PrivacyPage {
        l: Layout::new(&viewer),
        outcome: None,
        error: None,
    };
    let Some(key) = key_of(&f.query) else {
        page.error = Some("Type the full phone number (6 to 15 digits) or the regular's id.");
        return Ok(page);
    };
    let outcome = match state.storage.find_regular(&key).await? {
        None => Outcome::NotFound,
        Some(RegularFound::Held {
            regular_id,
            home_store_id,
            first_seen,
            last_visit,
            visits,
        }) => Outcome::Held {
            regular_id,
            home: store_name(&state, home_store_id).await?,
            first_seen: first_seen.to_string(),
            last_visit: last_visit.map(|d| d.to_string()),
            visits: visits.to_string(),
        },
        Some(RegularFound::Erased {
            home_store_id,
            erased_at,
            ..
        }) => Outcome::Erased {
            home: store_name(&state, home_store_id).await?,
            erased_at: erased_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
    };
    page.outcome = Some(outcome);
    Ok(page)
}

#[derive(Deserialize)]
pub struct EraseForm {
    regular_id: String,
    confirm: Option<String>,
}

/// Store a `regular_erased` event for `regular_id`, made by HQ, through the ingest
/// path. Returns the home store, or `None` when HQ holds no profile for the id.
pub async fn erase_regular(
    storage: &dyn Storage,
    regular_id: Uuid,
) -> Result<Option<Uuid>, WebError> {
    let Some(RegularFound::Held { home_store_id, .. }) =
        storage.find_regular(&RegularKey::Id(regular_id)).await?
    else {
        return Ok(None);
    };
    let store = storage
        .store(home_store_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let tz: chrono_tz::Tz = store.timezone.parse().unwrap_or(chrono_tz::UTC);
    let now = Utc::now();
    let local = now.with_timezone(&tz);
    let device = DeviceRecord {
        id: HQ_DEVICE_ID,
        store_id: home_store_id,
        store_timezone: store.timezone.clone(),
        revoked: false,
    };
    let item = IngestItem {
        id: Uuid::now_v7(),
        seq: now.timestamp_millis(),
        kind: "regular_erased".to_owned(),
        device_time: now,
        utc_offset_minutes: (local.offset().fix().local_minus_utc() / 60) as i16,
        received_at: now,
        flags: "erased_by_hq".to_owned(),
        body: None,
        rating: None,
        details: None,
        regular: Some(RegularOp::Erase {
            regular_id,
            erased_at: now,
            local_date: local.date_naive(),
        }),
    };
    match storage.ingest(&device, vec![item]).await?.first() {
        Some(Stored::Inserted) | Some(Stored::Duplicate) => Ok(Some(home_store_id)),
        other => Err(WebError::Internal(format!(
            "the erasure was not stored: {other:?}"
        ))),
    }
}

/// POST /privacy/erase
pub async fn erase(
    State(state): State<AppState>,
    viewer: Viewer,
    WebForm(f): WebForm<EraseForm>,
) -> Result<PrivacyPage, WebError> {
    let mut page = PrivacyPage {
        l: Layout::new(&viewer),
        outcome: None,
        error: None,
    };
    let Ok(regular_id) = Uuid::parse_str(f.regular_id.trim()) else {
        return Err(WebError::BadRequest {
            message: "The form could not be read. Reload the page and send it again.",
        });
    };
    if f.confirm.is_none() {
        page.error = Some("Tick the box to confirm the erasure, then erase again.");
        return Ok(page);
    }
    match erase_regular(state.storage.as_ref(), regular_id).await? {
        None => page.outcome = Some(Outcome::NotFound),
        Some(home) => {
            audit::record(
                &state,
                Some(viewer.user_id),
                "regular_erased",
                Some(home),
                None,
                "by=hq",
            )
            .await;
            page.outcome = Some(Outcome::JustErased {
                home: store_name(&state, home).await?,
            });
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_take_an_id_or_a_full_phone_number_only() {
        let id = Uuid::now_v7();
        assert_eq!(key_of(&id.to_string()), Some(RegularKey::Id(id)));
        assert_eq!(
            key_of(" +84 90-123 4567 "),
            Some(RegularKey::Phone("84901234567".into()))
        );
        assert_eq!(key_of("12345"), None, "too short to be a whole number");
        assert_eq!(key_of("Nguyen"), None, "names are not looked up");
        assert_eq!(key_of("090%"), None);
        assert_eq!(key_of(""), None);
    }
}
