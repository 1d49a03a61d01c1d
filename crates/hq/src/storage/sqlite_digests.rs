//! [`DigestStore`] on SQLite, and migration 7: the outbox's `alert_id` becomes optional
//! (a digest is a delivery without an alert; SQLite cannot drop a NOT NULL in place, so
//! the table is rebuilt with its rows), digest choices, queued digests, server secrets.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

use super::alerts::NewDelivery;
use super::digests::{DigestKind, DigestPrefs, DigestStore};
use super::sqlite::{parse_uuid, ts, SqliteStorage};
use super::StorageError;

/// Migration 7, appended to SQLite's list.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE alert_deliveries_v7 (
    id TEXT PRIMARY KEY,
    alert_id TEXT REFERENCES alerts(id),
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
INSERT INTO alert_deliveries_v7 (id, alert_id, recipient, payload, created_at,
    next_attempt_at, lease_until, attempts, delivered_at, given_up_at, last_error)
    SELECT id, alert_id, recipient, payload, created_at, next_attempt_at, lease_until,
    attempts, delivered_at, given_up_at, last_error FROM alert_deliveries;
DROP TABLE alert_deliveries;
ALTER TABLE alert_deliveries_v7 RENAME TO alert_deliveries;
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE TABLE digest_prefs (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    daily INTEGER NOT NULL,
    weekly INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE digests_sent (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    period_start TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, period_start)
);
CREATE TABLE hq_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"#;

#[async_trait]
impl DigestStore for SqliteStorage {
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StorageError> {
        let (name, fresh) = (name.to_owned(), fresh.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO hq_secrets (name, value, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO NOTHING",
                params![name, fresh, ts(Utc::now())],
            )?;
            Ok(c.query_row(
                "SELECT value FROM hq_secrets WHERE name = ?1",
                [name],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn digest_prefs(&self, user_id: Uuid) -> Result<DigestPrefs, StorageError> {
        self.read(move |c| {
            let found = c
                .prepare_cached("SELECT daily, weekly FROM digest_prefs WHERE user_id = ?1")?
                .query_row([user_id.to_string()], |r| {
                    Ok(DigestPrefs {
                        daily: r.get(0)?,
                        weekly: r.get(1)?,
                    })
                })
                .optional()?;
            Ok(found.unwrap_or_default())
        })
        .await
    }

    async fn all_digest_prefs(&self) -> Result<Vec<(Uuid, DigestPrefs)>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT user_id, daily, weekly FROM digest_prefs")?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((
                    parse_uuid(&r.get::<_, String>(0)?)?,
                    DigestPrefs {
                        daily: r.get(1)?,
                        weekly: r.get(2)?,
                    },
                ));
            }
            Ok(out)
        })
        .await
    }

    async fn set_digest_prefs(
        &self,
        user_id: Uuid,
        prefs: DigestPrefs,
    ) -> Result<bool, StorageError> {
        self.write(move |c| {
            Ok(c.execute(
                "INSERT INTO digest_prefs (user_id, daily, weekly, updated_at) \
                 SELECT id, ?2, ?3, ?4 FROM users WHERE id = ?1 \
                 ON CONFLICT (user_id) DO UPDATE SET daily = excluded.daily, \
                 weekly = excluded.weekly, updated_at = excluded.updated_at",
                params![
                    user_id.to_string(),
                    prefs.daily,
                    prefs.weekly,
                    ts(Utc::now())
                ],
            )? == 1)
        })
        .await
    }

    async fn digest_queued(
        &self,
        user_id: Uuid,
        kind: DigestKind,
        period_start: NaiveDate,
    ) -> Result<bool, StorageError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM digests_sent WHERE user_id = ?1 AND kind = ?2 \
                 AND period_start = ?3",
            )?
            .query_row(
                params![user_id.to_string(), kind.as_str(), period_start.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
        .await
    }

    async fn queue_digest(
        &self,
        user_id: Uuid,
        kind: DigestKind,
        period_start: NaiveDate,
        delivery: &NewDelivery,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let d = delivery.clone();
        let recipient = serde_json::to_string(&d.recipient)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let fresh = tx.execute(
                "INSERT INTO digests_sent (user_id, kind, period_start, delivery_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![
                    user_id.to_string(),
                    kind.as_str(),
                    period_start.to_string(),
                    d.id.to_string(),
                    ts(now)
                ],
            )? == 1;
            if fresh {
                tx.execute(
                    "INSERT INTO alert_deliveries (id, alert_id, recipient, payload, created_at, \
                     next_attempt_at) VALUES (?1, NULL, ?2, ?3, ?4, ?4)",
                    params![d.id.to_string(), recipient, d.payload, ts(now)],
                )?;
            }
            tx.commit()?;
            Ok(fresh)
        })
        .await
    }
}
