//! [`DigestStore`] on PostgreSQL, and migration 8. Two HQ processes that build the same
//! digest at once both try to insert its (account, kind, period) row: the unique key
//! makes the second wait for the first's commit and then insert nothing, so only one
//! delivery is queued.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::alerts::NewDelivery;
use super::digests::{DigestKind, DigestPrefs, DigestStore};
use super::{PostgresStorage, StorageError};

/// Migration 8, appended to PostgreSQL's list.
pub(super) const MIGRATION: &str = r#"
-- A digest is a delivery without an alert.
ALTER TABLE alert_deliveries ALTER COLUMN alert_id DROP NOT NULL;
CREATE TABLE digest_prefs (
    user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    daily boolean NOT NULL,
    weekly boolean NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE digests_sent (
    user_id uuid NOT NULL,
    kind text NOT NULL,
    period_start date NOT NULL,
    delivery_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, kind, period_start)
);
CREATE TABLE hq_secrets (
    name text PRIMARY KEY,
    value text NOT NULL,
    created_at timestamptz NOT NULL
);
"#;

#[async_trait]
impl DigestStore for PostgresStorage {
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StorageError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO hq_secrets (name, value, created_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &fresh],
            )
            .await?;
        let row = client
            .query_one("SELECT value FROM hq_secrets WHERE name = $1", &[&name])
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn digest_prefs(&self, user_id: Uuid) -> Result<DigestPrefs, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT daily, weekly FROM digest_prefs WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        match row {
            None => Ok(DigestPrefs::default()),
            Some(r) => Ok(DigestPrefs {
                daily: r.try_get(0)?,
                weekly: r.try_get(1)?,
            }),
        }
    }

    async fn all_digest_prefs(&self) -> Result<Vec<(Uuid, DigestPrefs)>, StorageError> {
        let rows = self
            .client()
            .await?
            .query("SELECT user_id, daily, weekly FROM digest_prefs", &[])
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    DigestPrefs {
                        daily: r.try_get(1)?,
                        weekly: r.try_get(2)?,
                    },
                ))
            })
            .collect()
    }

    async fn set_digest_prefs(
        &self,
        user_id: Uuid,
        prefs: DigestPrefs,
    ) -> Result<bool, StorageError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO digest_prefs (user_id, daily, weekly, updated_at) \
                 SELECT id, $2, $3, now() FROM users WHERE id = $1 \
                 ON CONFLICT (user_id) DO UPDATE SET daily = excluded.daily, \
                 weekly = excluded.weekly, updated_at = excluded.updated_at",
                &[&user_id, &prefs.daily, &prefs.weekly],
            )
            .await?;
        Ok(n == 1)
    }

    async fn digest_queued(
        &self,
        user_id: Uuid,
        kind: DigestKind,
        period_start: NaiveDate,
    ) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT 1 FROM digests_sent WHERE user_id = $1 AND kind = $2 \
                 AND period_start = $3",
                &[&user_id, &kind.as_str(), &period_start],
            )
            .await?
            .is_some())
    }

    async fn queue_digest(
        &self,
        user_id: Uuid,
        kind: DigestKind,
        period_start: NaiveDate,
        delivery: &NewDelivery,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let recipient = serde_json::to_string(&delivery.recipient)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let fresh = tx
            .execute(
                "INSERT INTO digests_sent (user_id, kind, period_start, delivery_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&user_id, &kind.as_str(), &period_start, &delivery.id, &now],
            )
            .await?
            == 1;
        if fresh {
            tx.execute(
                "INSERT INTO alert_deliveries (id, alert_id, recipient, payload, created_at, \
                 next_attempt_at) VALUES ($1, NULL, $2, $3, $4, $4)",
                &[&delivery.id, &recipient, &delivery.payload, &now],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(fresh)
    }
}
