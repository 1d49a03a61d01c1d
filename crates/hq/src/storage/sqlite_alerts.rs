//! [`AlertStore`] on SQLite: rules, alerts and the delivery outbox in the same file,
//! through [`SqliteStorage`]'s single writer, so a step and its deliveries commit together
//! (SQLite serves one HQ process; PostgreSQL is for several).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::alerts::{
    deliveries_for, parse_recipient, parse_spec, parse_state, row_after, state_text, AlertQuery,
    AlertRecord, AlertStore, Delivery, Observation, OutboxCounts, WindowFacts,
};
use super::analytics::Cell;
use super::sqlite::{parse_time, parse_uuid, ts, SqliteStorage};
use super::StorageError;
use crate::alerts::lifecycle::{step, Current, Step, Timing};
use crate::alerts::rule::{Rule, RuleSpec};

/// The alerts migration, appended to SQLite's list.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL REFERENCES alert_rules(id),
    store_id TEXT NOT NULL,
    state TEXT NOT NULL,
    since TEXT NOT NULL,
    opened_at TEXT,
    last_sent_at TEXT,
    clear_since TEXT,
    detail TEXT NOT NULL,
    acked_by TEXT,
    acked_at TEXT,
    ack_note TEXT,
    closed_at TEXT,
    closed_by TEXT
);
CREATE UNIQUE INDEX alerts_one_live ON alerts (rule_id, store_id) WHERE state <> 'closed';
CREATE INDEX alerts_store ON alerts (store_id, since);
CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    recipient TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at TEXT,
    given_up_at TEXT,
    last_error TEXT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
-- A rule's window reads ratings by store and time through ratings_store_time, which the
-- rollups migration (the one before this) creates for the comments feed.
"#;

fn opt_time(s: Option<String>) -> Result<Option<DateTime<Utc>>, StorageError> {
    s.as_deref().map(parse_time).transpose()
}

const ALERT_COLUMNS: &str = "a.id, a.rule_id, r.spec, a.store_id, a.state, a.detail, a.opened_at, \
     a.last_sent_at, a.acked_by, a.acked_at, a.ack_note, a.closed_at, a.closed_by";

fn alert_row(r: &rusqlite::Row<'_>) -> Result<AlertRecord, StorageError> {
    Ok(AlertRecord {
        id: parse_uuid(&r.get::<_, String>(0)?)?,
        rule_id: parse_uuid(&r.get::<_, String>(1)?)?,
        rule_name: parse_spec(&r.get::<_, String>(2)?)?.name,
        store_id: parse_uuid(&r.get::<_, String>(3)?)?,
        state: parse_state(&r.get::<_, String>(4)?)?,
        detail: r.get(5)?,
        opened_at: opt_time(r.get(6)?)?,
        last_sent_at: opt_time(r.get(7)?)?,
        acknowledged_by: r.get(8)?,
        acknowledged_at: opt_time(r.get(9)?)?,
        ack_note: r.get(10)?,
        closed_at: opt_time(r.get(11)?)?,
        closed_by: r.get(12)?,
    })
}

fn spec_json(spec: &RuleSpec) -> Result<String, StorageError> {
    serde_json::to_string(spec).map_err(|e| StorageError::Corrupt(format!("alert rule: {e}")))
}

#[async_trait]
impl AlertStore for SqliteStorage {
    async fn create_rule(&self, spec: &RuleSpec) -> Result<Uuid, StorageError> {
        let json = spec_json(spec)?;
        let id = Uuid::now_v7();
        self.write(move |c| {
            c.execute(
                "INSERT INTO alert_rules (id, spec, created_at) VALUES (?1, ?2, ?3)",
                params![id.to_string(), json, ts(Utc::now())],
            )?;
            Ok(id)
        })
        .await
    }

    async fn update_rule(&self, id: Uuid, spec: &RuleSpec) -> Result<bool, StorageError> {
        let json = spec_json(spec)?;
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE alert_rules SET spec = ?1 WHERE id = ?2 AND deleted_at IS NULL",
                params![json, id.to_string()],
            )? == 1)
        })
        .await
    }

    async fn delete_rule(&self, id: Uuid) -> Result<bool, StorageError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let now = ts(Utc::now());
            let n = tx.execute(
                "UPDATE alert_rules SET deleted_at = ?1 WHERE id = ?2 AND deleted_at IS NULL",
                params![now, id.to_string()],
            )?;
            tx.execute(
                "DELETE FROM alerts WHERE rule_id = ?1 AND state = 'pending'",
                [id.to_string()],
            )?;
            tx.execute(
                "UPDATE alerts SET state = 'closed', closed_at = ?1, closed_by = 'rule deleted' \
                 WHERE rule_id = ?2 AND state <> 'closed'",
                params![now, id.to_string()],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn rules(&self) -> Result<Vec<Rule>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, spec FROM alert_rules WHERE deleted_at IS NULL ORDER BY id",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, spec) = row?;
                out.push(Rule {
                    id: parse_uuid(&id)?,
                    spec: parse_spec(&spec)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn window_facts(
        &self,
        store_id: Uuid,
        since: DateTime<Utc>,
        touchpoint: Option<&str>,
    ) -> Result<WindowFacts, StorageError> {
        let touchpoint = touchpoint.map(str::to_owned);
        self.read(move |c| {
            let tp = if touchpoint.is_some() {
                " AND r.touchpoint = ?3"
            } else {
                ""
            };
            let mut args: Vec<Value> = vec![store_id.to_string().into(), ts(since).into()];
            if let Some(t) = touchpoint {
                args.push(t.into());
            }
            let filter =
                format!("r.store_id = ?1 AND r.occurred_at >= ?2 AND NOT r.suspected_repeat{tp}");
            let mut facts = WindowFacts::default();
            let mut stmt = c.prepare_cached(&format!(
                "SELECT r.scale, r.score, COUNT(*) FROM ratings r WHERE {filter} \
                 GROUP BY r.scale, r.score"
            ))?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            while let Some(r) = rows.next()? {
                let n: i64 = r.get(2)?;
                facts.sums.add(
                    r.get(0)?,
                    r.get(1)?,
                    Cell {
                        n: n as u64,
                        ..Cell::default()
                    },
                );
            }
            let mut stmt = c.prepare_cached(&format!(
                "SELECT rr.reason, COUNT(*) FROM rating_reasons rr \
                 JOIN ratings r ON r.id = rr.rating_id WHERE {filter} GROUP BY rr.reason"
            ))?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            while let Some(r) = rows.next()? {
                let n: i64 = r.get(1)?;
                facts.reasons.push((r.get(0)?, n as u64));
            }
            Ok(facts)
        })
        .await
    }

    async fn step_alert(
        &self,
        obs: &Observation,
        now: DateTime<Utc>,
    ) -> Result<Step, StorageError> {
        let obs = obs.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (rule, store) = (obs.rule.id.to_string(), obs.store_id.to_string());
            let found = tx
                .prepare_cached(
                    "SELECT id, state, since, opened_at, last_sent_at, clear_since FROM alerts \
                     WHERE rule_id = ?1 AND store_id = ?2 AND state <> 'closed'",
                )?
                .query_row(params![rule, store], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                })
                .optional()?;
            let cur = match found {
                None => None,
                Some((id, state, since, opened, sent, clear)) => Some((
                    parse_uuid(&id)?,
                    Current {
                        state: parse_state(&state)?,
                        since: parse_time(&since)?,
                        opened_at: opt_time(opened)?,
                        last_sent_at: opt_time(sent)?,
                        clear_since: opt_time(clear)?,
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
                    tx.execute("DELETE FROM alerts WHERE id = ?1", [id.to_string()])?;
                }
                _ => {}
            }
            let alert_id = cur.as_ref().map_or_else(Uuid::now_v7, |(id, _)| *id);
            if let Some(after) = row_after(cur.as_ref().map(|(_, c)| c), &decided, now) {
                let t = |v: Option<DateTime<Utc>>| v.map(ts);
                if cur.is_none() {
                    tx.execute(
                        "INSERT INTO alerts (id, rule_id, store_id, state, since, opened_at, \
                         last_sent_at, clear_since, detail) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![
                            alert_id.to_string(),
                            rule,
                            store,
                            state_text(after.state),
                            ts(after.since),
                            t(after.opened_at),
                            t(after.last_sent_at),
                            t(after.clear_since),
                            obs.detail
                        ],
                    )?;
                } else {
                    tx.execute(
                        "UPDATE alerts SET state = ?2, since = ?3, opened_at = ?4, \
                         last_sent_at = ?5, clear_since = ?6, closed_at = ?7, \
                         detail = CASE WHEN ?8 THEN ?9 ELSE detail END WHERE id = ?1",
                        params![
                            alert_id.to_string(),
                            state_text(after.state),
                            ts(after.since),
                            t(after.opened_at),
                            t(after.last_sent_at),
                            t(after.clear_since),
                            t(after.closed_at),
                            matches!(decided, Step::Open | Step::Repeat),
                            obs.detail
                        ],
                    )?;
                }
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO alert_deliveries (id, alert_id, recipient, payload, created_at, \
                 next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for d in deliveries_for(&obs, alert_id, &decided, now) {
                let recipient = serde_json::to_string(&d.recipient)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                insert.execute(params![
                    d.id.to_string(),
                    alert_id.to_string(),
                    recipient,
                    d.payload,
                    ts(now)
                ])?;
            }
            drop(insert);
            tx.commit()?;
            Ok(decided)
        })
        .await
    }

    async fn acknowledge_alert(
        &self,
        id: Uuid,
        by: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let (by, note) = (by.to_owned(), note.map(str::to_owned));
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE alerts SET state = 'acknowledged', acked_by = ?2, acked_at = ?3, \
                 ack_note = ?4 WHERE id = ?1 AND state = 'open'",
                params![id.to_string(), by, ts(now), note],
            )? == 1)
        })
        .await
    }

    async fn close_alert(
        &self,
        id: Uuid,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let by = by.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE alerts SET state = 'closed', closed_by = ?2, closed_at = ?3 \
                 WHERE id = ?1 AND state IN ('open', 'acknowledged')",
                params![id.to_string(), by, ts(now)],
            )? == 1)
        })
        .await
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRecord>, StorageError> {
        let q = query.clone();
        self.read(move |c| {
            let mut sql = format!(
                "SELECT {ALERT_COLUMNS} FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
                 WHERE a.state <> 'pending'"
            );
            if q.open_only {
                sql.push_str(" AND a.state IN ('open', 'acknowledged')");
            }
            let mut args: Vec<Value> = Vec::new();
            if let Some(stores) = &q.stores {
                let list: Vec<String> = stores.iter().map(Uuid::to_string).collect();
                args.push(serde_json::Value::from(list).to_string().into());
                sql.push_str(" AND a.store_id IN (SELECT value FROM json_each(?1))");
            }
            sql.push_str(&format!(
                " ORDER BY a.since DESC, a.id DESC LIMIT {}",
                q.limit.clamp(1, 1000)
            ));
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(alert_row(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        self.write(move |c| {
            let mut stmt = c.prepare_cached(
                "UPDATE alert_deliveries SET lease_until = ?1, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM alert_deliveries WHERE delivered_at IS NULL \
                 AND given_up_at IS NULL AND next_attempt_at <= ?2 \
                 AND (lease_until IS NULL OR lease_until <= ?2) \
                 ORDER BY next_attempt_at LIMIT ?3) \
                 RETURNING id, alert_id, recipient, payload, attempts",
            )?;
            let mut rows = stmt.query(params![ts(lease_until), ts(now), limit as i64])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(Delivery {
                    id: parse_uuid(&r.get::<_, String>(0)?)?,
                    alert_id: r
                        .get::<_, Option<String>>(1)?
                        .as_deref()
                        .map(parse_uuid)
                        .transpose()?,
                    recipient: parse_recipient(&r.get::<_, String>(2)?)?,
                    payload: r.get(3)?,
                    attempts: r.get(4)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delivery_succeeded(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.write(move |c| {
            c.execute(
                "UPDATE alert_deliveries SET delivered_at = ?2, lease_until = NULL, \
                 last_error = NULL WHERE id = ?1",
                params![id.to_string(), ts(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn delivery_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StorageError> {
        let error: String = error.chars().take(500).collect();
        self.write(move |c| {
            match retry_at {
                Some(at) => c.execute(
                    "UPDATE alert_deliveries SET last_error = ?2, lease_until = NULL, \
                     next_attempt_at = ?3 WHERE id = ?1",
                    params![id.to_string(), error, ts(at)],
                )?,
                None => c.execute(
                    "UPDATE alert_deliveries SET last_error = ?2, lease_until = NULL, \
                     given_up_at = ?3 WHERE id = ?1",
                    params![id.to_string(), error, ts(Utc::now())],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StorageError> {
        self.read(|c| {
            let (p, d, g): (i64, i64, i64) = c.query_row(
                "SELECT \
                 COALESCE(SUM(CASE WHEN delivered_at IS NULL AND given_up_at IS NULL THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN given_up_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
                 FROM alert_deliveries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(OutboxCounts {
                pending: p as u64,
                delivered: d as u64,
                given_up: g as u64,
            })
        })
        .await
    }
}
