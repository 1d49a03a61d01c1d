//! Browser sessions in the database, through `tower-sessions` with [`DbSessionStore`], a
//! `SessionStore` over [`Storage`]: any HQ process on one PostgreSQL serves any session,
//! and sessions survive a restart. The row key is the SHA-256 of the session id, so the
//! table holds no working cookie. A save only updates an existing row, so a request still
//! in flight cannot bring back a session that logout deleted.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::secrets;
use crate::storage::accounts::SessionRow;
use crate::storage::Storage;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ct_session";

/// Sessions kept in HQ's database.
#[derive(Clone)]
pub struct DbSessionStore {
    storage: Arc<dyn Storage>,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

impl DbSessionStore {
    pub fn new(storage: Arc<dyn Storage>) -> DbSessionStore {
        DbSessionStore { storage }
    }
}

fn key(id: &Id) -> String {
    secrets::hash_secret(&id.to_string())
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn to_row(record: &Record) -> session_store::Result<SessionRow> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let nanos = i64::try_from(record.expiry_date.unix_timestamp_nanos())
        .map_err(|_| session_store::Error::Encode("expiry out of range".into()))?;
    let expires_at = DateTime::<Utc>::from_timestamp_nanos(nanos);
    Ok(SessionRow { data, expires_at })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let row = to_row(record)?;
        // A collision of 128 random bits will not happen; retry anyway, as the trait asks.
        for _ in 0..8 {
            if self
                .storage
                .session_create(&key(&record.id), &row)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "could not find a free session id".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.storage
            .session_save(&key(&record.id), &to_row(record)?)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(row) = self
            .storage
            .session_load(&key(id), Utc::now())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&row.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let nanos = row
            .expires_at
            .timestamp_nanos_opt()
            .ok_or_else(|| session_store::Error::Decode("expiry out of range".into()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.storage.session_delete(&key(id)).await.map_err(backend)
    }
}

/// The session layer: HttpOnly, SameSite=Lax, Secure when served over TLS, expiring
/// after `idle` without a request (every request moves the expiry on).
pub fn layer(
    storage: Arc<dyn Storage>,
    secure: bool,
    idle: std::time::Duration,
) -> SessionManagerLayer<DbSessionStore> {
    let idle = time::Duration::try_from(idle).unwrap_or(time::Duration::hours(8));
    SessionManagerLayer::new(DbSessionStore::new(storage))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
        .with_always_save(true)
}

/// Drop expired sessions now and then, so the table does not grow without end.
pub fn spawn_sweeper(storage: Arc<dyn Storage>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15 * 60));
        loop {
            tick.tick().await;
            if let Err(e) = storage.delete_expired_sessions(Utc::now()).await {
                tracing::warn!(error = %e, "dropping expired sessions failed");
            }
        }
    });
}
