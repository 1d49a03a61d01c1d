//! [`AlertStore`] on PostgreSQL. Several HQ processes may share the database: a step
//! takes a transaction-scoped advisory lock per rule and store before it reads the alert,
//! so an alert opens once and its deliveries are queued once; deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, so each is sent by one process at a time, and
//! again (same idempotency key) only after the lease of a process that died ran out.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::alerts::{
    deliveries_for, lock_key, parse_recipient, parse_spec, parse_state, row_after, state_text,
    AlertQuery, AlertRecord, AlertStore, Delivery, Observation, OutboxCounts, WindowFacts,
};
use super::analytics::Cell;
use super::{PostgresStorage, StorageError};
use crate::alerts::lifecycle::{step, Current, Step, Timing};
use crate::alerts::rule::{Rule, RuleSpec};

/// The alerts migration, appended to PostgreSQL's list. Payloads are `text`, not
/// `jsonb`, so every retry sends the same bytes the signature was made over.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE alert_rules (
    id uuid PRIMARY KEY,
    spec text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE TABLE alerts (
    id uuid PRIMARY KEY,
    rule_id uuid NOT NULL REFERENCES alert_rules(id),
    store_id uuid NOT NULL,
    state text NOT NULL,
    since timestamptz NOT NULL,
    opened_at timestamptz,
    last_sent_at timestamptz,
    clear_since timestamptz,
    detail text NOT NULL,
    acked_by text,
    acked_at timestamptz,
    ack_note text,
    closed_at timestamptz,
    closed_by text
);
CREATE UNIQUE INDEX alerts_one_live ON alerts (rule_id, store_id) WHERE state <> 'closed';
CREATE INDEX alerts_store ON alerts (store_id, since);
CREATE TABLE alert_deliveries (
    id uuid PRIMARY KEY,
    alert_id uuid NOT NULL REFERENCES alerts(id),
    recipient text NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    lease_until timestamptz,
    attempts int4 NOT NULL DEFAULT 0,
    delivered_at timestamptz,
    given_up_at timestamptz,
    last_error text
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
-- A rule's window reads ratings by store and time through ratings_store_time, which the
-- rollups migration (the one before this) creates for the comments feed.
"#;

const ALERT_COLUMNS: &str = "a.id, a.rule_id, r.spec, a.store_id, a.state, a.detail, a.opened_at, \
     a.last_sent_at, a.acked_by, a.acked_at, a.ack_note, a.closed_at, a.closed_by";

fn alert_row(r: &Row) -> Result<AlertRecord, StorageError> {
    Ok(AlertRecord {
        id: r.try_get(0)?,
        rule_id: r.try_get(1)?,
        rule_name: parse_spec(r.try_get::<_, &str>(2)?)?.name,
        store_id: r.try_get(3)?,
        state: parse_state(r.try_get::<_, &str>(4)?)?,
        detail: r.try_get(5)?,
        opened_at: r.try_get(6)?,
        last_sent_at: r.try_get(7)?,
        acknowledged_by: r.try_get(8)?,
        acknowledged_at: r.try_get(9)?,
        ack_note: r.try_get(10)?,
        closed_at: r.try_get(11)?,
        closed_by: r.try_get(12)?,
    })
}

fn spec_json(spec: &RuleSpec) -> Result<String, StorageError> {
    serde_json::to_string(spec).map_err(|e| StorageError::Corrupt(format!("alert rule: {e}")))
}

#[async_trait]
impl AlertStore for PostgresStorage {
    async fn create_rule(&self, spec: &RuleSpec) -> Result<Uuid, StorageError> {
        let json = spec_json(spec)?;
        let id = Uuid::now_v7();
        self.client()
            .await?
            .execute(
                "INSERT INTO alert_rules (id, spec) VALUES ($1, $2)",
                &[&id, &json],
            )
            .await?;
        Ok(id)
    }

    async fn update_rule(&self, id: Uuid, spec: &RuleSpec) -> Result<bool, StorageError> {
        let json = spec_json(spec)?;
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE alert_rules SET spec = $1 WHERE id = $2 AND deleted_at IS NULL",
                &[&json, &id],
            )
            .await?
            == 1)
    }

    async fn delete_rule(&self, id: Uuid) -> Result<bool, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE alert_rules SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
                &[&id],
            )
            .await?;
        tx.execute(
            "DELETE FROM alerts WHERE rule_id = $1 AND state = 'pending'",
            &[&id],
        )
        .await?;
        tx.execute(
            "UPDATE alerts SET state = 'closed', closed_at = now(), closed_by = 'rule deleted' \
             WHERE rule_id = $1 AND state <> 'closed'",
            &[&id],
        )
        .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn rules(&self) -> Result<Vec<Rule>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, spec FROM alert_rules WHERE deleted_at IS NULL ORDER BY id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Rule {
                    id: r.try_get(0)?,
                    spec: parse_spec(r.try_get::<_, &str>(1)?)?,
                })
            })
            .collect()
    }

    async fn window_facts(
        &self,
        store_id: Uuid,
        since: DateTime<Utc>,
        touchpoint: Option<&str>,
    ) -> Result<WindowFacts, StorageError> {
        let client = self.client().await?;
        let filter = "r.store_id = $1 AND r.occurred_at >= $2 AND NOT r.suspected_repeat \
                      AND ($3::text IS NULL OR r.touchpoint = $3)";
        let args: [&(dyn ToSql + Sync); 3] = [&store_id, &since, &touchpoint];
        let mut facts = WindowFacts::default();
        let stmt = client
            .prepare_cached(&format!(
                "SELECT r.scale, r.score, COUNT(*) FROM ratings r WHERE {filter} \
                 GROUP BY r.scale, r.score"
            ))
            .await?;
        for r in client.query(&stmt, &args).await? {
            let (scale, score, n): (i32, i32, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            facts.sums.add(
                scale as u8,
                score as u8,
                Cell {
                    n: n as u64,
                    ..Cell::default()
                },
            );
        }
        let stmt = client
            .prepare_cached(&format!(
                "SELECT rr.reason, COUNT(*) FROM rating_reasons rr \
                 JOIN ratings r ON r.id = rr.rating_id WHERE {filter} GROUP BY rr.reason"
            ))
            .await?;
        for r in client.query(&stmt, &args).await? {
            let n: i64 = r.try_get(1)?;
            facts.reasons.push((r.try_get(0)?, n as u64));
        }
        Ok(facts)
    }

    async fn step_alert(
        &self,
        obs: &Observation,
        now: DateTime<Utc>,
    ) -> Result<Step, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key(obs.rule.id, obs.store_id)],
        )
        .await?;
        let found = tx
            .query_opt(
                "SELECT id, state, since, opened_at, last_sent_at, clear_since FROM alerts \
                 WHERE rule_id = $1 AND store_id = $2 AND state <> 'closed'",
                &[&obs.rule.id, &obs.store_id],
            )
            .await?;
        let cur = match found {
            None => None,
            Some(r) => Some((
                r.try_get::<_, Uuid>(0)?,
                Current {
                    state: parse_state(r.try_get::<_, &str>(1)?)?,
                    since: r.try_get(2)?,
                    opened_at: r.try_get(3)?,
                    last_sent_at: r.try_get(4)?,
                    clear_since: r.try_get(5)?,
                },
            )),
        };
        let decided = step(
            cur.as_ref().map(|(_, c)| c),
            obs.holds,
            Timing::of(&obs.rule.spec),
            now,
        );
        match (decided, &cur) {
            (Step::Nothing, _) => return Ok(decided),
            (Step::DropPending, Some((id, _))) => {
                tx.execute("DELETE FROM alerts WHERE id = $1", &[id])
                    .await?;
            }
            _ => {}
        }
        let alert_id = cur.as_ref().map_or_else(Uuid::now_v7, |(id, _)| *id);
        if let Some(after) = row_after(cur.as_ref().map(|(_, c)| c), &decided, now) {
            if cur.is_none() {
                tx.execute(
                    "INSERT INTO alerts (id, rule_id, store_id, state, since, opened_at, \
                     last_sent_at, clear_since, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &alert_id,
                        &obs.rule.id,
                        &obs.store_id,
                        &state_text(after.state),
                        &after.since,
                        &after.opened_at,
                        &after.last_sent_at,
                        &after.clear_since,
                        &obs.detail,
                    ],
                )
                .await?;
            } else {
                tx.execute(
                    "UPDATE alerts SET state = $2, since = $3, opened_at = $4, \
                     last_sent_at = $5, clear_since = $6, closed_at = $7, \
                     detail = CASE WHEN $8 THEN $9 ELSE detail END WHERE id = $1",
                    &[
                        &alert_id,
                        &state_text(after.state),
                        &after.since,
                        &after.opened_at,
                        &after.last_sent_at,
                        &after.clear_since,
                        &after.closed_at,
                        &matches!(decided, Step::Open | Step::Repeat),
                        &obs.detail,
                    ],
                )
                .await?;
            }
        }
        let deliveries = deliveries_for(obs, alert_id, &decided, now);
        if !deliveries.is_empty() {
            let insert = tx
                .prepare_cached(
                    "INSERT INTO alert_deliveries (id, alert_id, recipient, payload, \
                     created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .await?;
            for d in deliveries {
                let recipient = serde_json::to_string(&d.recipient)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                tx.execute(&insert, &[&d.id, &alert_id, &recipient, &d.payload, &now])
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(decided)
    }

    async fn acknowledge_alert(
        &self,
        id: Uuid,
        by: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE alerts SET state = 'acknowledged', acked_by = $2, acked_at = $3, \
                 ack_note = $4 WHERE id = $1 AND state = 'open'",
                &[&id, &by, &now, &note],
            )
            .await?
            == 1)
    }

    async fn close_alert(
        &self,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE alerts SET state = 'closed', closed_by = $2, closed_at = $3 \
                 WHERE id = $1 AND state IN ('open', 'acknowledged')",
                &[&id, &by, &now],
            )
            .await?
            == 1)
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRecord>, StorageError> {
        let client = self.client().await?;
        let mut sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
             WHERE a.state <> 'pending' AND ($1::uuid[] IS NULL OR a.store_id = ANY($1))"
        );
        if query.open_only {
            sql.push_str(" AND a.state IN ('open', 'acknowledged')");
        }
        sql.push_str(&format!(
            " ORDER BY a.since DESC, a.id DESC LIMIT {}",
            query.limit.clamp(1, 1000)
        ));
        let stores: Option<&[Uuid]> = query.stores.as_deref();
        client
            .query(&sql, &[&stores])
            .await?
            .iter()
            .map(alert_row)
            .collect()
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE alert_deliveries SET lease_until = $1, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM alert_deliveries WHERE delivered_at IS NULL \
                 AND given_up_at IS NULL AND next_attempt_at <= $2 \
                 AND (lease_until IS NULL OR lease_until <= $2) \
                 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, alert_id, recipient, payload, attempts",
                &[&lease_until, &now, &(limit as i64)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get(0)?,
                    alert_id: r.try_get(1)?,
                    recipient: parse_recipient(r.try_get::<_, &str>(2)?)?,
                    payload: r.try_get(3)?,
                    attempts: r.try_get::<_, i32>(4)? as u32,
                })
            })
            .collect()
    }

    async fn delivery_succeeded(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "UPDATE alert_deliveries SET delivered_at = $2, lease_until = NULL, \
                 last_error = NULL WHERE id = $1",
                &[&id, &now],
            )
            .await?;
        Ok(())
    }

    async fn delivery_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StorageError> {
        let error: String = error.chars().take(500).collect();
        let client = self.client().await?;
        match retry_at {
            Some(at) => {
                client
                    .execute(
                        "UPDATE alert_deliveries SET last_error = $2, lease_until = NULL, \
                         next_attempt_at = $3 WHERE id = $1",
                        &[&id, &error, &at],
                    )
                    .await?
            }
            None => {
                client
                    .execute(
                        "UPDATE alert_deliveries SET last_error = $2, lease_until = NULL, \
                         given_up_at = now() WHERE id = $1",
                        &[&id, &error],
                    )
                    .await?
            }
        };
        Ok(())
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StorageError> {
        let r = self
            .client()
            .await?
            .query_one(
                "SELECT \
                 COUNT(*) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL), \
                 COUNT(*) FILTER (WHERE delivered_at IS NOT NULL), \
                 COUNT(*) FILTER (WHERE given_up_at IS NOT NULL) FROM alert_deliveries",
                &[],
            )
            .await?;
        let (p, d, g): (i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        Ok(OutboxCounts {
            pending: p as u64,
            delivered: d as u64,
            given_up: g as u64,
        })
    }
}
