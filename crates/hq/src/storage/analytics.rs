//! The dashboard's read model: what the overview, store, devices and export pages ask of
//! the database, as one trait ([`Analytics`]) both backends implement, and the SQL they
//! share, which reads the rollups kept at ingest ([`super::rollups`]) for every figure
//! and the raw rows only for comments, export and devices. Figures come back as integer sums ([`Sums`]); [`crate::reports`] is the one
//! place that turns them into CSAT, the Happy Index, averages and NPS.
//!
//! Every query takes per-store ranges of local dates ([`StoreRange`]), because a period
//! such as "the last 7 days" is a different span of time in each store's time zone;
//! [`period_ranges`] works them out.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use countertop_protocol::Scale;
use uuid::Uuid;

use super::hours::OpeningHours;
use super::{GroupBy, ReportQuery, StorageError, Tally};

/// A store's local dates to cover, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreRange {
    pub store_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The periods the dashboard offers, each read in every store's own time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The local day so far.
    Today,
    /// The last 7 local days, today included.
    Days7,
    /// The last 30 local days, today included.
    Days30,
    /// The calendar quarter so far (from its first day to today).
    Quarter,
    /// The same local dates in every store, inclusive.
    Custom { from: NaiveDate, to: NaiveDate },
}

/// The current period's ranges and those of the period of the same length just before,
/// one of each per store, in the order of `stores`.
pub fn period_ranges(
    period: Period,
    stores: &[(Uuid, Tz)],
    now: DateTime<Utc>,
) -> (Vec<StoreRange>, Vec<StoreRange>) {
    let mut current = Vec::with_capacity(stores.len());
    let mut previous = Vec::with_capacity(stores.len());
    for &(store_id, tz) in stores {
        let today = now.with_timezone(&tz).date_naive();
        let (from, to) = match period {
            Period::Today => (today, today),
            Period::Days7 => (today - Duration::days(6), today),
            Period::Days30 => (today - Duration::days(29), today),
            Period::Quarter => {
                let first_month = (today.month0() / 3) * 3 + 1;
                let start = NaiveDate::from_ymd_opt(today.year(), first_month, 1).unwrap_or(today);
                (start, today)
            }
            Period::Custom { from, to } => (from.min(to), from.max(to)),
        };
        let days = (to - from).num_days() + 1;
        current.push(StoreRange { store_id, from, to });
        previous.push(StoreRange {
            store_id,
            from: from - Duration::days(days),
            to: from - Duration::days(1),
        });
    }
    (current, previous)
}

/// Integer sums over a set of ratings, exact whatever the mix of 4- and 5-face scales:
/// [`crate::reports`] derives every figure from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Ratings on the five-face scale with score 1..=5.
    pub five: [u64; 5],
    /// Ratings on the four-face scale with score 1..=4.
    pub four: [u64; 4],
    /// Ratings that carry an NPS answer, and of those promoters (9–10) and detractors (0–6).
    pub nps_responses: u64,
    pub promoters: u64,
    pub detractors: u64,
}

impl Sums {
    /// Add `n` ratings of one scale and score, with their NPS sums.
    pub fn add(&mut self, scale: u8, score: u8, cell: Cell) {
        let slot = match scale {
            4 => self.four.get_mut(usize::from(score).wrapping_sub(1)),
            _ => self.five.get_mut(usize::from(score).wrapping_sub(1)),
        };
        if let Some(slot) = slot {
            *slot += cell.n;
        }
        self.nps_responses += cell.nps_responses;
        self.promoters += cell.promoters;
        self.detractors += cell.detractors;
    }

    pub fn merge(&mut self, other: &Sums) {
        for (a, b) in self.five.iter_mut().zip(other.five) {
            *a += b;
        }
        for (a, b) in self.four.iter_mut().zip(other.four) {
            *a += b;
        }
        self.nps_responses += other.nps_responses;
        self.promoters += other.promoters;
        self.detractors += other.detractors;
    }

    pub fn count(&self) -> u64 {
        self.five.iter().sum::<u64>() + self.four.iter().sum::<u64>()
    }

    /// Ratings in their scale's top two faces ([`Scale::is_satisfied`]).
    pub fn satisfied(&self) -> u64 {
        let of = |scale: Scale, counts: &[u64]| -> u64 {
            counts
                .iter()
                .enumerate()
                .filter(|(i, _)| scale.is_satisfied(*i as u8 + 1))
                .map(|(_, n)| n)
                .sum()
        };
        of(Scale::FIVE, &self.five) + Scale::new(4).map_or(0, |s| of(s, &self.four))
    }

    /// The sum of the scores (1 the worst), both scales together.
    pub fn score_sum(&self) -> u64 {
        let weighted = |counts: &[u64]| -> u64 {
            counts
                .iter()
                .enumerate()
                .map(|(i, n)| (i as u64 + 1) * n)
                .sum()
        };
        weighted(&self.five) + weighted(&self.four)
    }

    /// Ratings per score 1..=5, both scales together (a four-face 4 counts as a 4).
    pub fn distribution(&self) -> [u64; 5] {
        let mut d = self.five;
        for (a, b) in d.iter_mut().zip(self.four) {
            *a += b;
        }
        d
    }
}

/// What a group of identical ratings adds: how many, and their NPS sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub n: u64,
    pub nps_responses: u64,
    pub promoters: u64,
    pub detractors: u64,
}

/// Local weekday (0 = Monday) × local hour.
pub type Heatmap = Box<[[Sums; 24]; 7]>;

/// A store, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
}

/// Where a comments page starts: after this rating, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentCursor {
    pub occurred_at: DateTime<Utc>,
    pub rating_id: Uuid,
}

impl CommentCursor {
    /// An opaque text form for a URL.
    pub fn to_token(&self) -> String {
        format!(
            "{}_{}",
            self.occurred_at.timestamp_micros(),
            self.rating_id.simple()
        )
    }

    /// The inverse of [`CommentCursor::to_token`]; `None` for anything else.
    pub fn from_token(s: &str) -> Option<CommentCursor> {
        let (micros, id) = s.split_once('_')?;
        Some(CommentCursor {
            occurred_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            rating_id: Uuid::try_parse(id).ok()?,
        })
    }
}

/// Which comments to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentQuery {
    pub ranges: Vec<StoreRange>,
    pub score: Option<u8>,
    pub reason: Option<String>,
    /// Case-insensitive (ASCII letters) substring of the comment.
    pub text: Option<String>,
    pub include_repeats: bool,
    pub before: Option<CommentCursor>,
    /// At most [`MAX_PAGE`].
    pub limit: usize,
}

/// Largest page of comments or export rows.
pub const MAX_PAGE: usize = 5_000;

/// A rating with a comment, for the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub rating_id: Uuid,
    pub store_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub score: u8,
    pub scale: u8,
    pub touchpoint: String,
    pub reasons: Vec<String>,
    pub comment: String,
    pub suspected_repeat: bool,
}

/// One page of comments; `next` continues it when there may be more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentPage {
    pub rows: Vec<CommentRow>,
    pub next: Option<CommentCursor>,
}

/// One rating for the export, with its reasons and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub rating_id: Uuid,
    pub store_id: Uuid,
    pub device_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub local_hour: u8,
    pub touchpoint: String,
    pub survey_version: u32,
    pub scale: u8,
    pub score: u8,
    pub nps: Option<u8>,
    pub suspected_repeat: bool,
    /// Sorted.
    pub reasons: Vec<String>,
    /// The comment added by details when there is one, else the rating's own.
    pub comment: Option<String>,
}

/// What HQ knows about one kiosk. The latest `device_health` event gives the queue,
/// version, error and quarantined count; its HQ receipt time minus its device time gives
/// the clock offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceHealth {
    pub device_id: Uuid,
    pub store_id: Uuid,
    pub name: Option<String>,
    pub enrolled_at: DateTime<Utc>,
    pub revoked: bool,
    /// When HQ last stored a push from it (its newest event's receipt time).
    pub last_seen: Option<DateTime<Utc>>,
    /// From the newest `device_health` event; `None` before the first one.
    pub health_at: Option<DateTime<Utc>>,
    pub app_version: Option<String>,
    pub queue_depth: Option<u64>,
    pub oldest_unsent_age_seconds: Option<u64>,
    pub last_error: Option<String>,
    /// Events HQ refused that the kiosk keeps aside; `None` when its newest health report
    /// does not say (a kiosk older than the field, or no report yet).
    pub quarantined: Option<u64>,
    /// HQ's receipt time minus the kiosk's clock, in seconds, at that health event
    /// (positive: the kiosk is behind; includes the upload delay, seconds at most).
    pub clock_offset_seconds: Option<i64>,
}

impl DeviceHealth {
    /// The one offline rule (the devices page, the overview's Attention block, and the
    /// silent-kiosk alert with the rule's own threshold): a kiosk
    /// that is not revoked and that HQ has not heard from (since its last push, else since
    /// it enrolled) for at least `after` of its store's opening time. Time while the store
    /// is closed does not count, so a kiosk switched off overnight is not flagged.
    pub fn is_offline(
        &self,
        hours: &OpeningHours,
        tz: Tz,
        now: DateTime<Utc>,
        after: Duration,
    ) -> bool {
        if self.revoked {
            return false;
        }
        let since = self.last_seen.unwrap_or(self.enrolled_at);
        open_time_between(hours, tz, since, now, after) >= after
    }
}

/// How much of `from..to` the store was open, in its local time, counted up to `cap`.
fn open_time_between(
    hours: &OpeningHours,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    cap: Duration,
) -> Duration {
    use super::hours::DayHours;
    let (from, to) = (
        from.with_timezone(&tz).naive_local(),
        to.with_timezone(&tz).naive_local(),
    );
    let mut total = Duration::zero();
    let mut day = from.date();
    while day <= to.date() && total < cap {
        if let DayHours::Open { open, close } =
            hours.days[day.weekday().num_days_from_monday() as usize]
        {
            let midnight = day.and_time(chrono::NaiveTime::MIN);
            let start = (midnight + Duration::minutes(i64::from(open))).max(from);
            let end = (midnight + Duration::minutes(i64::from(close))).min(to);
            if end > start {
                total += end - start;
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    total
}

/// Everything the dashboard reads, on both backends.
#[async_trait]
pub trait Analytics: Send + Sync {
    /// Every store, by name.
    async fn stores(&self) -> Result<Vec<StoreInfo>, StorageError>;
    /// Sums per store over its range; stores without ratings are left out.
    async fn store_summaries(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(Uuid, Sums)>, StorageError>;
    /// Sums per local date over all the ranges together, by date; days without ratings
    /// are left out.
    async fn daily(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(NaiveDate, Sums)>, StorageError>;
    /// Sums per local weekday (0 = Monday) and local hour.
    async fn heatmap(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Heatmap, StorageError>;
    /// Sums per touchpoint, by touchpoint.
    async fn touchpoints(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(String, Sums)>, StorageError>;
    /// How many ratings carry each reason, most frequent first.
    async fn reasons(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(String, u64)>, StorageError>;
    /// Reason counts per local date, by date then reason.
    async fn reasons_daily(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(NaiveDate, String, u64)>, StorageError>;
    /// Ratings with a comment, newest first, one page.
    async fn comments(&self, query: &CommentQuery) -> Result<CommentPage, StorageError>;
    /// Every kiosk (of these stores only, when given), by store then name.
    async fn devices(&self, stores: Option<&[Uuid]>) -> Result<Vec<DeviceHealth>, StorageError>;
    /// Ratings in rating id order, after `after`, at most `limit` ([`MAX_PAGE`]).
    async fn export_page(
        &self,
        ranges: &[StoreRange],
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<ExportRow>, StorageError>;
    /// A store's opening hours (always open until set).
    async fn opening_hours(&self, store_id: Uuid) -> Result<OpeningHours, StorageError>;
    async fn set_opening_hours(
        &self,
        store_id: Uuid,
        hours: &OpeningHours,
    ) -> Result<(), StorageError>;
}

/// A query parameter, spelled by each backend in its own types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Uuid(Uuid),
    Date(NaiveDate),
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// How a backend spells what the shared SQL needs.
pub(crate) struct Dialect {
    pub p: fn(usize) -> String,
    /// `r.store_id` as text.
    pub store_key: &'static str,
    /// `r.local_date` as `YYYY-MM-DD`.
    pub day_key: &'static str,
    /// `r.local_date`'s weekday, 0 = Monday.
    pub weekday: &'static str,
    /// Case-insensitive `LIKE`.
    pub ilike: &'static str,
    /// The comma-joined, sorted reasons of rating `r.id`.
    pub reasons_of_r: &'static str,
    /// How the comments feed joins `ratings` to `comment_feed`, which must stay the outer
    /// loop (walked in index order): SQLite's `CROSS JOIN` fixes the order.
    pub feed_join: &'static str,
}

pub(crate) const SQLITE: Dialect = Dialect {
    p: |n| format!("?{n}"),
    store_key: "r.store_id",
    day_key: "r.local_date",
    weekday: "((CAST(strftime('%w', r.local_date) AS INTEGER) + 6) % 7)",
    ilike: "LIKE",
    reasons_of_r: "(SELECT group_concat(reason, ',') FROM \
                   (SELECT reason FROM rating_reasons WHERE rating_id = r.id ORDER BY reason))",
    feed_join: "CROSS JOIN",
};

pub(crate) const POSTGRES: Dialect = Dialect {
    p: |n| format!("${n}"),
    store_key: "CAST(r.store_id AS TEXT)",
    day_key: "to_char(r.local_date, 'YYYY-MM-DD')",
    weekday: "(CAST(EXTRACT(ISODOW FROM r.local_date) AS INTEGER) - 1)",
    ilike: "ILIKE",
    reasons_of_r: "(SELECT string_agg(reason, ',' ORDER BY reason) FROM rating_reasons \
                   WHERE rating_id = r.id)",
    feed_join: "JOIN",
};

/// A query under construction: its text and its parameters.
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<Param>,
    p: fn(usize) -> String,
}

impl Sql {
    fn new(d: &Dialect) -> Sql {
        Sql {
            text: String::new(),
            params: Vec::new(),
            p: d.p,
        }
    }

    /// Add a parameter; returns its placeholder.
    fn bind(&mut self, v: Param) -> String {
        self.params.push(v);
        (self.p)(self.params.len())
    }

    /// `(date and store filters)` for `ranges` over table alias `r`. Ranges with the same
    /// dates share one `IN` list, so a chain in one time zone is one index range per store.
    fn ranges(&mut self, ranges: &[StoreRange]) -> String {
        self.ranges_of("r", ranges)
    }

    /// [`Sql::ranges`] over table alias `t`.
    fn ranges_of(&mut self, t: &str, ranges: &[StoreRange]) -> String {
        let mut by_dates: BTreeMap<(NaiveDate, NaiveDate), Vec<Uuid>> = BTreeMap::new();
        for r in ranges {
            by_dates.entry((r.from, r.to)).or_default().push(r.store_id);
        }
        if by_dates.is_empty() {
            return "(1 = 0)".into();
        }
        let mut parts = Vec::with_capacity(by_dates.len());
        for ((from, to), mut stores) in by_dates {
            stores.sort_unstable();
            stores.dedup();
            let from = self.bind(Param::Date(from));
            let to = self.bind(Param::Date(to));
            let ids: Vec<String> = stores
                .into_iter()
                .map(|s| self.bind(Param::Uuid(s)))
                .collect();
            parts.push(format!(
                "({t}.store_id IN ({}) AND {t}.local_date >= {from} AND {t}.local_date <= {to})",
                ids.join(", ")
            ));
        }
        format!("({})", parts.join(" OR "))
    }
}

/// What the grouped rating queries group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Store,
    Day,
    /// weekday * 24 + hour
    Slot,
    Touchpoint,
}

/// `SELECT key, scale, score, n, nps responses, promoters, detractors` from a rollup
/// table (`rating_daily`, `rating_rollup` or `reason_rollup`: they share these columns).
/// `group` is what the rows are grouped by: the raw column
/// a key is formatted from (`r.store_id`, `r.local_date`), so PostgreSQL formats one text
/// per group rather than one per row (a quarter's overview: 31 → 18 ms), or `1` (the key
/// itself) when the key is a column already.
fn grouped(table: &str, key: &str, group: &str, filter: &str, repeats: bool) -> String {
    let repeats = if repeats {
        ""
    } else {
        " AND NOT r.suspected_repeat"
    };
    format!(
        "SELECT CAST({key} AS TEXT), r.scale, r.score, CAST(SUM(r.n) AS BIGINT), \
         CAST(SUM(r.nps_n) AS BIGINT), CAST(SUM(r.promoters) AS BIGINT), \
         CAST(SUM(r.detractors) AS BIGINT) \
         FROM {table} r WHERE {filter}{repeats} GROUP BY {group}, r.scale, r.score ORDER BY 1"
    )
}

/// Sums grouped by `key`, read from the rollups: per store and per day from the small
/// `rating_daily`, per weekday × hour and per touchpoint from `rating_rollup`.
pub(crate) fn cells_sql(d: &Dialect, ranges: &[StoreRange], repeats: bool, key: Key) -> Sql {
    let mut q = Sql::new(d);
    let filter = q.ranges(ranges);
    let (table, key, group) = match key {
        Key::Store => ("rating_daily", d.store_key.to_owned(), "r.store_id"),
        Key::Day => ("rating_daily", d.day_key.to_owned(), "r.local_date"),
        Key::Slot => (
            "rating_rollup",
            format!("({} * 24 + r.local_hour)", d.weekday),
            "1",
        ),
        Key::Touchpoint => ("rating_rollup", "r.touchpoint".to_owned(), "1"),
    };
    q.text = grouped(table, &key, group, &filter, repeats);
    q
}

/// Reason counts from `reason_rollup`: rows of (day text or '', reason, n).
pub(crate) fn reasons_sql(d: &Dialect, ranges: &[StoreRange], repeats: bool, daily: bool) -> Sql {
    let mut q = Sql::new(d);
    let filter = q.ranges(ranges);
    let day = if daily { d.day_key } else { "''" };
    let repeats = if repeats {
        ""
    } else {
        " AND NOT r.suspected_repeat"
    };
    q.text = format!(
        "SELECT CAST({day} AS TEXT), r.reason, CAST(SUM(r.n) AS BIGINT) FROM reason_rollup r \
         WHERE {filter}{repeats} GROUP BY 1, 2 ORDER BY 1, 2"
    );
    q
}

/// The report API's query (`GET /api/v1/reports`), from the rollups: cell rows keyed by
/// the group (`all` without one).
pub(crate) fn report_sql(d: &Dialect, q: &ReportQuery) -> Sql {
    let mut s = Sql::new(d);
    let from = s.bind(Param::Date(q.from));
    let to = s.bind(Param::Date(q.to));
    let mut filter = format!("r.local_date >= {from} AND r.local_date <= {to}");
    if let Some(store) = q.store_id {
        filter.push_str(&format!(" AND r.store_id = {}", s.bind(Param::Uuid(store))));
    }
    let (table, key, group) = match q.group_by {
        None => ("rating_daily", "'all'", "1"),
        Some(GroupBy::Store) => ("rating_daily", d.store_key, "r.store_id"),
        Some(GroupBy::Day) => ("rating_daily", d.day_key, "r.local_date"),
        Some(GroupBy::Hour) => ("rating_rollup", "r.local_hour", "1"),
        Some(GroupBy::Touchpoint) => ("rating_rollup", "r.touchpoint", "1"),
        Some(GroupBy::Reason) => ("reason_rollup", "r.reason", "1"),
    };
    s.text = grouped(table, key, group, &filter, q.include_repeats);
    s
}

/// Report groups from cell rows, in key order.
pub(crate) fn tallies(rows: Vec<CellRow>) -> Vec<Tally> {
    fold(rows)
        .into_iter()
        .map(|(key, s)| Tally {
            key,
            count: s.count(),
            satisfied: s.satisfied(),
            score_sum: s.score_sum(),
            distribution: s.distribution(),
            nps_responses: s.nps_responses,
            promoters: s.promoters,
            detractors: s.detractors,
        })
        .collect()
}

/// A row of [`cells_sql`].
pub(crate) struct CellRow {
    pub key: String,
    pub scale: u8,
    pub score: u8,
    pub cell: Cell,
}

/// Fold cell rows into sums per key, in key order.
pub(crate) fn fold(rows: Vec<CellRow>) -> BTreeMap<String, Sums> {
    let mut out: BTreeMap<String, Sums> = BTreeMap::new();
    for r in rows {
        out.entry(r.key).or_default().add(r.scale, r.score, r.cell);
    }
    out
}

fn corrupt(what: &str, v: &str) -> StorageError {
    StorageError::Corrupt(format!("{what} {v:?}"))
}

pub(crate) fn by_store(rows: Vec<CellRow>) -> Result<Vec<(Uuid, Sums)>, StorageError> {
    fold(rows)
        .into_iter()
        .map(|(k, s)| Ok((Uuid::parse_str(&k).map_err(|_| corrupt("store id", &k))?, s)))
        .collect()
}

pub(crate) fn parse_day(k: &str) -> Result<NaiveDate, StorageError> {
    NaiveDate::parse_from_str(k, "%Y-%m-%d").map_err(|_| corrupt("local date", k))
}

pub(crate) fn by_day(rows: Vec<CellRow>) -> Result<Vec<(NaiveDate, Sums)>, StorageError> {
    fold(rows)
        .into_iter()
        .map(|(k, s)| Ok((parse_day(&k)?, s)))
        .collect()
}

pub(crate) fn by_slot(rows: Vec<CellRow>) -> Result<Heatmap, StorageError> {
    let mut map: Heatmap = Box::new([[Sums::default(); 24]; 7]);
    for (k, s) in fold(rows) {
        let slot: usize = k.parse().map_err(|_| corrupt("heatmap slot", &k))?;
        let cell = map
            .get_mut(slot / 24)
            .and_then(|day| day.get_mut(slot % 24))
            .ok_or_else(|| corrupt("heatmap slot", &k))?;
        cell.merge(&s);
    }
    Ok(map)
}

pub(crate) fn by_text(rows: Vec<CellRow>) -> Vec<(String, Sums)> {
    fold(rows).into_iter().collect()
}

/// Most frequent first, then by slug.
pub(crate) fn reason_totals(rows: Vec<(String, String, u64)>) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = rows.into_iter().map(|(_, r, n)| (r, n)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

pub(crate) fn reason_days(
    rows: Vec<(String, String, u64)>,
) -> Result<Vec<(NaiveDate, String, u64)>, StorageError> {
    rows.into_iter()
        .map(|(d, r, n)| Ok((parse_day(&d)?, r, n)))
        .collect()
}

/// The comments query: rows of (id, store, occurred_at, local_date, score, scale,
/// touchpoint, repeat, comment, reasons), newest first, `limit + 1` of them.
///
/// It walks the narrow `comment_feed` ([`super::comment_feed`]: only ratings with a
/// comment, keyed by store and time) back from the range's end, filters on the score and
/// repeat flag it carries, and joins each row's rating for the rest, stopping at a full
/// page. A store with no comment in its range reads nothing.
pub(crate) fn comments_sql(d: &Dialect, q: &CommentQuery) -> Sql {
    let mut s = Sql::new(d);
    let mut filter = s.ranges_of("f", &q.ranges);
    if !q.include_repeats {
        filter.push_str(" AND NOT f.suspected_repeat");
    }
    if let Some(score) = q.score {
        filter.push_str(&format!(
            " AND f.score = CAST({} AS BIGINT)",
            s.bind(Param::Int(score.into()))
        ));
    }
    if let Some(reason) = &q.reason {
        filter.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM rating_reasons x WHERE x.rating_id = r.id \
             AND x.reason = {})",
            s.bind(Param::Text(reason.clone()))
        ));
    }
    if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        filter.push_str(&format!(
            " AND COALESCE(c.comment, r.comment) {} {} ESCAPE '\\'",
            d.ilike,
            s.bind(Param::Text(format!("%{escaped}%")))
        ));
    }
    // The same local dates as UTC times, widened by the largest time zone offsets, so the
    // feed walks (store, occurred_at) back from the range's end and stops at a full page.
    if let (Some(from), Some(to)) = (
        q.ranges.iter().map(|r| r.from).min(),
        q.ranges.iter().map(|r| r.to).max(),
    ) {
        let bound = |d: NaiveDate, days: i64| {
            (d + Duration::days(days))
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
        };
        if let (Some(lo), Some(hi)) = (bound(from, -1), bound(to, 2)) {
            let lo = s.bind(Param::Time(lo));
            let hi = s.bind(Param::Time(hi));
            filter.push_str(&format!(
                " AND f.occurred_at >= {lo} AND f.occurred_at < {hi}"
            ));
        }
    }
    if let Some(c) = q.before {
        let at = s.bind(Param::Time(c.occurred_at));
        let at2 = s.bind(Param::Time(c.occurred_at));
        let id = s.bind(Param::Uuid(c.rating_id));
        filter.push_str(&format!(
            " AND (f.occurred_at < {at} OR (f.occurred_at = {at2} AND f.rating_id < {id}))"
        ));
    }
    let limit = s.bind(Param::Int(q.limit.min(MAX_PAGE) as i64 + 1));
    s.text = format!(
        "SELECT r.id, r.store_id, r.occurred_at, r.local_date, r.score, r.scale, r.touchpoint, \
         r.suspected_repeat, COALESCE(c.comment, r.comment), {reasons} \
         FROM comment_feed f {join} ratings r ON r.id = f.rating_id \
         LEFT JOIN rating_comments c ON c.rating_id = r.id \
         WHERE {filter} AND COALESCE(c.comment, r.comment) IS NOT NULL \
         ORDER BY f.occurred_at DESC, f.rating_id DESC LIMIT {limit}",
        reasons = d.reasons_of_r,
        join = d.feed_join,
    );
    s
}

/// Trim a fetched `limit + 1` rows to a page, with the cursor for the next one.
pub(crate) fn comment_page(mut rows: Vec<CommentRow>, limit: usize) -> CommentPage {
    let limit = limit.min(MAX_PAGE);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|r| CommentCursor {
            occurred_at: r.occurred_at,
            rating_id: r.rating_id,
        })
    } else {
        None
    };
    CommentPage { rows, next }
}

/// The export query: rows of (id, store, device, occurred_at, local_date, local_hour,
/// touchpoint, survey_version, scale, score, nps, repeat, comment, reasons).
pub(crate) fn export_sql(
    d: &Dialect,
    ranges: &[StoreRange],
    after: Option<Uuid>,
    limit: usize,
) -> Sql {
    let mut s = Sql::new(d);
    let mut filter = s.ranges(ranges);
    if let Some(after) = after {
        filter.push_str(&format!(" AND r.id > {}", s.bind(Param::Uuid(after))));
    }
    let limit = s.bind(Param::Int(limit.min(MAX_PAGE) as i64));
    s.text = format!(
        "SELECT r.id, r.store_id, r.device_id, r.occurred_at, r.local_date, r.local_hour, \
         r.touchpoint, r.survey_version, r.scale, r.score, r.nps, r.suspected_repeat, \
         COALESCE(c.comment, r.comment), {reasons} \
         FROM ratings r LEFT JOIN rating_comments c ON c.rating_id = r.id \
         WHERE {filter} ORDER BY r.id LIMIT {limit}",
        reasons = d.reasons_of_r
    );
    s
}

/// Reasons from their comma-joined form.
pub(crate) fn split_reasons(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// Fields of a stored `device_health` body (see `countertop_protocol::DeviceHealth`).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct HealthBody {
    #[serde(default)]
    pub queue_depth: Option<u64>,
    #[serde(default)]
    pub oldest_unsent_age_seconds: Option<u64>,
    #[serde(default)]
    pub app_version: Option<String>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub quarantined: Option<u64>,
}

/// A kiosk's health from its row, its newest health event (receipt and device times)
/// and that event's body. A body that does not read leaves the health fields empty.
#[allow(clippy::too_many_arguments)]
pub(crate) fn device_health(
    device_id: Uuid,
    store_id: Uuid,
    name: Option<String>,
    enrolled_at: DateTime<Utc>,
    revoked: bool,
    last_seen: Option<DateTime<Utc>>,
    health: Option<(DateTime<Utc>, DateTime<Utc>)>,
    body: Option<&str>,
) -> DeviceHealth {
    let body: HealthBody = body
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or_default();
    DeviceHealth {
        device_id,
        store_id,
        name,
        enrolled_at,
        revoked,
        last_seen,
        health_at: health.map(|(at, _)| at),
        app_version: body.app_version,
        queue_depth: body.queue_depth,
        oldest_unsent_age_seconds: body.oldest_unsent_age_seconds,
        last_error: body.last_error,
        quarantined: body.quarantined,
        clock_offset_seconds: health.map(|(at, device)| (at - device).num_seconds()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn periods_follow_each_stores_local_date() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // 20:00 UTC on the 1st is already the 2nd in Ho Chi Minh City (UTC+7).
        let now = at("2026-12-01T20:00:00Z");
        let stores = [(a, chrono_tz::UTC), (b, chrono_tz::Asia::Ho_Chi_Minh)];
        let (cur, prev) = period_ranges(Period::Today, &stores, now);
        assert_eq!((cur[0].from, cur[0].to), (d("2026-12-01"), d("2026-12-01")));
        assert_eq!((cur[1].from, cur[1].to), (d("2026-12-02"), d("2026-12-02")));
        assert_eq!(
            (prev[1].from, prev[1].to),
            (d("2026-12-01"), d("2026-12-01"))
        );
        let (cur, prev) = period_ranges(Period::Days7, &stores, now);
        assert_eq!((cur[0].from, cur[0].to), (d("2026-11-25"), d("2026-12-01")));
        assert_eq!(
            (prev[0].from, prev[0].to),
            (d("2026-11-18"), d("2026-11-24"))
        );
        let (cur, prev) = period_ranges(Period::Days30, &stores, now);
        assert_eq!((cur[1].from, cur[1].to), (d("2026-11-03"), d("2026-12-02")));
        assert_eq!(
            (prev[1].from, prev[1].to),
            (d("2026-10-04"), d("2026-11-02"))
        );
    }

    #[test]
    fn a_quarter_runs_from_its_first_day_and_the_previous_period_has_its_length() {
        let a = Uuid::from_u128(1);
        let now = at("2026-05-10T12:00:00Z");
        let (cur, prev) = period_ranges(Period::Quarter, &[(a, chrono_tz::UTC)], now);
        assert_eq!((cur[0].from, cur[0].to), (d("2026-04-01"), d("2026-05-10")));
        // 40 days, so the 40 days before.
        assert_eq!(
            (prev[0].from, prev[0].to),
            (d("2026-02-20"), d("2026-03-31"))
        );
        let now = at("2026-12-31T23:30:00Z");
        let (cur, _) = period_ranges(Period::Quarter, &[(a, chrono_tz::UTC)], now);
        assert_eq!(cur[0].from, d("2026-10-01"));
        // New Year already began in Ho Chi Minh City: a new quarter of one day.
        let (cur, prev) = period_ranges(Period::Quarter, &[(a, chrono_tz::Asia::Ho_Chi_Minh)], now);
        assert_eq!((cur[0].from, cur[0].to), (d("2027-01-01"), d("2027-01-01")));
        assert_eq!(
            (prev[0].from, prev[0].to),
            (d("2026-12-31"), d("2026-12-31"))
        );
    }

    #[test]
    fn a_custom_period_is_the_same_dates_everywhere_and_is_put_in_order() {
        let a = Uuid::from_u128(1);
        let p = Period::Custom {
            from: d("2026-03-10"),
            to: d("2026-03-01"),
        };
        let (cur, prev) = period_ranges(p, &[(a, chrono_tz::Asia::Tokyo)], Utc::now());
        assert_eq!((cur[0].from, cur[0].to), (d("2026-03-01"), d("2026-03-10")));
        assert_eq!(
            (prev[0].from, prev[0].to),
            (d("2026-02-19"), d("2026-02-28"))
        );
    }

    #[test]
    fn sums_keep_the_scales_apart_and_derive_counts_exactly() {
        let mut s = Sums::default();
        let one = Cell {
            n: 1,
            ..Cell::default()
        };
        s.add(5, 5, one);
        s.add(5, 3, one);
        s.add(4, 3, one);
        s.add(4, 1, Cell { n: 2, ..one });
        // Out of range: ignored, not a panic.
        s.add(5, 0, one);
        s.add(4, 9, one);
        assert_eq!(s.count(), 5);
        assert_eq!(s.satisfied(), 2, "5 of 5 and 3 of 4");
        assert_eq!(s.score_sum(), 5 + 3 + 3 + 2);
        assert_eq!(s.distribution(), [2, 0, 2, 0, 1]);
    }

    #[test]
    fn comment_cursors_round_trip_and_refuse_junk() {
        let c = CommentCursor {
            occurred_at: at("2026-11-20T10:00:00.123456Z"),
            rating_id: Uuid::now_v7(),
        };
        assert_eq!(CommentCursor::from_token(&c.to_token()), Some(c));
        for junk in ["", "_", "12", "x_y", "1_zz", "99999999999999999999_0"] {
            assert_eq!(CommentCursor::from_token(junk), None, "{junk}");
        }
    }

    #[test]
    fn ranges_with_the_same_dates_share_one_in_list() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let r = |s, f: &str, t: &str| StoreRange {
            store_id: s,
            from: d(f),
            to: d(t),
        };
        let q = cells_sql(
            &SQLITE,
            &[
                r(a, "2026-01-01", "2026-01-07"),
                r(b, "2026-01-01", "2026-01-07"),
            ],
            false,
            Key::Store,
        );
        assert_eq!(q.params.len(), 4);
        assert!(q.text.contains("r.store_id IN (?3, ?4)"), "{}", q.text);
        let q = cells_sql(&SQLITE, &[], false, Key::Store);
        assert!(q.text.contains("(1 = 0)"));
    }

    #[test]
    fn a_kiosk_is_offline_only_after_silence_during_opening_hours() {
        let hours = OpeningHours::parse_days(&[
            "08:00-18:00",
            "08:00-18:00",
            "08:00-18:00",
            "08:00-18:00",
            "08:00-18:00",
            "closed",
            "closed",
        ])
        .expect("hours");
        let health = |last: &str| DeviceHealth {
            device_id: Uuid::from_u128(1),
            store_id: Uuid::from_u128(2),
            name: None,
            enrolled_at: at("2026-11-01T00:00:00Z"),
            revoked: false,
            last_seen: Some(at(last)),
            health_at: None,
            app_version: None,
            queue_depth: None,
            oldest_unsent_age_seconds: None,
            last_error: None,
            quarantined: None,
            clock_offset_seconds: None,
        };
        let after = Duration::minutes(30);
        let utc = chrono_tz::UTC;
        // Tuesday 2026-12-01: silent from 17:50 to 08:15 next day: 10 + 15 open minutes.
        let h = health("2026-12-01T17:50:00Z");
        assert!(!h.is_offline(&hours, utc, at("2026-12-02T08:15:00Z"), after));
        assert!(h.is_offline(&hours, utc, at("2026-12-02T08:21:00Z"), after));
        // Friday evening to Monday morning: the weekend is closed.
        let h = health("2026-12-04T17:59:00Z");
        assert!(!h.is_offline(&hours, utc, at("2026-12-07T08:10:00Z"), after));
        // Always open: plain elapsed time.
        let h = health("2026-12-05T03:00:00Z");
        assert!(h.is_offline(
            &OpeningHours::default(),
            utc,
            at("2026-12-05T03:31:00Z"),
            after
        ));
        // A revoked kiosk is not "offline": it is gone.
        let mut h = health("2026-01-01T00:00:00Z");
        h.revoked = true;
        assert!(!h.is_offline(
            &OpeningHours::default(),
            utc,
            at("2026-12-05T03:31:00Z"),
            after
        ));
        // Never pushed: counted from enrollment; in the store's own time zone.
        let mut h = health("2026-12-01T00:00:00Z");
        h.last_seen = None;
        h.enrolled_at = at("2026-12-01T00:00:00Z");
        // 00:00 UTC is 07:00 in Ho Chi Minh City: open from 08:00, so 01:29 UTC is 29 min.
        let hcm = chrono_tz::Asia::Ho_Chi_Minh;
        assert!(!h.is_offline(&hours, hcm, at("2026-12-01T01:29:00Z"), after));
        assert!(h.is_offline(&hours, hcm, at("2026-12-01T01:31:00Z"), after));
    }
}
