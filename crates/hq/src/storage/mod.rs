//! Where HQ keeps stores, devices, tokens, events and ratings. One `Storage` trait, two
//! implementations: SQLite (the embedded default: one file, nothing else to install)
//! and PostgreSQL (for chains: any number of stateless HQ processes share one database).
//! Both must pass the same black-box test suite.

pub mod accounts;
pub mod alerts;
pub mod analytics;
pub mod comment_feed;
pub mod digests;
pub mod early_details;
pub mod hours;
mod pg_tls;
mod postgres;
mod postgres_accounts;
mod postgres_alerts;
mod postgres_analytics;
mod postgres_digests;
mod postgres_privacy;
mod postgres_rollups;
pub mod privacy;
pub mod rollups;
pub mod rules;
mod sqlite;
mod sqlite_accounts;
mod sqlite_alerts;
mod sqlite_analytics;
mod sqlite_digests;
mod sqlite_privacy;
mod sqlite_rollups;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use countertop_protocol::{Regular, RegularErased, SurveyConfig, VisitRecord};
use uuid::Uuid;

pub use accounts::Accounts;
pub use alerts::AlertStore;
pub use analytics::Analytics;
pub use digests::DigestStore;
pub use postgres::PostgresStorage;
pub use privacy::Privacy;

/// PostgreSQL's migrations, in order, for tests that build an older database.
#[doc(hidden)]
pub fn postgres_migrations() -> &'static [&'static str] {
    postgres::MIGRATIONS
}
pub use sqlite::SqliteStorage;

/// What went wrong in the database layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database URL {0:?} is not understood: use sqlite:PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    #[error("PostgreSQL connection: {0}")]
    PgConnect(#[from] pg_tls::PgConnectError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("no store with id {0}")]
    NoSuchStore(Uuid),
    #[error("the database worker thread failed: {0}")]
    Worker(String),
    #[error(
        "the database has schema version {found}, written by a newer countertop-hq; this one \
         knows versions up to {known}: run the newer countertop-hq, or restore a backup \
         made by this version"
    )]
    NewerSchema { found: i64, known: i64 },
}

/// A store (a shop) and its survey.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRecord {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub config_version: u64,
    pub config: SurveyConfig,
    pub regulars_scope: RegularsScope,
}

/// Which kiosks see a store's regulars: only the store's own (`store`, the default), or
/// every kiosk of every `chain`-scoped store (both stores must be `chain`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RegularsScope {
    #[default]
    Store,
    Chain,
}

impl RegularsScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RegularsScope::Store => "store",
            RegularsScope::Chain => "chain",
        }
    }
}

impl std::str::FromStr for RegularsScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "store" => Ok(RegularsScope::Store),
            "chain" => Ok(RegularsScope::Chain),
            other => Err(format!(
                "{:?} is not a regulars scope; use store or chain",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// A regular's profile as JSON, for the profiles table. Personal data: its `Debug` shows
/// nothing, so an item can be logged without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfileJson(pub String);

impl std::fmt::Debug for ProfileJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProfileJson(<redacted>)")
    }
}

/// What a regulars event does to the regulars tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegularOp {
    /// Replace the profile if `hlc` (sortable text) is greater than the stored one.
    Upsert {
        regular_id: Uuid,
        hlc: String,
        profile: ProfileJson,
        local_date: NaiveDate,
    },
    Visit {
        regular_id: Uuid,
        occurred_at: DateTime<Utc>,
        local_date: NaiveDate,
        rating_id: Option<Uuid>,
        unhappy: Option<bool>,
    },
    /// Tombstone the id, delete its profile and visits.
    Erase {
        regular_id: Uuid,
        erased_at: DateTime<Utc>,
        local_date: NaiveDate,
    },
}

impl RegularOp {
    pub fn regular_id(&self) -> Uuid {
        match self {
            RegularOp::Upsert { regular_id, .. }
            | RegularOp::Visit { regular_id, .. }
            | RegularOp::Erase { regular_id, .. } => *regular_id,
        }
    }
}

/// One page of a regulars pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegularsPage {
    pub cursor: u64,
    pub more: bool,
    pub profiles: Vec<Regular>,
    pub visits: Vec<VisitRecord>,
    pub erased: Vec<RegularErased>,
}

/// Which regulars a regulars report covers. Dates are local to the store, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegularsReportQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub store_id: Option<Uuid>,
}

/// Counts only: no personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RegularsTally {
    /// Regulars whose home store matches, now.
    pub regulars: u64,
    /// Of those, first seen in the range.
    pub new_regulars: u64,
    /// Visits in the range (by the visited store).
    pub visits: u64,
    /// Of those, visits whose rating was unhappy.
    pub unhappy_visits: u64,
    /// Erasures in the range (by the erased regular's home store).
    pub erasures: u64,
}

/// Largest page a regulars pull returns.
pub const REGULARS_PAGE: usize = 500;

/// An enrolled kiosk, found by its token hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: Uuid,
    pub store_id: Uuid,
    pub store_timezone: String,
    pub revoked: bool,
}

/// The result of trading an enrollment code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    Enrolled { store_id: Uuid },
    UnknownCode,
    AlreadyUsed,
    Expired,
}

/// Whether an API token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Valid,
    Revoked,
    Unknown,
}

/// A rating ready to store, with its local day and hour already worked out in the
/// store's time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingRow {
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub local_hour: u32,
    pub touchpoint: String,
    pub survey_version: u32,
    pub scale: u8,
    pub score: u8,
    pub satisfied: bool,
    pub nps: Option<u8>,
    pub suspected_repeat: bool,
    pub comment: Option<String>,
    pub reasons: Vec<String>,
}

/// Reasons and a comment added to an earlier rating.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailsRow {
    pub rating_id: Uuid,
    pub reasons: Vec<String>,
    pub comment: Option<String>,
    /// The NPS answer given after the tap; it fills the rating's `nps`.
    pub nps: Option<u8>,
}

/// One valid event of a push, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestItem {
    pub id: Uuid,
    pub seq: i64,
    pub kind: String,
    pub device_time: DateTime<Utc>,
    pub utc_offset_minutes: i16,
    pub received_at: DateTime<Utc>,
    /// Comma-separated flags such as `device_time_in_future`; empty when none.
    pub flags: String,
    /// The event body as JSON, for kinds without a table of their own (`device_health`);
    /// `None` for ratings and rating details, whose rows hold everything.
    pub body: Option<String>,
    pub rating: Option<RatingRow>,
    pub details: Option<DetailsRow>,
    pub regular: Option<RegularOp>,
}

/// What storing one item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Inserted,
    Duplicate,
    Rejected { code: String, reason: String },
}

/// How to slice a report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Store,
    Day,
    Hour,
    Touchpoint,
    Reason,
}

/// Which ratings a report covers. Dates are local to each store, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub store_id: Option<Uuid>,
    pub group_by: Option<GroupBy>,
    pub include_repeats: bool,
}

/// Sums for one group of a report; [`crate::reports`] turns them into percentages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub key: String,
    pub count: u64,
    pub satisfied: u64,
    pub score_sum: u64,
    /// Ratings with score 1, 2, 3, 4 and 5.
    pub distribution: [u64; 5],
    pub nps_responses: u64,
    pub promoters: u64,
    pub detractors: u64,
}

/// The survey a new store starts with: the demo survey under the store's own name.
/// Both backends use it, so a store starts the same on SQLite and PostgreSQL.
pub(crate) fn new_store_survey(name: &str) -> SurveyConfig {
    SurveyConfig {
        shop_name: name.to_owned(),
        ..SurveyConfig::default()
    }
}

/// Everything HQ asks of a database; the dashboard's reads are in [`Analytics`].
#[async_trait]
pub trait Storage:
    Accounts + Analytics + AlertStore + DigestStore + Privacy + Send + Sync + 'static
{
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;
    async fn create_store(&self, name: &str, timezone: &str) -> Result<Uuid, StorageError>;
    async fn store(&self, id: Uuid) -> Result<Option<StoreRecord>, StorageError>;
    /// Set who sees a store's regulars.
    async fn set_regulars_scope(
        &self,
        store_id: Uuid,
        scope: RegularsScope,
    ) -> Result<(), StorageError>;
    /// Regulars profiles, visits and tombstones that `store_id`'s kiosks may see, with a
    /// change sequence over `cursor`, in change order, at most `limit` of them.
    async fn pull_regulars(
        &self,
        store_id: Uuid,
        cursor: u64,
        limit: usize,
    ) -> Result<RegularsPage, StorageError>;
    /// Counts about regulars, without personal data.
    async fn regulars_report(
        &self,
        query: &RegularsReportQuery,
    ) -> Result<RegularsTally, StorageError>;
    /// Replace a store's survey; returns the new config version.
    async fn set_config(&self, store_id: Uuid, config: &SurveyConfig) -> Result<u64, StorageError>;
    async fn create_enroll_code(
        &self,
        store_id: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError>;
    /// Use an enrollment code, once, and record the device it enrolls.
    async fn redeem_enroll_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device_id: Uuid,
        device_name: Option<&str>,
        token_hash: &str,
    ) -> Result<Redeemed, StorageError>;
    async fn device_by_token(&self, token_hash: &str)
        -> Result<Option<DeviceRecord>, StorageError>;
    /// Returns false when there is no such device.
    async fn revoke_device(&self, device_id: Uuid) -> Result<bool, StorageError>;
    async fn create_api_token(&self, name: &str, token_hash: &str) -> Result<Uuid, StorageError>;
    async fn api_token_state(&self, token_hash: &str) -> Result<TokenState, StorageError>;
    async fn revoke_api_token(&self, id: Uuid) -> Result<bool, StorageError>;
    /// Store a batch from one device, exactly once per event id, in one transaction.
    /// Returns one outcome per item, in order.
    async fn ingest(
        &self,
        device: &DeviceRecord,
        items: Vec<IngestItem>,
    ) -> Result<Vec<Stored>, StorageError>;
    /// Sums per group (or one row keyed `all` without grouping), ordered by key.
    async fn report(&self, query: &ReportQuery) -> Result<Vec<Tally>, StorageError>;
    /// How many events are stored (for tests and the exactly-once checks).
    async fn count_events(&self) -> Result<u64, StorageError>;
    /// Whether the database answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StorageError>;
}

/// Open (and migrate) the database named by `url`: `sqlite:PATH` or `postgres://...`.
pub async fn open_storage(url: &str) -> Result<Arc<dyn Storage>, StorageError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(StorageError::BadUrl(url.to_owned()));
        }
        Ok(Arc::new(SqliteStorage::open(path.into()).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStorage::connect(url).await?))
    } else {
        Err(StorageError::BadUrl(url.to_owned()))
    }
}

/// Profiles a store's kiosks may see, changed after the cursor: `p(1)` the asking store,
/// `p(2)` the cursor, `p(3)` the asking store's scope, `p(4)` the row limit. A profile is
/// visible to its home store, and to every store when both stores are `chain` scoped.
pub(crate) fn regulars_profiles_sql(p: fn(usize) -> String) -> String {
    format!(
        "SELECT rp.profile, rp.change_seq FROM regular_profiles rp \
         JOIN stores hs ON hs.id = rp.home_store_id \
         WHERE rp.change_seq > {p2} AND (rp.home_store_id = {p1} \
         OR (hs.regulars_scope = 'chain' AND {p3} = 'chain')) \
         ORDER BY rp.change_seq LIMIT {p4}",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4)
    )
}

/// Visits a store's kiosks may see, with the same parameters as
/// [`regulars_profiles_sql`]. A visit belongs to its regular's home store (the visited
/// store while HQ has no profile yet); the visited store always sees its own visits.
pub(crate) fn regulars_visits_sql(p: fn(usize) -> String) -> String {
    format!(
        "SELECT v.id, v.occurred_at, v.regular_id, v.rating_id, v.unhappy, v.change_seq \
         FROM regular_visits v \
         LEFT JOIN regular_profiles rp ON rp.regular_id = v.regular_id \
         JOIN stores hs ON hs.id = COALESCE(rp.home_store_id, v.store_id) \
         WHERE v.change_seq > {p2} AND (v.store_id = {p1} OR hs.id = {p1} \
         OR (hs.regulars_scope = 'chain' AND {p3} = 'chain')) \
         ORDER BY v.change_seq LIMIT {p4}",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4)
    )
}

/// One row of a pull, before paging.
pub(crate) enum PullEntry {
    Profile(Box<Regular>),
    Visit(VisitRecord),
    Erased(RegularErased),
}

/// Merge the rows of the three tables (each already limited to `limit + 1`) into one page
/// in change order. `newest` is the highest change sequence in the same snapshot: when
/// the page is not full, every visible row up to it has been returned, so the cursor can
/// move there and the next pull skips rows this store may not see.
pub(crate) fn page_of(
    mut rows: Vec<(i64, PullEntry)>,
    cursor: u64,
    newest: i64,
    limit: usize,
) -> RegularsPage {
    rows.sort_by_key(|(seq, _)| *seq);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let last = rows.last().map(|(seq, _)| *seq as u64);
    let mut page = RegularsPage {
        cursor: if more {
            last.unwrap_or(cursor)
        } else {
            cursor.max(newest.max(0) as u64)
        },
        more,
        ..RegularsPage::default()
    };
    for (_, entry) in rows {
        match entry {
            PullEntry::Profile(p) => page.profiles.push(*p),
            PullEntry::Visit(v) => page.visits.push(v),
            PullEntry::Erased(e) => page.erased.push(e),
        }
    }
    page
}

/// The SQL behind the regulars report, shared by both backends: `p(1)`, `p(2)` the local
/// dates, `p(3)` the store when one is asked for. Returns five counts in one row.
pub(crate) fn regulars_report_sql(q: &RegularsReportQuery, p: fn(usize) -> String) -> String {
    let (from, to) = (p(1), p(2));
    let store = |col: &str| {
        if q.store_id.is_some() {
            format!(" AND {col} = {}", p(3))
        } else {
            String::new()
        }
    };
    format!(
        "SELECT \
         (SELECT COUNT(*) FROM regular_profiles WHERE 1 = 1{home}), \
         (SELECT COUNT(*) FROM regular_profiles WHERE first_local_date >= {from} \
          AND first_local_date <= {to}{home}), \
         (SELECT COUNT(*) FROM regular_visits WHERE local_date >= {from} \
          AND local_date <= {to}{visited}), \
         (SELECT COUNT(*) FROM regular_visits WHERE local_date >= {from} \
          AND local_date <= {to} AND unhappy = TRUE{visited}), \
         (SELECT COUNT(*) FROM regular_tombstones WHERE local_date >= {from} \
          AND local_date <= {to}{home})",
        home = store("home_store_id"),
        visited = store("store_id"),
    )
}
