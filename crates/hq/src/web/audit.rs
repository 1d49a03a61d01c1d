//! The audit log: who did what, and when, with no personal data (ids and short codes
//! only). [`record`] is what every page calls after a change; the page lists entries,
//! newest first: admins see everything, managers and viewers the entries about their
//! stores.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;
use uuid::Uuid;

use super::auth::ScopedStore;
use super::error::WebError;
use super::{route, Access, Layout, Route, Viewer};
use crate::routes::AppState;
use crate::storage::accounts::{AuditEntry, AuditQuery, AuditRecord, Role};

pub const ROUTES: &[Route] = &[
    route!(GET "/audit", Access::Signed(Role::Viewer), page),
    route!(GET "/stores/{store_id}/audit", Access::Signed(Role::Viewer), store_page),
];

/// Lines per page.
const PAGE: usize = 100;

/// Write one audit line. `action` is a stable code (`login_ok`, `user_added`,
/// `survey_changed`, `device_enrolled`, `device_revoked`, `regular_erased`...), `target`
/// the id acted on, `detail` short non-personal text (`role=manager`, `version=4`).
/// A failure to write is logged and does not fail the action that was already done.
pub async fn record(
    state: &AppState,
    actor: Option<Uuid>,
    action: &str,
    store_id: Option<Uuid>,
    target: Option<String>,
    detail: &str,
) {
    let entry = AuditEntry {
        actor,
        action: action.to_owned(),
        store_id,
        target,
        detail: detail.to_owned(),
    };
    if let Err(e) = state.storage.record_audit(&entry).await {
        tracing::error!(error = %e, action, "writing the audit log failed");
    }
}

/// What an action code means, as an English msgid.
pub fn action_label(action: &str) -> &'static str {
    match action {
        "login_ok" => "Signed in",
        "login_failed" => "Failed sign-in",
        "logout" => "Signed out",
        "password_set" => "Password set",
        "user_added" => "Account added",
        "user_changed" => "Account changed",
        "user_disabled" => "Account disabled",
        "user_enabled" => "Account enabled",
        "password_link" => "Password link issued",
        "survey_changed" => "Survey changed",
        "device_enrolled" => "Kiosk enrollment code issued",
        "device_revoked" => "Kiosk revoked",
        "regular_erased" => "Regular erased",
        "alert_rule_added" => "Alert rule added",
        "alert_rule_deleted" => "Alert rule deleted",
        "alert_acknowledged" => "Alert acknowledged",
        "alert_closed" => "Alert closed",
        "store_hours_changed" => "Opening hours changed",
        "digest_prefs_changed" => "Digest choice changed",
        "digest_unsubscribed" => "Unsubscribed from a digest",
        _ => "Other",
    }
}

pub struct AuditLine {
    pub at: String,
    pub who: String,
    pub action: &'static str,
    pub code: String,
    pub store: String,
    /// What was acted on and the detail, in one line.
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub l: Layout,
    pub lines: Vec<AuditLine>,
    /// The `before` of the next page, when there is one.
    pub older: Option<i64>,
    /// The one store this page is about, if it is a store's log.
    pub store: Option<(Uuid, String)>,
}

#[derive(Deserialize)]
pub struct AuditParams {
    before: Option<i64>,
}

/// GET /audit — everything for admins, the entries about their stores for others.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditParams>,
) -> Result<AuditPage, WebError> {
    let stores = viewer.scope.store_ids().map(<[Uuid]>::to_vec);
    render(&state, &viewer, stores, q.before, None).await
}

/// GET /stores/{store_id}/audit — the entries about one store.
pub async fn store_page(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
    Query(q): Query<AuditParams>,
) -> Result<AuditPage, WebError> {
    render(
        &state,
        &viewer,
        Some(vec![store.id]),
        q.before,
        Some((store.id, store.name)),
    )
    .await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    filter: Option<Vec<Uuid>>,
    before: Option<i64>,
    one_store: Option<(Uuid, String)>,
) -> Result<AuditPage, WebError> {
    let stores = viewer.stores_in_scope(state).await?;
    let query = AuditQuery {
        stores: filter,
        before,
        limit: PAGE + 1,
    };
    let mut records: Vec<AuditRecord> = state.storage.audit_entries(&query).await?;
    let older = if records.len() > PAGE {
        records.truncate(PAGE);
        records.last().map(|r| r.id)
    } else {
        None
    };
    // Accounts acted on are shown by email (staff, already on the users page); the log
    // itself keeps only their id.
    let accounts: std::collections::HashMap<String, String> = if viewer.is_admin() {
        state
            .storage
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id.to_string(), u.email))
            .collect()
    } else {
        Default::default()
    };
    let tr = viewer.tr();
    let lines = records
        .into_iter()
        .map(|r| AuditLine {
            at: r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            who: r
                .actor_email
                .or_else(|| r.actor.map(|a| a.to_string()))
                .unwrap_or_else(|| {
                    let who = if r.action == "login_failed" {
                        "an unknown account"
                    } else {
                        "the command line"
                    };
                    tr.t(who).to_owned()
                }),
            action: action_label(&r.action),
            code: r.action,
            store: r
                .store_id
                .map(|id| {
                    stores
                        .iter()
                        .find(|s| s.id == id)
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| id.to_string())
                })
                .unwrap_or_default(),
            detail: {
                let target = r
                    .target
                    .map(|t| accounts.get(&t).cloned().unwrap_or(t))
                    .unwrap_or_default();
                format!("{target} {}", r.detail).trim().to_owned()
            },
        })
        .collect();
    Ok(AuditPage {
        l: Layout::new(viewer),
        lines,
        older,
        store: one_store,
    })
}
