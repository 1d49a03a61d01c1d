//! The devices page: every kiosk in scope with its health (from the read model's
//! [`DeviceHealth`]) and the one offline rule ([`DeviceHealth::is_offline`]), and per
//! store the actions: set the opening hours (validated by [`OpeningHours`]), issue a
//! one-time enrollment code (the same [`admin::issue_enroll_code`] the CLI uses), revoke
//! a kiosk after a confirm step. Managers act on their stores only, viewers read, and
//! every action is audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawPathParams, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use uuid::Uuid;

use super::error::WebError;
use super::{audit, route, Access, Layout, Route, ScopedStore, Viewer, WebForm};
use crate::admin;
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::analytics::DeviceHealth;
use crate::storage::hours::OpeningHours;

pub const ROUTES: &[Route] = &[
    route!(GET "/devices", Access::Signed(Role::Viewer), list),
    route!(GET "/stores/{store_id}/devices", Access::Signed(Role::Viewer), store_page),
    route!(POST "/stores/{store_id}/devices/enroll", Access::Signed(Role::Manager), enroll),
    route!(POST "/stores/{store_id}/hours", Access::Signed(Role::Manager), save_hours),
    route!(GET "/stores/{store_id}/devices/{device_id}/revoke", Access::Signed(Role::Manager), confirm_revoke),
    route!(POST "/stores/{store_id}/devices/{device_id}/revoke", Access::Signed(Role::Manager), revoke),
];

/// How long a code issued on the page stays valid (the CLI's default too).
const ENROLL_CODE_VALID_HOURS: i64 = 24;

/// Weekday msgids, Monday first (the order of [`OpeningHours::days`]).
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One kiosk, as the table shows it.
pub struct DeviceLine {
    pub id: Uuid,
    pub store_id: Uuid,
    pub store: String,
    pub name: String,
    pub version: String,
    pub last_seen: String,
    pub queue: String,
    pub oldest_unsent: String,
    pub last_error: String,
    pub clock_offset: String,
    /// The kiosk's quarantined count; `None` when its health report does not say.
    pub quarantined: Option<u64>,
    pub offline: bool,
    pub revoked: bool,
}

impl DeviceLine {
    /// The id's last six hex digits: enough to tell two kiosks of one name apart (the
    /// whole id is the tag's title). The last ones, because device ids may be UUIDv7,
    /// whose first digits are the enrollment time and alike for kiosks enrolled together.
    pub fn short_id(&self) -> String {
        let hex = self.id.simple().to_string();
        hex[hex.len() - 6..].to_owned()
    }
}

/// A day of the hours form: its msgid and the text typed (or stored).
pub struct HoursField {
    pub day: &'static str,
    pub name: String,
    pub value: String,
}

/// The store the page is about, with its forms.
pub struct StorePart {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub hours: Vec<HoursField>,
    pub hours_error: Option<String>,
    pub hours_saved: bool,
    /// A code just issued, with its expiry, shown once.
    pub code: Option<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "devices.html")]
pub struct DevicesPage {
    pub l: Layout,
    pub lines: Vec<DeviceLine>,
    pub stores: Vec<(Uuid, String)>,
    pub store: Option<StorePart>,
    pub can_edit: bool,
    pub offline_minutes: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "device_revoke.html")]
pub struct RevokePage {
    pub l: Layout,
    pub store_id: Uuid,
    pub store: String,
    pub line: DeviceLine,
}

fn ago(tr: super::i18n::Tr, at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(at) = at else {
        return tr.t("never").to_owned();
    };
    let secs = (now - at).num_seconds().max(0);
    let n;
    let msgid = if secs < 120 {
        n = secs;
        "{n} s ago"
    } else if secs < 7200 {
        n = secs / 60;
        "{n} min ago"
    } else if secs < 2 * 86400 {
        n = secs / 3600;
        "{n} h ago"
    } else {
        n = secs / 86400;
        "{n} days ago"
    };
    tr.f(msgid, &[("n", &n.to_string())])
}

fn duration_text(tr: super::i18n::Tr, secs: u64) -> String {
    let (n, msgid) = if secs < 120 {
        (secs, "{n} s")
    } else if secs < 7200 {
        (secs / 60, "{n} min")
    } else if secs < 2 * 86400 {
        (secs / 3600, "{n} h")
    } else {
        (secs / 86400, "{n} days")
    };
    tr.f(msgid, &[("n", &n.to_string())])
}

/// The table lines of these kiosks, with the offline rule applied in each store's
/// time zone and hours.
async fn lines_of(
    state: &AppState,
    viewer: &Viewer,
    devices: Vec<DeviceHealth>,
    stores: &[(Uuid, String, String)],
) -> Result<Vec<DeviceLine>, WebError> {
    let tr = viewer.tr();
    let now = Utc::now();
    let after = Duration::from_std(state.web.settings.offline_after)
        .unwrap_or_else(|_| Duration::minutes(30));
    let mut hours: std::collections::HashMap<Uuid, (OpeningHours, Tz)> = Default::default();
    let mut out = Vec::with_capacity(devices.len());
    for d in devices {
        let Some((_, store, tz)) = stores.iter().find(|(id, _, _)| *id == d.store_id) else {
            continue;
        };
        let (h, tz) = match hours.get(&d.store_id) {
            Some(found) => *found,
            None => {
                let h = state.storage.opening_hours(d.store_id).await?;
                let found = (h, tz.parse().unwrap_or(chrono_tz::UTC));
                hours.insert(d.store_id, found);
                found
            }
        };
        let dash = || "—".to_owned();
        out.push(DeviceLine {
            id: d.device_id,
            store_id: d.store_id,
            store: store.clone(),
            name: d
                .name
                .clone()
                .unwrap_or_else(|| tr.t("(unnamed)").to_owned()),
            version: d.app_version.clone().unwrap_or_else(dash),
            last_seen: ago(tr, d.last_seen, now),
            queue: d.queue_depth.map_or_else(dash, |q| q.to_string()),
            oldest_unsent: d
                .oldest_unsent_age_seconds
                .map_or_else(dash, |s| duration_text(tr, s)),
            last_error: d.last_error.clone().unwrap_or_default(),
            clock_offset: d.clock_offset_seconds.map_or_else(dash, |s| {
                let sign = if s < 0 { "−" } else { "+" };
                format!("{sign}{}", duration_text(tr, s.unsigned_abs()))
            }),
            quarantined: d.quarantined,
            offline: d.is_offline(&h, tz, now, after),
            revoked: d.revoked,
        });
    }
    Ok(out)
}

fn offline_minutes(state: &AppState) -> String {
    (state.web.settings.offline_after.as_secs() / 60).to_string()
}

/// GET /devices
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<DevicesPage, WebError> {
    let stores: Vec<(Uuid, String, String)> = viewer
        .stores_in_scope(&state)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name, s.timezone))
        .collect();
    let devices = state.storage.devices(viewer.scope.store_ids()).await?;
    let lines = lines_of(&state, &viewer, devices, &stores).await?;
    Ok(DevicesPage {
        l: Layout::new(&viewer),
        lines,
        stores: stores.into_iter().map(|(id, name, _)| (id, name)).collect(),
        store: None,
        can_edit: viewer.can_edit(),
        offline_minutes: offline_minutes(&state),
    })
}

fn hours_fields(typed: &[String]) -> Vec<HoursField> {
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, day)| HoursField {
            day,
            name: format!("day{i}"),
            value: typed.get(i).cloned().unwrap_or_default(),
        })
        .collect()
}

async fn store_view(
    state: &AppState,
    viewer: &Viewer,
    store: &crate::storage::StoreRecord,
    part: impl FnOnce(&mut StorePart),
) -> Result<DevicesPage, WebError> {
    let stores = vec![(store.id, store.name.clone(), store.timezone.clone())];
    let devices = state.storage.devices(Some(&[store.id])).await?;
    let lines = lines_of(state, viewer, devices, &stores).await?;
    let hours = state.storage.opening_hours(store.id).await?;
    let stored: Vec<String> = hours.days.iter().map(ToString::to_string).collect();
    let mut p = StorePart {
        id: store.id,
        name: store.name.clone(),
        timezone: store.timezone.clone(),
        hours: hours_fields(&stored),
        hours_error: None,
        hours_saved: false,
        code: None,
    };
    part(&mut p);
    Ok(DevicesPage {
        l: Layout::new(viewer),
        lines,
        stores: vec![(store.id, store.name.clone())],
        store: Some(p),
        can_edit: viewer.can_edit(),
        offline_minutes: offline_minutes(state),
    })
}

#[derive(Deserialize)]
pub struct SavedFlag {
    saved: Option<String>,
}

/// GET /stores/{store_id}/devices
pub async fn store_page(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    axum::extract::Query(q): axum::extract::Query<SavedFlag>,
) -> Result<DevicesPage, WebError> {
    store_view(&state, &viewer, &store, |p| {
        p.hours_saved = q.saved.is_some()
    })
    .await
}

/// POST /stores/{store_id}/devices/enroll: a one-time code, shown on the page once.
pub async fn enroll(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
) -> Result<DevicesPage, WebError> {
    let valid = Duration::hours(ENROLL_CODE_VALID_HOURS);
    let code = admin::issue_enroll_code(state.storage.as_ref(), store.id, valid)
        .await
        .map_err(|e| match e {
            admin::AdminError::Storage(e) => WebError::Storage(e),
            admin::AdminError::NoSuchStore(_) => WebError::NotFound,
            other => WebError::Internal(other.to_string()),
        })?;
    let expires = (Utc::now() + valid)
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    audit::record(
        &state,
        Some(viewer.user_id),
        "device_enrolled",
        Some(store.id),
        None,
        &format!("valid_hours={ENROLL_CODE_VALID_HOURS}"),
    )
    .await;
    store_view(&state, &viewer, &store, |p| p.code = Some((code, expires))).await
}

#[derive(Deserialize)]
pub struct HoursForm {
    day0: String,
    day1: String,
    day2: String,
    day3: String,
    day4: String,
    day5: String,
    day6: String,
}

/// POST /stores/{store_id}/hours
pub async fn save_hours(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    WebForm(f): WebForm<HoursForm>,
) -> Result<Response, WebError> {
    let typed = [f.day0, f.day1, f.day2, f.day3, f.day4, f.day5, f.day6];
    let typed: Vec<String> = typed
        .into_iter()
        .map(|d| {
            let d = d.trim();
            if d.is_empty() {
                "closed".to_owned()
            } else {
                d.chars().take(40).collect()
            }
        })
        .collect();
    match OpeningHours::parse_days(&typed) {
        Ok(hours) => {
            state.storage.set_opening_hours(store.id, &hours).await?;
            audit::record(
                &state,
                Some(viewer.user_id),
                "store_hours_changed",
                Some(store.id),
                None,
                "",
            )
            .await;
            Ok(Redirect::to(&format!("/stores/{}/devices?saved=1", store.id)).into_response())
        }
        Err(e) => {
            let tr = viewer.tr();
            let msg = tr.f(
                "These hours are not valid: {problem}. Write each day as 08:00-18:00, or closed.",
                &[("problem", &e.to_string())],
            );
            let page = store_view(&state, &viewer, &store, |p| {
                p.hours = hours_fields(&typed);
                p.hours_error = Some(msg);
            })
            .await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

/// The device of the path, if it is a kiosk of the store (404 otherwise).
async fn device_of(
    state: &AppState,
    viewer: &Viewer,
    store: &crate::storage::StoreRecord,
    params: &RawPathParams,
) -> Result<DeviceLine, WebError> {
    let id = params
        .iter()
        .find(|(k, _)| *k == "device_id")
        .and_then(|(_, v)| Uuid::parse_str(v).ok())
        .ok_or(WebError::NotFound)?;
    let devices = state.storage.devices(Some(&[store.id])).await?;
    let devices: Vec<DeviceHealth> = devices.into_iter().filter(|d| d.device_id == id).collect();
    let stores = vec![(store.id, store.name.clone(), store.timezone.clone())];
    lines_of(state, viewer, devices, &stores)
        .await?
        .into_iter()
        .next()
        .ok_or(WebError::NotFound)
}

/// GET /stores/{store_id}/devices/{device_id}/revoke: the confirm step.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    params: RawPathParams,
) -> Result<RevokePage, WebError> {
    let line = device_of(&state, &viewer, &store, &params).await?;
    Ok(RevokePage {
        l: Layout::new(&viewer),
        store_id: store.id,
        store: store.name,
        line,
    })
}

/// POST /stores/{store_id}/devices/{device_id}/revoke
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    params: RawPathParams,
) -> Result<Redirect, WebError> {
    let line = device_of(&state, &viewer, &store, &params).await?;
    if !line.revoked {
        if !state.storage.revoke_device(line.id).await? {
            return Err(WebError::NotFound);
        }
        audit::record(
            &state,
            Some(viewer.user_id),
            "device_revoked",
            Some(store.id),
            Some(line.id.to_string()),
            "",
        )
        .await;
    }
    Ok(Redirect::to(&format!("/stores/{}/devices", store.id)))
}
