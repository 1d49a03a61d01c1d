//! The alerts pages: the open alerts of the viewer's stores with acknowledge and close,
//! the rules (admins edit chain-wide rules, managers rules for their own stores), and a
//! store's alert history as a partial (`templates/alerts_history.html`) that the store
//! page can include; `/stores/{store_id}/alerts` shows it on its own.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::error::WebError;
use super::{audit, route, Access, Layout, Route, ScopedStore, Viewer, WebForm};
use crate::alerts::lifecycle::AlertState;
use crate::alerts::rule::{Condition, Lang, Recipient, Rule, RuleError, RuleSpec};
use crate::routes::AppState;
use crate::storage::accounts::Role;
use crate::storage::alerts::{AlertQuery, AlertRecord};

pub const ROUTES: &[Route] = &[
    route!(GET "/alerts", Access::Signed(Role::Viewer), page),
    route!(POST "/alerts/rules", Access::Signed(Role::Manager), add_rule),
    route!(POST "/alerts/rules/{rule_id}/delete", Access::Signed(Role::Manager), delete_rule),
    route!(POST "/alerts/{alert_id}/acknowledge", Access::Signed(Role::Manager), acknowledge),
    route!(POST "/alerts/{alert_id}/close", Access::Signed(Role::Manager), close),
    route!(GET "/stores/{store_id}/alerts", Access::Signed(Role::Viewer), store_history),
];

/// One alert, as the list and the history show it.
pub struct AlertLine {
    pub id: Uuid,
    pub store: String,
    pub rule: String,
    /// English msgid of the state, and its code for the tag's class.
    pub state: &'static str,
    pub code: &'static str,
    pub open: bool,
    pub detail: String,
    pub opened: String,
    pub acked: Option<String>,
    pub note: String,
    pub closed: String,
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn state_label(s: AlertState) -> &'static str {
    match s {
        AlertState::Pending => "Pending",
        AlertState::Open => "Open",
        AlertState::Acknowledged => "Acknowledged",
        AlertState::Closed => "Closed",
    }
}

fn line(a: AlertRecord, store: String) -> AlertLine {
    AlertLine {
        id: a.id,
        store,
        rule: a.rule_name,
        state: state_label(a.state),
        code: a.state.as_str(),
        open: matches!(a.state, AlertState::Open | AlertState::Acknowledged),
        detail: a.detail,
        opened: when(a.opened_at),
        acked: a
            .acknowledged_by
            .map(|by| format!("{by}, {}", when(a.acknowledged_at))),
        note: a.ack_note.unwrap_or_default(),
        closed: when(a.closed_at),
    }
}

/// One rule, as the rules table shows it.
pub struct RuleLine {
    pub id: Uuid,
    pub name: String,
    pub stores: String,
    pub condition: String,
    pub window: u32,
    pub min_answers: u32,
    pub recipients: usize,
    pub editable: bool,
}

/// A store the rule form offers.
pub struct StoreChoice {
    pub id: Uuid,
    pub name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    pub l: Layout,
    pub alert_history: Vec<AlertLine>,
    pub rules: Vec<RuleLine>,
    pub stores: Vec<StoreChoice>,
    pub can_edit: bool,
    pub chain: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "store_alerts.html")]
pub struct StoreAlertsPage {
    pub l: Layout,
    pub store: String,
    pub alert_history: Vec<AlertLine>,
    pub can_edit: bool,
}

/// Whether the viewer may see and change the rule: admins any, managers a rule whose
/// stores are all theirs (chain-wide rules are the admins').
fn may_edit(viewer: &Viewer, rule: &RuleSpec) -> bool {
    viewer.is_admin()
        || (viewer.can_edit()
            && !rule.stores.is_empty()
            && rule.stores.iter().all(|s| viewer.scope.contains(*s)))
}

fn may_see(viewer: &Viewer, rule: &RuleSpec) -> bool {
    viewer.is_admin()
        || (!rule.stores.is_empty() && rule.stores.iter().all(|s| viewer.scope.contains(*s)))
}

/// A store's alert history, newest first, for the partial.
pub async fn history(
    state: &AppState,
    store_id: Uuid,
    store_name: &str,
) -> Result<Vec<AlertLine>, WebError> {
    let alerts = state
        .storage
        .alerts(&AlertQuery {
            stores: Some(vec![store_id]),
            open_only: false,
            limit: 100,
        })
        .await?;
    Ok(alerts
        .into_iter()
        .map(|a| line(a, store_name.to_owned()))
        .collect())
}

/// GET /alerts
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<AlertsPage, WebError> {
    let stores = viewer.stores_in_scope(&state).await?;
    let ids: Vec<Uuid> = stores.iter().map(|s| s.id).collect();
    let name = |id: Uuid| {
        stores
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let open = state
        .storage
        .alerts(&AlertQuery {
            stores: Some(ids),
            open_only: true,
            limit: 500,
        })
        .await?;
    let alert_history = open.into_iter().map(|a| {
        let n = name(a.store_id);
        line(a, n)
    });
    let tr = viewer.tr();
    let rules = state
        .storage
        .rules()
        .await?
        .into_iter()
        .filter(|r| may_see(&viewer, &r.spec))
        .map(|r: Rule| RuleLine {
            id: r.id,
            stores: if r.spec.stores.is_empty() {
                tr.t("All stores").to_owned()
            } else {
                r.spec
                    .stores
                    .iter()
                    .map(|s| name(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            condition: r.spec.condition.describe(),
            window: r.spec.window_minutes,
            min_answers: r.spec.min_answers,
            recipients: r.spec.recipients.len(),
            editable: may_edit(&viewer, &r.spec),
            name: r.spec.name,
        })
        .collect();
    Ok(AlertsPage {
        l: Layout::new(&viewer),
        alert_history: alert_history.collect(),
        rules,
        stores: stores
            .iter()
            .map(|s| StoreChoice {
                id: s.id,
                name: s.name.clone(),
            })
            .collect(),
        can_edit: viewer.can_edit(),
        chain: viewer.is_admin(),
    })
}

/// GET /stores/{store_id}/alerts
pub async fn store_history(
    State(state): State<AppState>,
    viewer: Viewer,
    ScopedStore(store): ScopedStore,
) -> Result<StoreAlertsPage, WebError> {
    Ok(StoreAlertsPage {
        alert_history: history(&state, store.id, &store.name).await?,
        l: Layout::new(&viewer),
        store: store.name,
        can_edit: viewer.can_edit(),
    })
}

/// The rule form, every field as typed.
#[derive(Deserialize)]
pub struct RuleForm {
    name: String,
    #[serde(default)]
    store: String,
    condition: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    face: String,
    #[serde(default)]
    reason: String,
    window_minutes: String,
    min_answers: String,
    pending_minutes: String,
    repeat_minutes: String,
    recipient_kind: String,
    target: String,
    #[serde(default)]
    lang: String,
}

fn bad(message: &'static str) -> WebError {
    WebError::BadRequest { message }
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, WebError> {
    s.trim()
        .parse()
        .map_err(|_| bad("A number in the rule is missing or not a number."))
}

fn spec_of(form: &RuleForm, viewer: &Viewer) -> Result<RuleSpec, WebError> {
    let stores = if form.store.trim().is_empty() {
        if !viewer.is_admin() {
            return Err(bad(
                "Choose one of your stores; only administrators make chain-wide rules.",
            ));
        }
        Vec::new()
    } else {
        let id = Uuid::try_parse(form.store.trim()).map_err(|_| WebError::NotFound)?;
        if !viewer.scope.contains(id) {
            return Err(WebError::NotFound);
        }
        vec![id]
    };
    let threshold = || number::<f64>(&form.threshold);
    let count = || number::<u64>(&form.threshold);
    let condition = match form.condition.as_str() {
        "unhappy_share_above" => Condition::UnhappyShareAbove {
            percent: threshold()?,
        },
        "happy_index_below" => Condition::HappyIndexBelow {
            value: threshold()?,
        },
        "happy_index_above" => Condition::HappyIndexAbove {
            value: threshold()?,
        },
        "face_count_above" => Condition::FaceCountAbove {
            face: number(&form.face)?,
            count: count()?,
        },
        "reason_above" => Condition::ReasonAbove {
            reason: form.reason.trim().to_owned(),
            count: count()?,
        },
        "silent_kiosk" => Condition::SilentKiosk {
            minutes: number(&form.threshold)?,
        },
        "backlog_above" => Condition::BacklogAbove { events: count()? },
        "oldest_unsent_above" => Condition::OldestUnsentAbove {
            minutes: number(&form.threshold)?,
        },
        "quarantined_above" => Condition::QuarantinedAbove { events: count()? },
        _ => return Err(bad("Choose a condition from the list.")),
    };
    let target = form.target.trim().to_owned();
    let recipient = match form.recipient_kind.as_str() {
        "webhook" => Recipient::Webhook { url: target },
        "slack" => Recipient::Slack { url: target },
        "email" => Recipient::Email {
            address: target,
            lang: if form.lang == "vi" {
                Lang::Vi
            } else {
                Lang::En
            },
        },
        _ => return Err(bad("Choose how the alert is sent.")),
    };
    let minutes = |s: &str| -> Result<u32, WebError> {
        number::<u32>(s)?
            .checked_mul(60)
            .ok_or_else(|| bad("A number in the rule is out of range."))
    };
    let spec = RuleSpec {
        name: form.name.trim().to_owned(),
        stores,
        touchpoint: None,
        condition,
        window_minutes: number(&form.window_minutes)?,
        min_answers: number(&form.min_answers)?,
        pending_seconds: minutes(&form.pending_minutes)?,
        repeat_seconds: minutes(&form.repeat_minutes)?,
        recipients: vec![recipient],
    };
    spec.validate().map_err(|e| match e {
        RuleError::Name => bad("Give the rule a name of 1 to 100 characters."),
        RuleError::Range(_) => bad("A number in the rule is out of range."),
        RuleError::Url(_) => bad("Give an http:// or https:// address."),
        RuleError::Email(_) => bad("Give a valid email address."),
        RuleError::Recipients => bad("Choose how the alert is sent."),
    })?;
    Ok(spec)
}

/// POST /alerts/rules
pub async fn add_rule(
    State(state): State<AppState>,
    viewer: Viewer,
    WebForm(form): WebForm<RuleForm>,
) -> Result<Response, WebError> {
    let spec = spec_of(&form, &viewer)?;
    let id = state.storage.create_rule(&spec).await?;
    audit::record(
        &state,
        Some(viewer.user_id),
        "alert_rule_added",
        spec.stores.first().copied(),
        Some(id.to_string()),
        "",
    )
    .await;
    Ok(Redirect::to("/alerts").into_response())
}

/// POST /alerts/rules/{rule_id}/delete
pub async fn delete_rule(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(rule_id): Path<Uuid>,
) -> Result<Response, WebError> {
    let rule = state
        .storage
        .rules()
        .await?
        .into_iter()
        .find(|r| r.id == rule_id)
        .filter(|r| may_see(&viewer, &r.spec))
        .ok_or(WebError::NotFound)?;
    if !may_edit(&viewer, &rule.spec) {
        return Err(WebError::Forbidden);
    }
    state.storage.delete_rule(rule_id).await?;
    audit::record(
        &state,
        Some(viewer.user_id),
        "alert_rule_deleted",
        rule.spec.stores.first().copied(),
        Some(rule_id.to_string()),
        "",
    )
    .await;
    let _ = crate::alerts::badge::refresh(state.storage.as_ref()).await;
    Ok(Redirect::to("/alerts").into_response())
}

/// The alert, if it is open and in the viewer's scope.
async fn open_alert(state: &AppState, viewer: &Viewer, id: Uuid) -> Result<AlertRecord, WebError> {
    state
        .storage
        .alerts(&AlertQuery {
            stores: viewer.scope.store_ids().map(<[Uuid]>::to_vec),
            open_only: true,
            limit: 1000,
        })
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(WebError::NotFound)
}

#[derive(Deserialize)]
pub struct AckForm {
    #[serde(default)]
    note: String,
}

/// POST /alerts/{alert_id}/acknowledge
pub async fn acknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(alert_id): Path<Uuid>,
    WebForm(form): WebForm<AckForm>,
) -> Result<Response, WebError> {
    let alert = open_alert(&state, &viewer, alert_id).await?;
    let note: String = form.note.trim().chars().take(500).collect();
    let note = (!note.is_empty()).then_some(note);
    state
        .storage
        .acknowledge_alert(alert.id, &viewer.email, note.as_deref(), Utc::now())
        .await?;
    audit::record(
        &state,
        Some(viewer.user_id),
        "alert_acknowledged",
        Some(alert.store_id),
        Some(alert.id.to_string()),
        "",
    )
    .await;
    let _ = crate::alerts::badge::refresh(state.storage.as_ref()).await;
    Ok(Redirect::to("/alerts").into_response())
}

/// POST /alerts/{alert_id}/close
pub async fn close(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(alert_id): Path<Uuid>,
) -> Result<Response, WebError> {
    let alert = open_alert(&state, &viewer, alert_id).await?;
    state
        .storage
        .close_alert(alert.id, &viewer.email, Utc::now())
        .await?;
    audit::record(
        &state,
        Some(viewer.user_id),
        "alert_closed",
        Some(alert.store_id),
        Some(alert.id.to_string()),
        "",
    )
    .await;
    let _ = crate::alerts::badge::refresh(state.storage.as_ref()).await;
    Ok(Redirect::to("/alerts").into_response())
}
