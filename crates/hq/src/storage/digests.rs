//! What digests (issue 11) ask of a database: each account's choice of daily and weekly
//! digests, the server secret unsubscribe links are signed with, and the record that a
//! digest for one (account, kind, period) was queued. That record is written in the same
//! transaction as its delivery in the alert outbox, under a unique key, so a digest goes
//! out once per period whatever number of HQ processes and restarts.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::alerts::NewDelivery;
use super::StorageError;

/// Which digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestKind {
    /// Yesterday, sent every morning.
    Daily,
    /// Last week (Monday to Sunday), sent on Monday morning.
    Weekly,
}

impl DigestKind {
    pub const ALL: [DigestKind; 2] = [DigestKind::Daily, DigestKind::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            DigestKind::Daily => "daily",
            DigestKind::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<DigestKind> {
        match s {
            "daily" => Some(DigestKind::Daily),
            "weekly" => Some(DigestKind::Weekly),
            _ => None,
        }
    }
}

/// An account's digest choice. Without a stored choice: weekly only, which is what a
/// head-office reader expects without asking (one mail a week, not one a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestPrefs {
    pub daily: bool,
    pub weekly: bool,
}

impl Default for DigestPrefs {
    fn default() -> Self {
        DigestPrefs {
            daily: false,
            weekly: true,
        }
    }
}

impl DigestPrefs {
    pub fn wants(&self, kind: DigestKind) -> bool {
        match kind {
            DigestKind::Daily => self.daily,
            DigestKind::Weekly => self.weekly,
        }
    }

    /// The same choice without `kind`.
    pub fn without(self, kind: DigestKind) -> DigestPrefs {
        match kind {
            DigestKind::Daily => DigestPrefs {
                daily: false,
                ..self
            },
            DigestKind::Weekly => DigestPrefs {
                weekly: false,
                ..self
            },
        }
    }
}

/// The name of the unsubscribe-link key in `hq_secrets`.
pub const UNSUBSCRIBE_SECRET: &str = "digest_unsubscribe";

/// Digests on a database, on both backends.
#[async_trait]
pub trait DigestStore: Send + Sync {
    /// The stored secret called `name`; stores `fresh` first when there is none, so every
    /// HQ process on one database ends up with the same one.
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StorageError>;
    /// An account's choice (the default when it never chose).
    async fn digest_prefs(&self, user_id: Uuid) -> Result<DigestPrefs, StorageError>;
    /// Every stored choice; accounts without one have the default.
    async fn all_digest_prefs(&self) -> Result<Vec<(Uuid, DigestPrefs)>, StorageError>;
    /// Returns false when there is no such account.
    async fn set_digest_prefs(
        &self,
        user_id: Uuid,
        prefs: DigestPrefs,
    ) -> Result<bool, StorageError>;
    /// Whether the digest of this period was already queued.
    async fn digest_queued(
        &self,
        user_id: Uuid,
        kind: DigestKind,
        period_start: NaiveDate,
    ) -> Result<bool, StorageError>;
    /// Record the period's digest and queue its delivery, in one transaction; false (and
    /// nothing queued) when it was already recorded.
    async fn queue_digest(
        &self,
        user_id: Uuid,
        kind: DigestKind,
        period_start: NaiveDate,
        delivery: &NewDelivery,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;
}
