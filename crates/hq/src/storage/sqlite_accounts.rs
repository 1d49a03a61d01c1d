//! [`Accounts`] on SQLite: accounts, password links, sessions and the audit log, in the
//! same file as everything else, through [`SqliteStorage`]'s reader and writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::accounts::{
    Accounts, AuditEntry, AuditQuery, AuditRecord, Role, SessionRow, StoreSummary, UserRecord,
};
use super::sqlite::{parse_time, parse_uuid, ts, SqliteStorage};
use super::StorageError;

/// The accounts migration, appended to SQLite's list.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    lang TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE user_stores (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    store_id TEXT NOT NULL REFERENCES stores(id),
    PRIMARY KEY (user_id, store_id)
) WITHOUT ROWID;
CREATE TABLE password_links (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    store_id TEXT,
    target TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_store ON audit_log (store_id, seq);
"#;

const USER_COLUMNS: &str = "id, email, role, password_hash, disabled, lang, created_at";

fn user_row(c: &Connection, r: &rusqlite::Row<'_>) -> Result<UserRecord, StorageError> {
    let id = parse_uuid(&r.get::<_, String>(0)?)?;
    let role: String = r.get(2)?;
    let mut stmt = c.prepare_cached("SELECT store_id FROM user_stores WHERE user_id = ?1")?;
    let stores = stmt
        .query_map([id.to_string()], |r| r.get::<_, String>(0))?
        .map(|s| parse_uuid(&s?))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UserRecord {
        id,
        email: r.get(1)?,
        role: role.parse().map_err(StorageError::Corrupt)?,
        stores,
        password_hash: r.get(3)?,
        disabled: r.get(4)?,
        lang: r.get(5)?,
        created_at: parse_time(&r.get::<_, String>(6)?)?,
    })
}

fn users_where(
    c: &Connection,
    filter: &str,
    param: Option<String>,
) -> Result<Vec<UserRecord>, StorageError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users {filter} ORDER BY email");
    let mut stmt = c.prepare(&sql)?;
    let mut rows = match &param {
        Some(p) => stmt.query([p])?,
        None => stmt.query([])?,
    };
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(user_row(c, r)?);
    }
    Ok(out)
}

fn set_stores(
    tx: &rusqlite::Transaction<'_>,
    user: Uuid,
    stores: &[Uuid],
) -> Result<(), StorageError> {
    tx.execute(
        "DELETE FROM user_stores WHERE user_id = ?1",
        [user.to_string()],
    )?;
    for store in stores {
        let exists = tx
            .query_row(
                "SELECT 1 FROM stores WHERE id = ?1",
                [store.to_string()],
                |_| Ok(()),
            )
            .optional()?;
        if exists.is_none() {
            return Err(StorageError::NoSuchStore(*store));
        }
        tx.execute(
            "INSERT INTO user_stores (user_id, store_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![user.to_string(), store.to_string()],
        )?;
    }
    Ok(())
}

#[async_trait]
impl Accounts for SqliteStorage {
    async fn store_list(&self) -> Result<Vec<StoreSummary>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, name, timezone FROM stores ORDER BY name, id")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            rows.map(|row| {
                let (id, name, timezone) = row?;
                Ok(StoreSummary {
                    id: parse_uuid(&id)?,
                    name,
                    timezone,
                })
            })
            .collect()
        })
        .await
    }

    async fn create_user(
        &self,
        email: &str,
        role: Role,
        stores: &[Uuid],
        password_hash: Option<&str>,
    ) -> Result<Option<Uuid>, StorageError> {
        let email = email.trim().to_lowercase();
        let stores = stores.to_vec();
        let hash = password_hash.map(str::to_owned);
        self.write(move |c| {
            let tx = c.transaction()?;
            let id = Uuid::now_v7();
            let n = tx.execute(
                "INSERT INTO users (id, email, role, password_hash, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email) DO NOTHING",
                params![id.to_string(), email, role.as_str(), hash, ts(Utc::now())],
            )?;
            if n == 0 {
                return Ok(None);
            }
            set_stores(&tx, id, &stores)?;
            tx.commit()?;
            Ok(Some(id))
        })
        .await
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StorageError> {
        self.read(move |c| {
            Ok(users_where(c, "WHERE id = ?1", Some(id.to_string()))?
                .into_iter()
                .next())
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StorageError> {
        let email = email.trim().to_lowercase();
        self.read(move |c| {
            Ok(users_where(c, "WHERE email = ?1", Some(email))?
                .into_iter()
                .next())
        })
        .await
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StorageError> {
        self.read(|c| users_where(c, "", None)).await
    }

    async fn update_user(
        &self,
        id: Uuid,
        role: Role,
        stores: &[Uuid],
    ) -> Result<bool, StorageError> {
        let stores = stores.to_vec();
        self.write(move |c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE users SET role = ?2 WHERE id = ?1",
                params![id.to_string(), role.as_str()],
            )?;
            if n == 0 {
                return Ok(false);
            }
            set_stores(&tx, id, &stores)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn set_user_disabled(&self, id: Uuid, disabled: bool) -> Result<bool, StorageError> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE users SET disabled = ?2 WHERE id = ?1",
                params![id.to_string(), disabled],
            )? == 1)
        })
        .await
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<bool, StorageError> {
        let hash = hash.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id.to_string(), hash],
            )? == 1)
        })
        .await
    }

    async fn set_user_lang(&self, id: Uuid, lang: &str) -> Result<bool, StorageError> {
        let lang = lang.to_owned();
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE users SET lang = ?2 WHERE id = ?1",
                params![id.to_string(), lang],
            )? == 1)
        })
        .await
    }

    async fn create_password_link(
        &self,
        user_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute(
                "INSERT INTO password_links (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![hash, user_id.to_string(), ts(expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn password_link_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StorageError> {
        let hash = token_hash.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT user_id FROM password_links \
                 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                params![hash, ts(now)],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|s| parse_uuid(&s))
            .transpose()
        })
        .await
    }

    async fn redeem_password_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<Uuid>, StorageError> {
        let (hash, password) = (token_hash.to_owned(), password_hash.to_owned());
        self.write(move |c| {
            let tx = c.transaction()?;
            let user = tx
                .query_row(
                    "SELECT user_id FROM password_links \
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    params![hash, ts(now)],
                    |r| r.get::<_, String>(0),
                )
                .optional()?;
            let Some(user) = user else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE password_links SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                params![user, ts(now)],
            )?;
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![user, password],
            )?;
            tx.commit()?;
            Ok(Some(parse_uuid(&user)?))
        })
        .await
    }

    async fn session_create(&self, id_hash: &str, row: &SessionRow) -> Result<bool, StorageError> {
        let (hash, row) = (id_hash.to_owned(), row.clone());
        self.write(move |c| {
            Ok(c.execute(
                "INSERT INTO web_sessions (id_hash, data, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id_hash) DO NOTHING",
                params![hash, row.data, ts(row.expires_at)],
            )? == 1)
        })
        .await
    }

    async fn session_save(&self, id_hash: &str, row: &SessionRow) -> Result<(), StorageError> {
        let (hash, row) = (id_hash.to_owned(), row.clone());
        self.write(move |c| {
            c.execute(
                "UPDATE web_sessions SET data = ?2, expires_at = ?3 WHERE id_hash = ?1",
                params![hash, row.data, ts(row.expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StorageError> {
        let hash = id_hash.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT data, expires_at FROM web_sessions WHERE id_hash = ?1 AND expires_at > ?2",
                params![hash, ts(now)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(data, expires)| {
                Ok(SessionRow {
                    data,
                    expires_at: parse_time(&expires)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn session_delete(&self, id_hash: &str) -> Result<(), StorageError> {
        let hash = id_hash.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM web_sessions WHERE id_hash = ?1", [hash])?;
            Ok(())
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        self.write(move |c| {
            Ok(c.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [ts(now)])? as u64)
        })
        .await
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StorageError> {
        let e = entry.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO audit_log (recorded_at, actor_id, action, store_id, target, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    ts(Utc::now()),
                    e.actor.map(|u| u.to_string()),
                    e.action,
                    e.store_id.map(|u| u.to_string()),
                    e.target,
                    e.detail
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError> {
        let q = query.clone();
        self.read(move |c| {
            let stores = q
                .stores
                .as_ref()
                .map(|s| {
                    serde_json::to_string(&s.iter().map(Uuid::to_string).collect::<Vec<_>>())
                        .map_err(|e| StorageError::Corrupt(e.to_string()))
                })
                .transpose()?;
            let mut stmt = c.prepare(
                "SELECT a.seq, a.recorded_at, a.actor_id, u.email, a.action, a.store_id, a.target, \
                 a.detail FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id \
                 WHERE (?1 IS NULL OR a.store_id IN (SELECT value FROM json_each(?1))) \
                 AND (?2 IS NULL OR a.seq < ?2) ORDER BY a.seq DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![stores, q.before, q.limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?;
            rows.map(|row| {
                let (id, at, actor, actor_email, action, store, target, detail) = row?;
                Ok(AuditRecord {
                    id,
                    at: parse_time(&at)?,
                    actor: actor.map(|a| parse_uuid(&a)).transpose()?,
                    actor_email,
                    action,
                    store_id: store.map(|s| parse_uuid(&s)).transpose()?,
                    target,
                    detail,
                })
            })
            .collect()
        })
        .await
    }
}
