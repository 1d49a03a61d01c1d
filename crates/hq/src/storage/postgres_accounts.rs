//! [`Accounts`] on PostgreSQL. Sessions live in the shared database, so a session made by
//! one HQ process works on every other one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::accounts::{
    Accounts, AuditEntry, AuditQuery, AuditRecord, Role, SessionRow, StoreSummary, UserRecord,
};
use super::postgres::PostgresStorage;
use super::StorageError;

/// The accounts migration, appended to PostgreSQL's list.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    role text NOT NULL,
    password_hash text,
    disabled boolean NOT NULL DEFAULT false,
    lang text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE user_stores (
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    store_id uuid NOT NULL REFERENCES stores(id),
    PRIMARY KEY (user_id, store_id)
);
CREATE TABLE password_links (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE TABLE web_sessions (
    id_hash text PRIMARY KEY,
    data text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE TABLE audit_log (
    seq bigserial PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid,
    action text NOT NULL,
    store_id uuid,
    target text,
    detail text NOT NULL
);
CREATE INDEX audit_log_store ON audit_log (store_id, seq);
"#;

const USER_SELECT: &str = "SELECT u.id, u.email, u.role, u.password_hash, u.disabled, u.lang, \
     u.created_at, COALESCE((SELECT array_agg(s.store_id) FROM user_stores s \
     WHERE s.user_id = u.id), '{}') FROM users u";

fn user_row(r: &Row) -> Result<UserRecord, StorageError> {
    let role: String = r.get(2);
    Ok(UserRecord {
        id: r.get(0),
        email: r.get(1),
        role: role.parse().map_err(StorageError::Corrupt)?,
        password_hash: r.get(3),
        disabled: r.get(4),
        lang: r.get(5),
        created_at: r.get(6),
        stores: r.get(7),
    })
}

async fn set_stores(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    stores: &[Uuid],
) -> Result<(), StorageError> {
    tx.execute("DELETE FROM user_stores WHERE user_id = $1", &[&user])
        .await?;
    for store in stores {
        if tx
            .query_opt("SELECT 1 FROM stores WHERE id = $1", &[store])
            .await?
            .is_none()
        {
            return Err(StorageError::NoSuchStore(*store));
        }
        tx.execute(
            "INSERT INTO user_stores (user_id, store_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user, store],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Accounts for PostgresStorage {
    async fn store_list(&self) -> Result<Vec<StoreSummary>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, name, timezone FROM stores ORDER BY name, id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoreSummary {
                id: r.get(0),
                name: r.get(1),
                timezone: r.get(2),
            })
            .collect())
    }

    async fn create_user(
        &self,
        email: &str,
        role: Role,
        stores: &[Uuid],
        password_hash: Option<&str>,
    ) -> Result<Option<Uuid>, StorageError> {
        let email = email.trim().to_lowercase();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = Uuid::now_v7();
        let n = tx
            .execute(
                "INSERT INTO users (id, email, role, password_hash) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (email) DO NOTHING",
                &[&id, &email, &role.as_str(), &password_hash],
            )
            .await?;
        if n == 0 {
            return Ok(None);
        }
        set_stores(&tx, id, stores).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StorageError> {
        self.client()
            .await?
            .query_opt(&format!("{USER_SELECT} WHERE u.id = $1"), &[&id])
            .await?
            .map(|r| user_row(&r))
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StorageError> {
        let email = email.trim().to_lowercase();
        self.client()
            .await?
            .query_opt(&format!("{USER_SELECT} WHERE u.email = $1"), &[&email])
            .await?
            .map(|r| user_row(&r))
            .transpose()
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StorageError> {
        self.client()
            .await?
            .query(&format!("{USER_SELECT} ORDER BY u.email"), &[])
            .await?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn update_user(
        &self,
        id: Uuid,
        role: Role,
        stores: &[Uuid],
    ) -> Result<bool, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET role = $2 WHERE id = $1",
                &[&id, &role.as_str()],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        set_stores(&tx, id, stores).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_user_disabled(&self, id: Uuid, disabled: bool) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE users SET disabled = $2 WHERE id = $1",
                &[&id, &disabled],
            )
            .await?
            == 1)
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&id, &hash],
            )
            .await?
            == 1)
    }

    async fn set_user_lang(&self, id: Uuid, lang: &str) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .execute("UPDATE users SET lang = $2 WHERE id = $1", &[&id, &lang])
            .await?
            == 1)
    }

    async fn create_password_link(
        &self,
        user_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO password_links (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
                &[&token_hash, &user_id, &expires_at],
            )
            .await?;
        Ok(())
    }

    async fn password_link_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StorageError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT user_id FROM password_links \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[&token_hash, &now],
            )
            .await?
            .map(|r| r.get(0)))
    }

    async fn redeem_password_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<Uuid>, StorageError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT user_id FROM password_links \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
                &[&token_hash, &now],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user: Uuid = row.get(0);
        tx.execute(
            "UPDATE password_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            &[&user, &now],
        )
        .await?;
        tx.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&user, &password_hash],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn session_create(&self, id_hash: &str, row: &SessionRow) -> Result<bool, StorageError> {
        Ok(self
            .client()
            .await?
            .execute(
                "INSERT INTO web_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id_hash) DO NOTHING",
                &[&id_hash, &row.data, &row.expires_at],
            )
            .await?
            == 1)
    }

    async fn session_save(&self, id_hash: &str, row: &SessionRow) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "UPDATE web_sessions SET data = $2, expires_at = $3 WHERE id_hash = $1",
                &[&id_hash, &row.data, &row.expires_at],
            )
            .await?;
        Ok(())
    }

    async fn session_load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StorageError> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT data, expires_at FROM web_sessions WHERE id_hash = $1 AND expires_at > $2",
                &[&id_hash, &now],
            )
            .await?
            .map(|r| SessionRow {
                data: r.get(0),
                expires_at: r.get(1),
            }))
    }

    async fn session_delete(&self, id_hash: &str) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute("DELETE FROM web_sessions WHERE id_hash = $1", &[&id_hash])
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        Ok(self
            .client()
            .await?
            .execute("DELETE FROM web_sessions WHERE expires_at <= $1", &[&now])
            .await?)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StorageError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO audit_log (actor_id, action, store_id, target, detail) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &entry.actor,
                    &entry.action,
                    &entry.store_id,
                    &entry.target,
                    &entry.detail,
                ],
            )
            .await?;
        Ok(())
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
        let limit = query.limit as i64;
        let rows = self
            .client()
            .await?
            .query(
                "SELECT a.seq, a.recorded_at, a.actor_id, u.email, a.action, a.store_id, a.target, \
                 a.detail FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id \
                 WHERE ($1::uuid[] IS NULL OR a.store_id = ANY($1)) \
                 AND ($2::int8 IS NULL OR a.seq < $2) ORDER BY a.seq DESC LIMIT $3",
                &[&query.stores, &query.before, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                actor_email: r.get(3),
                action: r.get(4),
                store_id: r.get(5),
                target: r.get(6),
                detail: r.get(7),
            })
            .collect())
    }
}
