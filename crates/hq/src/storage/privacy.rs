//! What the privacy page asks of the database: whether HQ holds a regular, found by id
//! or by the full phone number, with only what an admin needs to act on an erasure
//! request (its home store and its dates, never the name or the phone). Erasing goes
//! through the ingest path's `regular_erased` rule ([`super::RegularOp::Erase`]), not
//! through anything here.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::StorageError;

/// How an admin names the regular to find.
#[derive(Clone, PartialEq, Eq)]
pub enum RegularKey {
    Id(Uuid),
    /// Digits only, as [`countertop_protocol::phone_digits`] makes them (the one rule
    /// kiosks use before they store a phone).
    Phone(String),
}

impl std::fmt::Debug for RegularKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegularKey::Id(id) => write!(f, "Id({id})"),
            RegularKey::Phone(_) => f.write_str("Phone(<redacted>)"),
        }
    }
}

/// What the privacy page may show about a regular: no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegularFound {
    /// HQ holds a profile.
    Held {
        regular_id: Uuid,
        home_store_id: Uuid,
        /// The home store's local date of the first profile HQ received.
        first_seen: NaiveDate,
        /// The local date of the newest visit HQ holds, if any.
        last_visit: Option<NaiveDate>,
        visits: u64,
    },
    /// Erased already: only the tombstone is left.
    Erased {
        regular_id: Uuid,
        home_store_id: Uuid,
        erased_at: DateTime<Utc>,
    },
}

#[async_trait]
pub trait Privacy: Send + Sync {
    /// The regular with this id or phone, if HQ holds one (or its tombstone, by id).
    async fn find_regular(&self, key: &RegularKey) -> Result<Option<RegularFound>, StorageError>;
}
