//! Regulars: profiles with their search index, visits, erasures, and the merge with what
//! head office sends down.
//!
//! A profile, its index rows and its outbox event are written in one transaction, so the
//! search never finds a profile HQ will not hear of. An erasure deletes every copy of a
//! regular's data the kiosk holds (profile, index, visits, queued events) in one
//! transaction, with `secure_delete` on, then checkpoints the WAL so no old page keeps it.
//! Nothing here logs a personal field: tracing lines carry ids only.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use countertop_protocol::{
    Consent, Hlc, NewRegular, Regular, RegularErased, RegularsResponse, Visit, VisitRecord,
};
use rusqlite::{params, CachedStatement, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

use super::{hash_pin, verify_pin, Result, Store, StoreError};
use merged::{Merged, Seen};

/// How many digits a regular's personal code has.
pub const CODE_DIGITS: usize = 4;
use crate::regulars::{prefix_upper_bound, words, Query, RegularCard, RegularEdit};

/// What checking one candidate costs against a row walked in last-seen order: a walked
/// row is the next row of `regular_search`, a candidate one lookup into it by (seen, key).
const LOOKUP_COST: f64 = 3.0;

/// What reading one candidate's index row costs against a walked row: the next row of a
/// narrow index range, (seen, key) and nothing to check.
const INDEX_ROW_COST: f64 = 0.3;

/// How many vocabulary words a name prefix may start and still be read as merged streams,
/// most recent first, one per word.
const MERGED_STREAMS: usize = 8;

/// How many word pairs (one per two vocabulary words two name prefixes start) may be read
/// as merged streams, most recent first, one per pair.
const PAIR_STREAMS: usize = 12;

/// How far a phone filter's index rows are counted. Past this many, a phone filter is
/// common enough that walking the most recent regulars fills a page sooner.
const PHONE_COUNT_LIMIT: i64 = 5000;

const COLUMNS: &str = "r.id, r.hlc, r.name, r.phone, r.usual, r.dietary, r.consent, r.code_hash";

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {text:?}: {e}")))
}

fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What one page pulled from HQ changed here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullApplied {
    pub profiles: usize,
    pub visits: usize,
    pub erased: usize,
}

impl std::ops::AddAssign for PullApplied {
    fn add_assign(&mut self, other: PullApplied) {
        self.profiles += other.profiles;
        self.visits += other.visits;
        self.erased += other.erased;
    }
}

/// How many records (erasures, profiles, visits) one transaction of a pull applies. HQ
/// sends 500 regulars and their visits a page, about 1,000 records; applied whole, a page
/// held a tap queued on the core for ~130 ms (its median, idle), a part of 100 holds it
/// for ~10 ms (`benches/README.md`, "First pull in parts").
pub const PULL_PART: usize = 100;

/// Part of a pulled page, applied in one transaction. Only a page's last part carries its
/// cursor, so a kiosk stopped between parts pulls the page again; applying it twice is
/// harmless (profiles by their clock, visits by id, erasures by id).
#[derive(Debug, Clone, Copy)]
pub struct PullPart<'a> {
    pub erased: &'a [RegularErased],
    pub profiles: &'a [Regular],
    pub visits: &'a [VisitRecord],
    pub cursor: Option<u64>,
}

/// `page` in parts of at most `size` records, in the order they must be applied:
/// erasures, then profiles, then visits (so a visit's regular is stored before it). An
/// empty page is one empty part, which moves the cursor.
pub fn pull_parts(page: &RegularsResponse, size: usize) -> Vec<PullPart<'_>> {
    let size = size.max(1);
    let (e, p) = (page.erased.len(), page.profiles.len());
    let total = e + p + page.visits.len();
    // The part of one list that the records start..end (counted across all three) hold.
    fn within<T>(list: &[T], offset: usize, start: usize, end: usize) -> &[T] {
        let clamp = |i: usize| i.clamp(offset, offset + list.len()) - offset;
        &list[clamp(start)..clamp(end)]
    }
    let mut parts = Vec::with_capacity(total.div_ceil(size).max(1));
    let mut start = 0;
    loop {
        let end = (start + size).min(total);
        parts.push(PullPart {
            erased: within(&page.erased, 0, start, end),
            profiles: within(&page.profiles, e, start, end),
            visits: within(&page.visits, e + p, start, end),
            cursor: (end == total).then_some(page.cursor),
        });
        if end == total {
            return parts;
        }
        start = end;
    }
}

/// One search condition: the index rows that find its candidates, and the check of a
/// regular's folded name and phone digits against it. The check is the rule; the index
/// only finds candidates faster.
enum Filter {
    /// A folded prefix that must start a word of the name.
    Word(String),
    /// Phone digits the number ends with.
    PhoneEndsWith(String),
    /// Phone digits the number contains without ending with them.
    PhoneContainsOnly(String),
    /// Exactly these phone digits.
    PhoneIs(String),
}

impl Filter {
    fn matches(&self, folded: &str, phone: Option<&str>) -> bool {
        match self {
            Filter::Word(prefix) => word_starts(folded, prefix),
            Filter::PhoneEndsWith(d) => phone.is_some_and(|p| p.ends_with(d.as_str())),
            Filter::PhoneContainsOnly(d) => {
                phone.is_some_and(|p| p.contains(d.as_str()) && !p.ends_with(d.as_str()))
            }
            Filter::PhoneIs(d) => phone == Some(d.as_str()),
        }
    }

    /// The index rows, as (seen, key), that hold every regular this filter matches, and
    /// perhaps some more.
    fn candidates(&self) -> (&'static str, Vec<String>) {
        match self {
            Filter::Word(prefix) => (
                "SELECT seen, regular FROM regular_words WHERE word >= ?1 AND word < ?2",
                vec![prefix.clone(), prefix_upper_bound(prefix)],
            ),
            Filter::PhoneEndsWith(d) | Filter::PhoneIs(d) => (
                "SELECT seen, regular FROM regular_phones WHERE suffix = ?1",
                vec![d.clone()],
            ),
            Filter::PhoneContainsOnly(d) => (
                "SELECT seen, regular FROM regular_phones WHERE suffix >= ?1 AND suffix < ?2",
                vec![d.clone(), prefix_upper_bound(d)],
            ),
        }
    }
}

/// Whether some word of a folded name (words joined by single spaces) starts with `prefix`.
fn word_starts(folded: &str, prefix: &str) -> bool {
    folded.split(' ').any(|w| w.starts_with(prefix))
}

/// Every pair of distinct words of a folded name, each written smaller word first, so a
/// query with two rare-together words finds its few regulars by one index range.
fn word_pairs(words: &[&str]) -> Vec<String> {
    let mut pairs = Vec::new();
    for (i, a) in words.iter().enumerate() {
        for b in &words[i + 1..] {
            if a != b {
                let (x, y) = if a < b { (a, b) } else { (b, a) };
                pairs.push(format!("{x} {y}"));
            }
        }
    }
    pairs
}

/// What the search index holds of one regular: its key, when it was last seen (`seen`,
/// milliseconds), its folded name and its phone digits, as a `regulars` row has them.
pub(super) struct Indexed {
    pub key: i64,
    pub seen: i64,
    pub folded: String,
    pub phone: Option<String>,
}

impl Indexed {
    /// The columns [`Indexed::from_row`] reads, from `regulars`.
    const COLUMNS: &'static str = "key, seen, folded, phone";

    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Indexed {
            key: row.get(0)?,
            seen: row.get(1)?,
            folded: row.get(2)?,
            phone: row.get(3)?,
        })
    }

    fn words(&self) -> Vec<&str> {
        self.folded.split(' ').filter(|w| !w.is_empty()).collect()
    }

    fn suffixes(&self) -> impl Iterator<Item = &str> {
        self.phone.as_deref().map(suffixes).into_iter().flatten()
    }
}

/// The index rows of one regular, by table and token column, each keyed (token, seen,
/// regular): the one list that writing, removing and moving them all go through.
fn index_rows(regular: &Indexed) -> [(&'static str, &'static str, Vec<String>); 3] {
    let words = regular.words();
    [
        (
            "regular_words",
            "word",
            words.iter().map(|w| (*w).to_owned()).collect(),
        ),
        ("regular_pairs", "pair", word_pairs(&words)),
        (
            "regular_phones",
            "suffix",
            regular.suffixes().map(str::to_owned).collect(),
        ),
    ]
}

/// Writes a regular's name words, word pairs and phone suffixes to the index, each with
/// its `seen` (the vocabulary follows `regular_words` by trigger).
pub(super) fn index_regular(conn: &rusqlite::Connection, regular: &Indexed) -> Result<()> {
    for (table, column, tokens) in index_rows(regular) {
        let mut insert = conn.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table} ({column}, seen, regular) VALUES (?1, ?2, ?3)"
        ))?;
        for token in tokens {
            insert.execute(params![token, regular.seen, regular.key])?;
        }
    }
    Ok(())
}

/// Removes what [`index_regular`] wrote for this regular, row by row: the index is keyed
/// by token, so this reads a few rows where deleting by regular would scan it whole.
fn unindex_regular(conn: &rusqlite::Connection, regular: &Indexed) -> Result<()> {
    for (table, column, tokens) in index_rows(regular) {
        let mut delete = conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE {column} = ?1 AND seen = ?2 AND regular = ?3"
        ))?;
        for token in tokens {
            delete.execute(params![token, regular.seen, regular.key])?;
        }
    }
    Ok(())
}

/// Moves a regular's index rows to a new `seen` (a later visit), in place: no row is
/// deleted, so the vocabulary's counts do not churn.
fn reseen_regular(conn: &rusqlite::Connection, regular: &Indexed, seen: i64) -> Result<()> {
    for (table, column, tokens) in index_rows(regular) {
        let mut update = conn.prepare_cached(&format!(
            "UPDATE {table} SET seen = ?4 WHERE {column} = ?1 AND seen = ?2 AND regular = ?3"
        ))?;
        for token in tokens {
            update.execute(params![token, regular.seen, regular.key, seen])?;
        }
    }
    Ok(())
}

/// The index's view of a stored regular, by id.
fn indexed(conn: &rusqlite::Connection, id: &str) -> Result<Option<Indexed>> {
    let sql = format!("SELECT {} FROM regulars WHERE id = ?1", Indexed::COLUMNS);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], Indexed::from_row)
        .optional()?)
}

/// A text column read in place, without copying.
fn text_ref<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<Option<&'r str>> {
    match row.get_ref(index)? {
        rusqlite::types::ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("search row: {e}"))),
        _ => Ok(None),
    }
}

/// A regulars row before its JSON columns are parsed.
struct RawRegular {
    id: String,
    hlc: String,
    name: String,
    phone: Option<String>,
    usual: String,
    dietary: Option<String>,
    consent: String,
    code_hash: Option<String>,
}

impl RawRegular {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRegular {
            id: row.get(0)?,
            hlc: row.get(1)?,
            name: row.get(2)?,
            phone: row.get(3)?,
            usual: row.get(4)?,
            dietary: row.get(5)?,
            consent: row.get(6)?,
            code_hash: row.get(7)?,
        })
    }

    /// The profile, validated again: a row that no longer validates is corrupt. The error
    /// names the id only.
    fn parse(self) -> Result<Regular> {
        let id = self.id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("regular {id}: bad {what}"));
        let new = NewRegular {
            regular_id: Uuid::parse_str(&id).map_err(|_| corrupt("id"))?,
            hlc: Hlc::from_sortable(&self.hlc).ok_or_else(|| corrupt("clock"))?,
            name: self.name,
            phone: self.phone,
            usual: serde_json::from_str(&self.usual).map_err(|_| corrupt("usual order"))?,
            dietary: self.dietary,
            consent: serde_json::from_str(&self.consent).map_err(|_| corrupt("consent"))?,
            code_hash: self.code_hash,
        };
        Regular::new(new).map_err(|_| corrupt("profile"))
    }
}

/// The suffixes of a phone's digits, longest first: "ends with" is an exact match on one,
/// "contains" a prefix match on any.
pub(super) fn suffixes(digits: &str) -> impl Iterator<Item = &str> {
    (0..digits.len()).map(move |i| &digits[i..])
}

/// The device's id, which is the node of every clock stamp it makes.
fn device_uuid(tx: &Transaction<'_>) -> Result<Uuid> {
    let text: String = tx.query_row("SELECT device_uuid FROM device WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Corrupt(format!("device id: {e}")))
}

fn last_hlc(tx: &Transaction<'_>) -> Result<Option<Hlc>> {
    let text: Option<String> =
        tx.query_row("SELECT last_hlc FROM device WHERE id = 1", [], |r| r.get(0))?;
    Ok(text.as_deref().and_then(Hlc::from_sortable))
}

fn set_last_hlc(tx: &Transaction<'_>, hlc: Hlc) -> Result<()> {
    tx.execute(
        "UPDATE device SET last_hlc = ?1 WHERE id = 1",
        [hlc.to_sortable()],
    )?;
    Ok(())
}

fn is_tombstoned(tx: &rusqlite::Connection, id: Uuid) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM regular_tombstones WHERE regular_id = ?1",
            [id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Reads a stored profile.
fn load(conn: &rusqlite::Connection, id: Uuid) -> Result<Option<Regular>> {
    let sql = format!("SELECT {COLUMNS} FROM regulars r WHERE r.id = ?1");
    let raw = conn
        .query_row(&sql, [id.to_string()], RawRegular::from_row)
        .optional()?;
    raw.map(RawRegular::parse).transpose()
}

/// Writes a profile and its index rows, replacing an older version of it.
fn write_profile(tx: &Transaction<'_>, regular: &Regular, now: DateTime<Utc>) -> Result<()> {
    let id = regular.id().to_string();
    if let Some(old) = indexed(tx, &id)? {
        unindex_regular(tx, &old)?;
    }
    let folded = words(regular.name()).join(" ");
    let now = time_text(now);
    let (key, seen): (i64, i64) = tx.query_row(
        "INSERT INTO regulars (id, hlc, name, phone, usual, dietary, consent, folded,
                               created_at, updated_at, last_seen, code_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, name = excluded.name,
             phone = excluded.phone, usual = excluded.usual, dietary = excluded.dietary,
             consent = excluded.consent, folded = excluded.folded,
             updated_at = excluded.updated_at, code_hash = excluded.code_hash
         RETURNING key, seen",
        params![
            id,
            regular.hlc().to_sortable(),
            regular.name(),
            regular.phone(),
            to_json(regular.usual())?,
            regular.dietary(),
            to_json(regular.consent())?,
            folded,
            now,
            regular.code_hash(),
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    index_regular(
        tx,
        &Indexed {
            key,
            seen,
            folded,
            phone: regular.phone().map(str::to_owned),
        },
    )
}

/// Queues an event about a regular, naming it so an erasure can find it.
fn queue_regular_event(
    tx: &Transaction<'_>,
    event_id: Uuid,
    kind: &str,
    at: &DateTime<FixedOffset>,
    body: &impl Serialize,
    regular: Uuid,
) -> Result<()> {
    let seq = super::ratings::next_seq(tx)?;
    super::ratings::queue_event(tx, seq, event_id, kind, at, body, None)?;
    tx.execute(
        "UPDATE outbox SET regular_id = ?2 WHERE seq = ?1",
        params![seq, regular.to_string()],
    )?;
    Ok(())
}

/// Deletes every copy of a regular's data and leaves a tombstone; true if there was a
/// profile. Queued upserts and visits go too: sent after the erasure, they would carry
/// the data back to HQ.
fn purge(tx: &Transaction<'_>, id: Uuid, erased_at: DateTime<Utc>) -> Result<bool> {
    let text = id.to_string();
    let old = indexed(tx, &text)?;
    if let Some(old) = &old {
        unindex_regular(tx, old)?;
        tx.execute("DELETE FROM regulars WHERE key = ?1", [old.key])?;
    }
    tx.execute("DELETE FROM visits WHERE regular_id = ?1", [&text])?;
    tx.execute(
        "DELETE FROM outbox WHERE regular_id = ?1 AND kind IN ('regular_upserted', 'visit')",
        [&text],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO regular_tombstones (regular_id, erased_at) VALUES (?1, ?2)",
        params![text, time_text(erased_at)],
    )?;
    Ok(old.is_some())
}

impl Store {
    /// Creates or edits a profile: stamps it, validates it, and writes it with its index
    /// and a `regular_upserted` event in one transaction. Refused input comes back as
    /// [`StoreError::Invalid`] with a message fit for the screen.
    pub fn save_regular(
        &mut self,
        edit: &RegularEdit,
        at: DateTime<FixedOffset>,
    ) -> Result<RegularCard> {
        let now = at.with_timezone(&Utc);
        let tx = self.conn.transaction()?;
        let existing = match edit.id {
            Some(id) if is_tombstoned(&tx, id)? => {
                return Err(StoreError::Invalid(
                    "this regular asked to be forgotten; their profile cannot be saved again"
                        .into(),
                ))
            }
            Some(id) => Some(load(&tx, id)?.ok_or_else(|| {
                StoreError::Invalid("this regular is no longer on this kiosk".into())
            })?),
            None => None,
        };
        let consent = stamp_consent(existing.as_ref().map(Regular::consent), edit, now);
        // A new code replaces the old one; without one, the code chosen before stays.
        let code_hash = match &edit.code {
            Some(code) => {
                check_code_format(code)?;
                Some(hash_pin(code)?)
            }
            None => existing
                .as_ref()
                .and_then(|r| r.code_hash().map(str::to_owned)),
        };
        let node = device_uuid(&tx)?;
        let hlc = Hlc::tick(last_hlc(&tx)?, now.timestamp_millis(), node);
        let regular = Regular::new(NewRegular {
            regular_id: edit.id.unwrap_or_else(Uuid::now_v7),
            hlc,
            name: edit.name.clone(),
            phone: edit.phone.clone().filter(|p| !p.trim().is_empty()),
            usual: edit.usual.clone(),
            dietary: edit.dietary.clone().filter(|_| edit.dietary_consent),
            consent,
            code_hash,
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        set_last_hlc(&tx, hlc)?;
        write_profile(&tx, &regular, now)?;
        queue_regular_event(
            &tx,
            Uuid::now_v7(),
            "regular_upserted",
            &at,
            &NewRegular::from(regular.clone()),
            regular.id(),
        )?;
        tx.commit()?;
        tracing::info!("regular {} saved", regular.id());
        self.regular_card(regular.id())?
            .ok_or_else(|| StoreError::Corrupt(format!("regular {} vanished", regular.id())))
    }

    /// One regular's card, if the profile is here.
    pub fn regular_card(&self, id: Uuid) -> Result<Option<RegularCard>> {
        let sql = format!("SELECT {COLUMNS} FROM regulars r WHERE r.id = ?1");
        let raw = self
            .conn
            .query_row(&sql, [id.to_string()], RawRegular::from_row)
            .optional()?;
        raw.map(|raw| self.card(raw)).transpose()
    }

    /// Up to `limit` regulars matching a search box's text, most recently seen first.
    pub fn search_regulars(&self, text: &str, limit: usize) -> Result<Vec<RegularCard>> {
        let limit = limit.min(1000);
        let keys = match Query::parse(text) {
            Query::Recent => self.ranked(&[], limit)?,
            Query::Words(words) => {
                let filters: Vec<Filter> = words.into_iter().map(Filter::Word).collect();
                self.ranked(&filters, limit)?
            }
            Query::Phone(digits) => {
                let mut found = self.ranked(&[Filter::PhoneEndsWith(digits.clone())], limit)?;
                if found.len() < limit {
                    let inner = Filter::PhoneContainsOnly(digits);
                    found.extend(self.ranked(&[inner], limit - found.len())?);
                }
                found
            }
        };
        self.profiles(&keys)?
            .into_iter()
            .map(|raw| self.card(raw))
            .collect()
    }

    /// The regular with exactly this phone number (as typed, any punctuation), if any.
    pub fn find_by_phone(&self, phone: &str) -> Result<Option<RegularCard>> {
        let digits = countertop_protocol::phone_digits(phone);
        if digits.is_empty() {
            return Ok(None);
        }
        let keys = self.ranked(&[Filter::PhoneIs(digits)], 1)?;
        self.profiles(&keys)?
            .into_iter()
            .next()
            .map(|raw| self.card(raw))
            .transpose()
    }

    /// The record behind a phone number, only with its owner's personal code: the one way
    /// "I'm already a regular" opens a record without staff. A wrong number and a wrong
    /// code look alike, and take as long (a hash is checked either way), so the answer
    /// never tells a stranger whether a number belongs to a regular.
    pub fn open_with_code(&self, phone: &str, code: &str) -> Result<Option<RegularCard>> {
        let card = self.find_by_phone(phone)?;
        let matches = match card.as_ref().and_then(|c| c.regular.code_hash()) {
            Some(hash) => verify_pin(code, hash),
            None => {
                let _ = verify_pin(code, decoy_hash());
                false
            }
        };
        Ok(card.filter(|_| matches))
    }

    /// How many profiles are stored.
    pub fn regular_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM regulars", [], |r| r.get(0))?)
    }

    /// Records a visit and queues its `visit` event, whose event id is the visit's id.
    pub fn log_visit(
        &mut self,
        regular: Uuid,
        rating: Option<(Uuid, bool)>,
        at: DateTime<FixedOffset>,
    ) -> Result<Uuid> {
        let tx = self.conn.transaction()?;
        let known = tx
            .query_row(
                "SELECT 1 FROM regulars WHERE id = ?1",
                [regular.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !known {
            return Err(StoreError::Invalid(
                "this regular is no longer on this kiosk".into(),
            ));
        }
        let id = Uuid::now_v7();
        let visit = Visit {
            regular_id: regular,
            rating_id: rating.map(|(id, _)| id),
            unhappy: rating.map(|(_, unhappy)| unhappy),
        };
        insert_visit(&tx, id, at.with_timezone(&Utc), &visit)?;
        queue_regular_event(&tx, id, "visit", &at, &visit, regular)?;
        tx.commit()?;
        tracing::info!("visit {id} of regular {regular} logged");
        Ok(id)
    }

    /// "Forget me", asked on this kiosk: purges the regular and queues `regular_erased`
    /// so HQ and every other kiosk purge them too.
    pub fn erase_regular(&mut self, regular: Uuid, at: DateTime<FixedOffset>) -> Result<()> {
        let tx = self.conn.transaction()?;
        erase(&tx, regular, &at)?;
        tx.commit()?;
        self.checkpoint_wal()?;
        tracing::info!("regular {regular} erased");
        Ok(())
    }

    /// Keeps the consent text's promise: a regular not seen for [`KEPT_AFTER_LAST_VISIT`]
    /// is erased as if they had asked (here now, and everywhere once the tombstone syncs).
    /// Returns how many were.
    pub fn erase_lapsed_regulars(&mut self, at: DateTime<FixedOffset>) -> Result<usize> {
        let cutoff = time_text(at.with_timezone(&Utc) - KEPT_AFTER_LAST_VISIT);
        let lapsed: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM regulars INDEXED BY regulars_by_seen WHERE last_seen < ?1",
            )?
            .query_map([cutoff], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if lapsed.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        for id in &lapsed {
            let id = Uuid::parse_str(id)
                .map_err(|_| StoreError::Corrupt(format!("regular id {id:?}")))?;
            erase(&tx, id, &at)?;
        }
        tx.commit()?;
        self.checkpoint_wal()?;
        Ok(lapsed.len())
    }

    /// Purges a regular erased elsewhere (a tombstone from HQ, or HQ refusing an upload
    /// for an erased id). Nothing is queued: HQ already knows.
    pub fn purge_regular(&mut self, regular: Uuid, erased_at: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.transaction()?;
        purge(&tx, regular, erased_at)?;
        tx.commit()?;
        self.checkpoint_wal()?;
        tracing::info!("regular {regular} purged (erased elsewhere)");
        Ok(())
    }

    /// The regulars named by these outbox events (for events HQ refused as erased).
    pub fn regulars_of_events(&self, events: &[Uuid]) -> Result<Vec<Uuid>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT regular_id FROM outbox WHERE event_id = ?1")?;
        let mut found = Vec::new();
        for event in events {
            let id: Option<Option<String>> = stmt
                .query_row([event.to_string()], |r| r.get(0))
                .optional()?;
            if let Some(id) = id.flatten().and_then(|t| Uuid::parse_str(&t).ok()) {
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        Ok(found)
    }

    /// Whether a regular was erased (here or elsewhere).
    pub fn is_erased(&self, regular: Uuid) -> Result<bool> {
        is_tombstoned(&self.conn, regular)
    }

    /// Where the regulars pull goes on from.
    pub fn regulars_cursor(&self) -> Result<u64> {
        let cursor: i64 = self.conn.query_row(
            "SELECT regulars_cursor FROM sync_state WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(cursor.max(0) as u64)
    }

    /// Merges one page from HQ, and moves the cursor past it, in one transaction:
    /// profiles replace ours only when their clock is later (and the device clock moves
    /// past them), visits are added once by id, tombstones purge.
    pub fn apply_regulars(&mut self, page: &RegularsResponse) -> Result<PullApplied> {
        self.apply_pull_part(&PullPart {
            erased: &page.erased,
            profiles: &page.profiles,
            visits: &page.visits,
            cursor: Some(page.cursor),
        })
    }

    /// Merges one part of a page (see [`pull_parts`]) in one transaction, by the rules of
    /// [`Store::apply_regulars`], and moves the cursor if it is the page's last part.
    pub fn apply_pull_part(&mut self, part: &PullPart<'_>) -> Result<PullApplied> {
        let now = Utc::now();
        let mut applied = PullApplied::default();
        let tx = self.conn.transaction()?;
        let mut clock = last_hlc(&tx)?;
        for erased in part.erased {
            purge(&tx, erased.regular_id, erased.erased_at)?;
            applied.erased += 1;
        }
        for profile in part.profiles {
            clock = Some(Hlc::observe(clock, profile.hlc()));
            if is_tombstoned(&tx, profile.id())? {
                continue;
            }
            let local: Option<String> = tx
                .query_row(
                    "SELECT hlc FROM regulars WHERE id = ?1",
                    [profile.id().to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let newer = local
                .as_deref()
                .and_then(Hlc::from_sortable)
                .is_none_or(|local| profile.hlc() > local);
            if newer {
                write_profile(&tx, profile, now)?;
                applied.profiles += 1;
            }
        }
        for record in part.visits {
            if is_tombstoned(&tx, record.visit.regular_id)? {
                continue;
            }
            if insert_visit(&tx, record.id, record.at, &record.visit)? {
                applied.visits += 1;
            }
        }
        if let Some(clock) = clock {
            set_last_hlc(&tx, clock)?;
        }
        if let Some(cursor) = part.cursor {
            tx.execute(
                "UPDATE sync_state SET regulars_cursor = ?1 WHERE id = 1",
                [cursor as i64],
            )?;
        }
        tx.commit()?;
        if applied.erased > 0 {
            self.checkpoint_wal()?;
        }
        Ok(applied)
    }

    /// Moves every page of the WAL into the database file and empties the WAL, so pages
    /// that held erased data no longer sit in it.
    fn checkpoint_wal(&self) -> Result<()> {
        let (busy, _, _): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        if busy != 0 {
            tracing::warn!("the WAL could not be fully checkpointed after an erasure");
        }
        Ok(())
    }

    /// The keys of up to `limit` regulars meeting every filter, most recently seen first.
    ///
    /// Three ways to find them, chosen by what each would cost:
    /// - **walk** `regular_search`, a narrow table kept in last-seen order, from the most
    ///   recent, checking each row, until a page of matches is found. Cheap when the
    ///   filters together match often ("n", "nguyen v", "09"): about `limit / share` rows.
    /// - **drive** by the rarest filter's index rows: cheap when one filter is rare
    ///   ("zoe", "4567"), or exact (a phone's last digits, read most recent first).
    /// - **pair**: two name words that are each common but rare together ("le thi mai")
    ///   are found in `regular_pairs`: read most recent first, one stream per word pair
    ///   they name (up to [`PAIR_STREAMS`]), merged, stopping after a page of matches; a
    ///   third word is then checked from the pairs it makes with one of the two, read
    ///   beside them, instead of a lookup per candidate. Past that many word pairs, one
    ///   range per vocabulary word they start.
    ///
    /// Index rows carry their regular's `seen`, so a drive or a pair range sorts its
    /// candidates without reading any profile, then checks them most recent first and
    /// stops after a page of matches. Word counts are exact (`regular_vocab`); phone counts are capped.
    /// The walk is bounded by the cost of the best other way, and falls back to it, so a
    /// bad guess costs at most twice the best plan.
    fn ranked(&self, filters: &[Filter], limit: usize) -> Result<Vec<i64>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        if filters.is_empty() {
            return Ok(self.walk(filters, limit, u64::MAX)?.0);
        }
        let mut counts = Vec::with_capacity(filters.len());
        let mut capped = Vec::with_capacity(filters.len());
        for filter in filters {
            let count = self.count(filter)?;
            if count == 0 {
                return Ok(Vec::new());
            }
            counts.push(count as f64);
            capped.push(!matches!(filter, Filter::Word(_)) && count >= PHONE_COUNT_LIMIT);
        }
        let total: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(key) FROM regulars")?
            .query_row([], |r| r.get(0))?;
        let total = total.unwrap_or(0).max(1) as f64;
        let share = |i: usize| (counts[i] / total).clamp(1.0 / total, 1.0);
        let mut order: Vec<usize> = (0..filters.len()).collect();
        order.sort_by(|&a, &b| counts[a].total_cmp(&counts[b]));
        let rarest = order[0];
        let together: f64 = (0..filters.len()).map(share).product();
        let walk_cost = limit as f64 / together.max(1.0 / total);
        // Candidates checked most recent first until a page matches: about
        // `limit / share` of them, where `share` is how often the other filters match.
        let others = |skip: &[usize]| -> f64 {
            (0..filters.len())
                .filter(|i| !skip.contains(i))
                .map(share)
                .product()
        };
        let checked =
            |candidates: f64, others: f64| candidates.min(limit as f64 / others.max(1.0 / total));
        let drive_cost = if capped[rarest] {
            // A range past the count's cap may be any size.
            f64::INFINITY
        } else {
            counts[rarest] * INDEX_ROW_COST
                + checked(counts[rarest], others(&[rarest])) * LOOKUP_COST
        };
        // The rarest filter whose index rows can be read most recent first.
        let mut stream = None;
        for &i in &order {
            if let Some(sources) = self.streams(&filters[i])? {
                let cost = sources.len() as f64 * LOOKUP_COST
                    + checked(counts[i], others(&[i])) * (LOOKUP_COST + INDEX_ROW_COST);
                stream = Some((sources, cost));
                break;
            }
        }
        // The two rarest name words, if neither is a prefix of the other (then they may
        // both match one word, which no pair holds).
        let words: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| matches!(filters[i], Filter::Word(_)))
            .collect();
        let pair = match words.as_slice() {
            [a, b, ..] => match (&filters[*a], &filters[*b]) {
                (Filter::Word(x), Filter::Word(y))
                    if !x.starts_with(y.as_str()) && !y.starts_with(x.as_str()) =>
                {
                    let candidates = total * share(*a) * share(*b);
                    let checks = checked(candidates, others(&[*a, *b]));
                    let tokens = self.pair_tokens(x, y)?;
                    let cost = match &tokens {
                        // Read most recent first: one seek per word pair, then about a
                        // page's worth of rows, each checked.
                        Some(tokens) => {
                            tokens.len() as f64 * LOOKUP_COST
                                + checks * (INDEX_ROW_COST + LOOKUP_COST)
                        }
                        None => candidates * INDEX_ROW_COST + checks * LOOKUP_COST,
                    };
                    Some((x.as_str(), y.as_str(), tokens, cost))
                }
                _ => None,
            },
            _ => None,
        };
        // The plans that read everything they need; the walk and the stream stop after a
        // page of matches, so each is tried first when it looks cheaper, within the
        // budget of the best complete plan.
        let complete_cost = pair
            .as_ref()
            .map_or(drive_cost, |(_, _, _, cost)| cost.min(drive_cost));
        let budget = |unit: f64| {
            if complete_cost.is_finite() {
                (complete_cost / unit).ceil() as u64
            } else {
                u64::MAX
            }
        };
        let stream_cost = stream.as_ref().map_or(f64::INFINITY, |(_, cost)| *cost);
        let mut tries = [(walk_cost, false), (stream_cost, true)];
        tries.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (cost, is_stream) in tries {
            if cost >= complete_cost {
                continue;
            }
            let (found, complete) = match (&stream, is_stream) {
                (Some((sources, _)), true) => self.stream(
                    filters,
                    sources,
                    limit,
                    budget(LOOKUP_COST + INDEX_ROW_COST),
                )?,
                (None, true) => continue,
                (_, false) => self.walk(filters, limit, budget(1.0))?,
            };
            if complete {
                return Ok(found);
            }
        }
        let candidates = match pair {
            Some((_, _, Some(tokens), cost)) if cost < drive_cost => {
                let also = self.third_word_pairs(filters, &words, share)?;
                return self.pair_streams(filters, &tokens, also.as_deref(), limit);
            }
            Some((x, y, None, cost)) if cost < drive_cost => self.pair_candidates(x, y)?,
            _ if capped[rarest] => return Ok(self.walk(filters, limit, u64::MAX)?.0),
            _ => self.index_candidates(&filters[rarest])?,
        };
        self.first_matching(filters, candidates, limit)
    }

    /// For the pair plan of name words `words[0]` and `words[1]` (the rarest first): the
    /// word pairs a third name word makes with one of them, when reading those pairs'
    /// rows beside the first pairs' costs less than a lookup per candidate; every match
    /// is named by both.
    fn third_word_pairs(
        &self,
        filters: &[Filter],
        words: &[usize],
        share: impl Fn(usize) -> f64,
    ) -> Result<Option<Vec<String>>> {
        let [a, b, c, ..] = *words else {
            return Ok(None);
        };
        let Filter::Word(z) = &filters[c] else {
            return Ok(None);
        };
        for partner in [a, b] {
            let Filter::Word(p) = &filters[partner] else {
                continue;
            };
            // Two prefixes that may match one word have no pair to hold them.
            if p.starts_with(z.as_str()) || z.starts_with(p.as_str()) {
                continue;
            }
            // Rows read to the same depth of both lists, against a lookup per candidate.
            if share(partner) * share(c) * INDEX_ROW_COST < share(a) * share(b) * LOOKUP_COST {
                return self.pair_tokens(p, z);
            }
            return Ok(None);
        }
        Ok(None)
    }

    /// The index queries that yield a filter's candidates most recent first, one per
    /// token, if it has few enough tokens to merge: a phone's last digits are one token;
    /// a name prefix is one per vocabulary word it starts, up to [`MERGED_STREAMS`].
    fn streams(&self, filter: &Filter) -> Result<Option<Vec<(String, String)>>> {
        Ok(match filter {
            Filter::PhoneEndsWith(d) | Filter::PhoneIs(d) => Some(vec![(
                "SELECT seen, regular FROM regular_phones WHERE suffix = ?1
                 ORDER BY seen DESC, regular DESC"
                    .to_owned(),
                d.clone(),
            )]),
            Filter::PhoneContainsOnly(_) => None,
            Filter::Word(prefix) => {
                let vocabulary = self.vocabulary(prefix, MERGED_STREAMS)?;
                vocabulary.map(|vocabulary| {
                    vocabulary
                        .into_iter()
                        .enumerate()
                        .map(|(slot, word)| {
                            // One statement text per slot, so each stays in the cache.
                            let sql = format!(
                                "SELECT seen, regular FROM regular_words WHERE word = ?1
                                 ORDER BY seen DESC, regular DESC -- {slot}"
                            );
                            (sql, word)
                        })
                        .collect()
                })
            }
        })
    }

    /// The vocabulary words starting `prefix`, if there are at most `most`.
    fn vocabulary(&self, prefix: &str, most: usize) -> Result<Option<Vec<String>>> {
        let words: Vec<String> = self
            .conn
            .prepare_cached(&format!(
                "SELECT word FROM regular_vocab WHERE word >= ?1 AND word < ?2 LIMIT {}",
                most + 1
            ))?
            .query_map(params![prefix, prefix_upper_bound(prefix)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((words.len() <= most).then_some(words))
    }

    /// The word pairs that hold every regular with a word starting `x` and another word
    /// starting `y` (neither a prefix of the other), one per two vocabulary words they
    /// start, written as [`word_pairs`] writes them; `None` past [`PAIR_STREAMS`].
    fn pair_tokens(&self, x: &str, y: &str) -> Result<Option<Vec<String>>> {
        let (Some(xs), Some(ys)) = (
            self.vocabulary(x, PAIR_STREAMS)?,
            self.vocabulary(y, PAIR_STREAMS)?,
        ) else {
            return Ok(None);
        };
        if xs.len() * ys.len() > PAIR_STREAMS {
            return Ok(None);
        }
        let mut tokens = Vec::with_capacity(xs.len() * ys.len());
        for a in &xs {
            for b in ys.iter().filter(|b| *b != a) {
                let (first, second) = if a < b { (a, b) } else { (b, a) };
                tokens.push(format!("{first} {second}"));
            }
        }
        tokens.sort_unstable();
        tokens.dedup();
        Ok(Some(tokens))
    }

    /// Statements reading one word pair's rows most recent first, numbered from `slot`:
    /// one statement text per slot, so each stays in the cache.
    fn pair_statements(&self, slot: usize, count: usize) -> Result<Vec<CachedStatement<'_>>> {
        (slot..slot + count)
            .map(|slot| {
                Ok(self.conn.prepare_cached(&format!(
                    "SELECT seen, regular FROM regular_pairs WHERE pair = ?1
                     ORDER BY seen DESC, regular DESC -- {slot}"
                ))?)
            })
            .collect()
    }

    /// The pair plan read as streams: the regulars of `pairs` most recent first (merged,
    /// one stream per word pair), each checked against every filter, until `limit`
    /// match; it stops after a page instead of reading and sorting every pair row. With
    /// `also`, the word pairs of two other filters (every match is in both), a candidate
    /// is checked only if `also` names it too: the two streams are intersected as they
    /// are read, so a third word costs index rows instead of a lookup per candidate.
    fn pair_streams(
        &self,
        filters: &[Filter],
        pairs: &[String],
        also: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<i64>> {
        let mut first = self.pair_statements(0, pairs.len())?;
        let mut candidates = Merged::new(&mut first, pairs.iter().map(String::as_str))?;
        let also = also.unwrap_or_default();
        let mut second = self.pair_statements(pairs.len(), also.len())?;
        let mut named = Merged::new(&mut second, also.iter().map(String::as_str))?;
        let mut named_head: Option<Seen> = if also.is_empty() {
            None
        } else {
            match named.next()? {
                Some(head) => Some(head),
                None => return Ok(Vec::new()),
            }
        };
        let mut check = self.checker()?;
        let mut kept = Vec::new();
        while let Some(candidate) = candidates.next()? {
            if let Some(head) = named_head {
                // Both lists run most recent first: skip what only one of them names.
                let mut head = head;
                while head > candidate {
                    match named.next()? {
                        Some(next) => head = next,
                        None => return Ok(kept),
                    }
                }
                named_head = Some(head);
                if head < candidate {
                    continue;
                }
            }
            if check(filters, candidate.0, candidate.1)? {
                kept.push(candidate.1);
                if kept.len() >= limit {
                    break;
                }
            }
        }
        Ok(kept)
    }

    /// Merges index streams (each most recent first) and checks each candidate in that
    /// order against every filter, until `limit` match (complete), or `max_checks`
    /// candidates were checked without (not complete). Running dry is complete too.
    fn stream(
        &self,
        filters: &[Filter],
        sources: &[(String, String)],
        limit: usize,
        max_checks: u64,
    ) -> Result<(Vec<i64>, bool)> {
        let mut statements = sources
            .iter()
            .map(|(sql, _)| self.conn.prepare_cached(sql))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut merged = Merged::new(&mut statements, sources.iter().map(|(_, t)| t.as_str()))?;
        let mut check = self.checker()?;
        let mut kept = Vec::new();
        let mut checks = 0u64;
        while let Some((seen, key)) = merged.next()? {
            if check(filters, seen, key)? {
                kept.push(key);
                if kept.len() >= limit {
                    return Ok((kept, true));
                }
            }
            checks += 1;
            if checks >= max_checks {
                return Ok((kept, false));
            }
        }
        Ok((kept, true))
    }

    /// How many regulars a filter may match: exact for name words, counted no further
    /// than [`PHONE_COUNT_LIMIT`] for phones.
    fn count(&self, filter: &Filter) -> Result<i64> {
        if let Filter::Word(prefix) = filter {
            return Ok(self
                .conn
                .prepare_cached(
                    "SELECT coalesce(sum(regulars), 0) FROM regular_vocab
                     WHERE word >= ?1 AND word < ?2",
                )?
                .query_row(params![prefix, prefix_upper_bound(prefix)], |r| r.get(0))?);
        }
        let (sql, values) = filter.candidates();
        let sql = format!("SELECT count(*) FROM ({sql} LIMIT {PHONE_COUNT_LIMIT})");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?)
    }

    /// Walks `regular_search` from the most recently seen, keeping the keys that meet
    /// every filter, until `limit` are found (complete) or `max_rows` rows were read
    /// without (not complete). Reaching the end is complete too.
    fn walk(&self, filters: &[Filter], limit: usize, max_rows: u64) -> Result<(Vec<i64>, bool)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, folded, phone FROM regular_search ORDER BY seen DESC, key DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut found = Vec::new();
        let mut read = 0u64;
        while let Some(row) = rows.next()? {
            read += 1;
            let folded = text_ref(row, 1)?.unwrap_or("");
            let phone = text_ref(row, 2)?;
            if filters.iter().all(|f| f.matches(folded, phone)) {
                found.push(row.get(0)?);
                if found.len() >= limit {
                    return Ok((found, true));
                }
            }
            if read >= max_rows {
                return Ok((found, false));
            }
        }
        Ok((found, true))
    }

    /// The (seen, key) of every index row one filter names.
    fn index_candidates(&self, filter: &Filter) -> Result<Vec<(i64, i64)>> {
        let (sql, values) = filter.candidates();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The (seen, key) of regulars with a word starting `x` and another word starting
    /// `y`: for each vocabulary word starting either, the pairs it begins whose other
    /// word starts with the other prefix.
    fn pair_candidates(&self, x: &str, y: &str) -> Result<Vec<(i64, i64)>> {
        let mut vocab = self
            .conn
            .prepare_cached("SELECT word FROM regular_vocab WHERE word >= ?1 AND word < ?2")?;
        let mut pairs = self.conn.prepare_cached(
            "SELECT seen, regular FROM regular_pairs WHERE pair >= ?1 AND pair < ?2",
        )?;
        let mut found = Vec::new();
        for (first, second) in [(x, y), (y, x)] {
            let starting: Vec<String> = vocab
                .query_map(params![first, prefix_upper_bound(first)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for word in starting {
                let low = format!("{word} {second}");
                let rows = pairs.query_map(params![low, prefix_upper_bound(&low)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
                for row in rows {
                    found.push(row?);
                }
            }
        }
        Ok(found)
    }

    /// Checks candidates (seen, key) against every filter, most recently seen first, and
    /// keeps the first `limit` that match: the same order as the walk's.
    fn first_matching(
        &self,
        filters: &[Filter],
        mut candidates: Vec<(i64, i64)>,
        limit: usize,
    ) -> Result<Vec<i64>> {
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates.dedup();
        let mut check = self.checker()?;
        let mut kept = Vec::new();
        for (seen, key) in candidates {
            if check(filters, seen, key)? {
                kept.push(key);
                if kept.len() >= limit {
                    break;
                }
            }
        }
        Ok(kept)
    }

    /// Checks one candidate's folded name and phone, from `regular_search`, against every
    /// filter: the filters are the rule, the index only finds candidates.
    fn checker(&self) -> Result<impl FnMut(&[Filter], i64, i64) -> Result<bool> + use<'_>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT folded, phone FROM regular_search WHERE seen = ?1 AND key = ?2",
        )?;
        Ok(
            move |filters: &[Filter], seen: i64, key: i64| -> Result<bool> {
                let mut rows = stmt.query(params![seen, key])?;
                Ok(match rows.next()? {
                    Some(row) => {
                        let folded = text_ref(row, 0)?.unwrap_or("");
                        let phone = text_ref(row, 1)?;
                        filters.iter().all(|f| f.matches(folded, phone))
                    }
                    None => false,
                })
            },
        )
    }

    /// Whole profiles for these keys, in the same order.
    fn profiles(&self, keys: &[i64]) -> Result<Vec<RawRegular>> {
        let sql = format!("SELECT {COLUMNS} FROM regulars r WHERE r.key = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(raw) = stmt.query_row([key], RawRegular::from_row).optional()? {
                found.push(raw);
            }
        }
        Ok(found)
    }

    /// A profile with its visit history summed up.
    fn card(&self, raw: RawRegular) -> Result<RegularCard> {
        let id = raw.id.clone();
        let (visit_count, last): (u64, Option<String>) = self
            .conn
            .prepare_cached("SELECT count(*), max(at) FROM visits WHERE regular_id = ?1")?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let unhappy: Option<bool> = self
            .conn
            .prepare_cached(
                "SELECT unhappy FROM visits WHERE regular_id = ?1 AND rating_id IS NOT NULL
                 ORDER BY at DESC LIMIT 1",
            )?
            .query_row([&id], |r| r.get::<_, Option<bool>>(0))
            .optional()?
            .flatten();
        Ok(RegularCard {
            regular: raw.parse()?,
            visit_count,
            last_visit: last.as_deref().map(parse_time).transpose()?,
            last_rating_unhappy: unhappy.unwrap_or(false),
        })
    }
}

/// Adds a visit once (by id) and moves its regular's "last seen"; true if it was new.
fn insert_visit(tx: &Transaction<'_>, id: Uuid, at: DateTime<Utc>, visit: &Visit) -> Result<bool> {
    let at = time_text(at);
    let added = tx.execute(
        "INSERT OR IGNORE INTO visits (id, regular_id, at, rating_id, unhappy)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.to_string(),
            visit.regular_id.to_string(),
            at,
            visit.rating_id.map(|r| r.to_string()),
            visit.unhappy,
        ],
    )?;
    let sql = format!(
        "SELECT {} FROM regulars WHERE id = ?1 AND last_seen < ?2",
        Indexed::COLUMNS
    );
    let earlier = tx
        .prepare_cached(&sql)?
        .query_row(params![visit.regular_id.to_string(), at], Indexed::from_row)
        .optional()?;
    if let Some(old) = earlier {
        let seen: i64 = tx
            .prepare_cached("UPDATE regulars SET last_seen = ?2 WHERE key = ?1 RETURNING seen")?
            .query_row(params![old.key, at], |r| r.get(0))?;
        reseen_regular(tx, &old, seen)?;
    }
    Ok(added == 1)
}

/// How long a regular is kept after their last visit (the consent text says 12 months).
pub const KEPT_AFTER_LAST_VISIT: chrono::Duration = chrono::Duration::days(365);

/// Purges a regular and queues `regular_erased`, so HQ and every other kiosk purge them.
fn erase(tx: &Transaction<'_>, regular: Uuid, at: &DateTime<FixedOffset>) -> Result<()> {
    let erased_at = at.with_timezone(&Utc);
    purge(tx, regular, erased_at)?;
    let body = RegularErased {
        regular_id: regular,
        erased_at,
    };
    queue_regular_event(tx, Uuid::now_v7(), "regular_erased", at, &body, regular)
}

/// Why a personal code is refused, if it is: exactly [`CODE_DIGITS`] digits.
pub fn check_code_format(code: &str) -> Result<()> {
    if code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::Invalid("a personal code has 4 digits".into()))
    }
}

/// A hash no code was made for, checked when a number has no code, so that a miss costs
/// as long as a hit.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_pin("decoy").unwrap_or_default())
}

/// The consent to record for an edit: given now on a new profile or a new consent text,
/// otherwise kept; the dietary consent kept while given, and gone when withdrawn.
fn stamp_consent(existing: Option<&Consent>, edit: &RegularEdit, now: DateTime<Utc>) -> Consent {
    let given_at = match existing {
        Some(c) if c.version == edit.consent_version => c.given_at,
        _ => now,
    };
    let dietary_given_at = if edit.dietary_consent {
        Some(existing.and_then(|c| c.dietary_given_at).unwrap_or(now))
    } else {
        None
    };
    Consent {
        version: edit.consent_version,
        given_at,
        dietary_given_at,
    }
}

mod merged;

#[cfg(test)]
mod tests;
