//! What alerts (issue 11) ask of a database: rules, alerts with their lifecycle, and the
//! durable delivery outbox, as one trait ([`AlertStore`]) both backends implement. The
//! lifecycle decision itself is backend-neutral ([`crate::alerts::lifecycle::step`]);
//! each backend reads the current alert, applies the decided step and writes its
//! deliveries in one transaction, under a per-(rule, store) lock on PostgreSQL, so an
//! alert opens once and each change is queued once, whatever number of HQ processes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::analytics::Sums;
use super::StorageError;
use crate::alerts::lifecycle::{AlertState, Current, Step};
use crate::alerts::rule::{Recipient, Rule, RuleSpec};

/// Ratings of one store since a time: their sums, and how often each reason was picked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowFacts {
    pub sums: Sums,
    pub reasons: Vec<(String, u64)>,
}

/// What one evaluation found for one rule and one store.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub rule: Rule,
    pub store_id: Uuid,
    pub store_name: String,
    pub holds: bool,
    /// What was measured, in words, for the alert and its messages (no personal data).
    pub detail: String,
}

/// An alert as the pages and tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: Uuid,
    pub rule_id: Uuid,
    pub rule_name: String,
    pub store_id: Uuid,
    pub state: AlertState,
    pub detail: String,
    pub opened_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub ack_note: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only these stores; all when `None`.
    pub stores: Option<Vec<Uuid>>,
    /// Only open or acknowledged ones (not pending, not closed).
    pub open_only: bool,
    pub limit: usize,
}

/// A delivery claimed for sending: its id is the idempotency key, the same on every
/// attempt, and its body the exact bytes every attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    /// `None` for a digest ([`super::digests`]), which belongs to no alert.
    pub alert_id: Option<Uuid>,
    pub recipient: Recipient,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// A delivery queued in the alert's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: Uuid,
    pub recipient: Recipient,
    pub payload: String,
}

/// Where the outbox stands, for tests and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub given_up: u64,
}

/// The deliveries one step queues: one per recipient, for an alert that opens, repeats
/// or closes. The payload is fixed here, once, so a retry sends the same bytes (and the
/// same signature).
pub fn deliveries_for(
    obs: &Observation,
    alert_id: Uuid,
    step: &Step,
    now: DateTime<Utc>,
) -> Vec<NewDelivery> {
    let event = match step {
        Step::Open => "alert.opened",
        Step::Repeat => "alert.repeated",
        Step::Close => "alert.closed",
        _ => return Vec::new(),
    };
    obs.rule
        .spec
        .recipients
        .iter()
        .map(|recipient| {
            let id = Uuid::now_v7();
            let payload = serde_json::json!({
                "idempotency_key": id,
                "event": event,
                "alert_id": alert_id,
                "rule_id": obs.rule.id,
                "rule_name": obs.rule.spec.name,
                "condition": obs.rule.spec.condition.describe(),
                "store_id": obs.store_id,
                "store_name": obs.store_name,
                "detail": obs.detail,
                "at": now,
            })
            .to_string();
            NewDelivery {
                id,
                recipient: recipient.clone(),
                payload,
            }
        })
        .collect()
}

/// A PostgreSQL advisory lock key for one rule and store.
pub(crate) fn lock_key(rule_id: Uuid, store_id: Uuid) -> i64 {
    let (a, b) = (rule_id.as_u64_pair(), store_id.as_u64_pair());
    (a.0 ^ a.1.rotate_left(17) ^ b.0.rotate_left(31) ^ b.1.rotate_left(47)) as i64
}

/// The stored text of a state.
pub(crate) fn state_text(s: AlertState) -> &'static str {
    s.as_str()
}

pub(crate) fn parse_state(s: &str) -> Result<AlertState, StorageError> {
    s.parse()
        .map_err(|_| StorageError::Corrupt(format!("alert state {s:?}")))
}

pub(crate) fn parse_spec(s: &str) -> Result<RuleSpec, StorageError> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("alert rule: {e}")))
}

pub(crate) fn parse_recipient(s: &str) -> Result<Recipient, StorageError> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("recipient: {e}")))
}

/// How long to wait before attempt `attempts + 1`: doubling from `base`, at most an hour.
pub fn backoff(base: std::time::Duration, attempts: u32) -> chrono::Duration {
    let factor = 1u32 << attempts.min(16);
    let wait = base
        .saturating_mul(factor)
        .min(std::time::Duration::from_secs(3600));
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

/// After this many failed attempts a delivery is given up (and shown as such).
pub const MAX_ATTEMPTS: u32 = 25;

/// Alerts on a database, on both backends.
#[async_trait]
pub trait AlertStore: Send + Sync {
    async fn create_rule(&self, spec: &RuleSpec) -> Result<Uuid, StorageError>;
    async fn update_rule(&self, id: Uuid, spec: &RuleSpec) -> Result<bool, StorageError>;
    /// Deleting a rule closes its alerts (their history stays).
    async fn delete_rule(&self, id: Uuid) -> Result<bool, StorageError>;
    async fn rules(&self) -> Result<Vec<Rule>, StorageError>;
    /// A store's ratings that happened at or after `since`, of one touchpoint when given,
    /// suspected repeats left out.
    async fn window_facts(
        &self,
        store_id: Uuid,
        since: DateTime<Utc>,
        touchpoint: Option<&str>,
    ) -> Result<WindowFacts, StorageError>;
    /// Decide and apply one lifecycle step for the observation's rule and store, and queue
    /// its deliveries, in one transaction. Returns the step taken.
    async fn step_alert(&self, obs: &Observation, now: DateTime<Utc>)
        -> Result<Step, StorageError>;
    /// Returns false when the alert is not open (or does not exist).
    async fn acknowledge_alert(
        &self,
        id: Uuid,
        by: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
    /// Close by hand; returns false when the alert is not open.
    async fn close_alert(
        &self,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRecord>, StorageError>;
    /// Take up to `limit` deliveries that are due and not leased by another process,
    /// leasing them until `lease_until`.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError>;
    async fn delivery_succeeded(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError>;
    /// Record a failed attempt: retry at `retry_at`, or give up when `None`.
    async fn delivery_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StorageError>;
    async fn outbox_counts(&self) -> Result<OutboxCounts, StorageError>;
}

/// The decided step applied to a current row: what the row looks like afterwards.
/// Shared by both backends so their writes agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowAfter {
    pub state: AlertState,
    pub since: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub clear_since: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// `None` when the step deletes the row (a pending condition that cleared) or leaves
/// nothing to write.
pub(crate) fn row_after(
    cur: Option<&Current>,
    step: &Step,
    now: DateTime<Utc>,
) -> Option<RowAfter> {
    let base = cur.map(|c| RowAfter {
        state: c.state,
        since: c.since,
        opened_at: c.opened_at,
        last_sent_at: c.last_sent_at,
        clear_since: c.clear_since,
        closed_at: None,
    });
    match step {
        Step::Nothing | Step::DropPending => None,
        Step::StartPending => Some(RowAfter {
            state: AlertState::Pending,
            since: now,
            opened_at: None,
            last_sent_at: None,
            clear_since: None,
            closed_at: None,
        }),
        Step::Open => Some(RowAfter {
            state: AlertState::Open,
            since: base.as_ref().map_or(now, |b| b.since),
            opened_at: Some(now),
            last_sent_at: Some(now),
            clear_since: None,
            closed_at: None,
        }),
        Step::Repeat => base.map(|b| RowAfter {
            last_sent_at: Some(now),
            clear_since: None,
            ..b
        }),
        Step::StartClearing => base.map(|b| RowAfter {
            clear_since: Some(now),
            ..b
        }),
        Step::StopClearing => base.map(|b| RowAfter {
            clear_since: None,
            ..b
        }),
        Step::Close => base.map(|b| RowAfter {
            state: AlertState::Closed,
            closed_at: Some(now),
            ..b
        }),
    }
}
