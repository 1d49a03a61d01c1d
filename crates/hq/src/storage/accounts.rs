//! What the dashboard keeps about people rather than kiosks: accounts with a role and the
//! stores they may see, one-time links for setting a password, browser sessions and the
//! audit log. A supertrait of [`super::Storage`], so both backends must provide it and any
//! HQ process on one PostgreSQL serves any session.
//!
//! Secrets are kept only as hashes: argon2id for passwords (made in `web::auth`), SHA-256
//! for session ids and password links. The audit log holds ids and codes, never personal
//! data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StorageError;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read-only, scoped to the account's stores.
    Viewer,
    /// Reads and acts, scoped to the account's stores.
    Manager,
    /// The whole chain, and the accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Manager, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "admin" => Ok(Role::Admin),
            "manager" => Ok(Role::Manager),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!(
                "{:?} is not a role; use admin, manager or viewer",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// An account. Its `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: Uuid,
    /// Lower-cased, trimmed.
    pub email: String,
    pub role: Role,
    /// The stores a manager or viewer sees (ignored for admins).
    pub stores: Vec<Uuid>,
    /// `None` until the password is set through a one-time link.
    pub password_hash: Option<String>,
    pub disabled: bool,
    /// The dashboard language the user chose (`en`, `vi`), if any.
    pub lang: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("stores", &self.stores)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A store as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSummary {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
}

/// A stored browser session: the session library's data as JSON, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub data: String,
    pub expires_at: DateTime<Utc>,
}

/// One line of the audit log, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The account that acted; `None` for the CLI, or a failed login of an unknown email.
    pub actor: Option<Uuid>,
    /// A stable code: `login_ok`, `login_failed`, `user_added`, `survey_changed`...
    pub action: String,
    /// The store the action concerns, if any (what a manager's view is filtered by).
    pub store_id: Option<Uuid>,
    /// The id of what was acted on (an account, a device, an erased regular's id).
    pub target: Option<String>,
    /// Short non-personal detail, such as `role=manager` or `version=4`.
    pub detail: String,
}

/// One line of the audit log, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<Uuid>,
    /// The actor's email, when the actor still exists.
    pub actor_email: Option<String>,
    pub action: String,
    pub store_id: Option<Uuid>,
    pub target: Option<String>,
    pub detail: String,
}

/// Which audit lines to read: newest first, before `before` (an id) when paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// `None`: every line; `Some(stores)`: only lines about these stores.
    pub stores: Option<Vec<Uuid>>,
    pub before: Option<i64>,
    pub limit: usize,
}

/// What storage knows about accounts, sessions and the audit log.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Every store, by name.
    async fn store_list(&self) -> Result<Vec<StoreSummary>, StorageError>;
    /// Create an account; `Ok(None)` when the email is taken. Stores that do not exist
    /// are refused with [`StorageError::NoSuchStore`].
    async fn create_user(
        &self,
        email: &str,
        role: Role,
        stores: &[Uuid],
        password_hash: Option<&str>,
    ) -> Result<Option<Uuid>, StorageError>;
    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StorageError>;
    /// By email, compared lower-cased.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StorageError>;
    /// Every account, by email.
    async fn users(&self) -> Result<Vec<UserRecord>, StorageError>;
    /// Change role and stores; false when there is no such account.
    async fn update_user(
        &self,
        id: Uuid,
        role: Role,
        stores: &[Uuid],
    ) -> Result<bool, StorageError>;
    /// Disable (or enable again); a disabled account's sessions stop working at once.
    async fn set_user_disabled(&self, id: Uuid, disabled: bool) -> Result<bool, StorageError>;
    async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<bool, StorageError>;
    async fn set_user_lang(&self, id: Uuid, lang: &str) -> Result<bool, StorageError>;
    /// Remember a one-time password link (its hash) for an account.
    async fn create_password_link(
        &self,
        user_id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError>;
    /// The account an unused, unexpired link belongs to.
    async fn password_link_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StorageError>;
    /// Use a link once: set the password and mark the link (and the account's other links)
    /// used, in one transaction. `None` when the link is unknown, used or expired.
    async fn redeem_password_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<Uuid>, StorageError>;
    /// Insert a new session; false when the id hash is taken.
    async fn session_create(&self, id_hash: &str, row: &SessionRow) -> Result<bool, StorageError>;
    /// Update an existing session (a deleted one stays deleted).
    async fn session_save(&self, id_hash: &str, row: &SessionRow) -> Result<(), StorageError>;
    /// A session that has not expired at `now`.
    async fn session_load(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StorageError>;
    async fn session_delete(&self, id_hash: &str) -> Result<(), StorageError>;
    /// Drop sessions that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;
    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StorageError>;
    async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StorageError>;
}
