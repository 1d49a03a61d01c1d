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
    Consent, Hlc, NewRegular, Regular, RegularErased, RegularsResponse, Visit,
};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

use super::{hash_pin, verify_pin, Result, Store, StoreError};

/// How many digits a regular's personal code has.
pub const CODE_DIGITS: usize = 4;
use crate::regulars::{prefix_upper_bound, words, Query, RegularCard, RegularEdit};

/// Above this many index matches for a query's rarest term, the search walks regulars
/// from the most recently seen and checks each, which finds a page of common-prefix
/// matches in a few hundred rows; below it, it ranks the matches themselves.
const DRIVER_LIMIT: i64 = 1500;

/// How many of the most recently seen regulars a search walks before it intersects its
/// terms' index rows instead.
const WALK_LIMIT: i64 = 1000;

/// How far a search counts each term's index rows, to choose how to run.
const COUNT_LIMIT: i64 = 5000;

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

/// One search condition: index rows that can drive the search (`candidates`, selecting
/// regular keys) and the same condition checked on a regulars row `r` (`check`).
struct Filter {
    candidates: String,
    candidate_params: Vec<String>,
    check: String,
    check_params: Vec<String>,
}

impl Filter {
    fn word(prefix: &str) -> Filter {
        Filter {
            candidates: "SELECT regular FROM regular_words WHERE word >= ? AND word < ?".into(),
            candidate_params: vec![prefix.to_owned(), prefix_upper_bound(prefix)],
            check: "instr(' ' || r.folded, ?) > 0".into(),
            check_params: vec![format!(" {prefix}")],
        }
    }

    fn phone_ends_with(digits: &str) -> Filter {
        Filter {
            candidates: "SELECT regular FROM regular_phones WHERE suffix = ?".into(),
            candidate_params: vec![digits.to_owned()],
            check: "substr(r.phone, -length(?)) = ?".into(),
            check_params: vec![digits.to_owned(), digits.to_owned()],
        }
    }

    fn phone_contains(digits: &str) -> Filter {
        Filter {
            candidates: "SELECT regular FROM regular_phones WHERE suffix >= ? AND suffix < ?"
                .into(),
            candidate_params: vec![digits.to_owned(), prefix_upper_bound(digits)],
            check: "instr(r.phone, ?) > 0".into(),
            check_params: vec![digits.to_owned()],
        }
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
    let old: Option<(i64, String, Option<String>)> = tx
        .query_row(
            "SELECT key, folded, phone FROM regulars WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((key, folded, phone)) = &old {
        let mut word =
            tx.prepare_cached("DELETE FROM regular_words WHERE word = ?1 AND regular = ?2")?;
        for w in folded.split(' ').filter(|w| !w.is_empty()) {
            word.execute(params![w, key])?;
        }
        let mut suffix =
            tx.prepare_cached("DELETE FROM regular_phones WHERE suffix = ?1 AND regular = ?2")?;
        for s in phone.as_deref().map(suffixes).into_iter().flatten() {
            suffix.execute(params![s, key])?;
        }
    }
    let name_words = words(regular.name());
    let folded = name_words.join(" ");
    let now = time_text(now);
    let key: i64 = tx.query_row(
        "INSERT INTO regulars (id, hlc, name, phone, usual, dietary, consent, folded,
                               created_at, updated_at, last_seen, code_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, name = excluded.name,
             phone = excluded.phone, usual = excluded.usual, dietary = excluded.dietary,
             consent = excluded.consent, folded = excluded.folded,
             updated_at = excluded.updated_at, code_hash = excluded.code_hash
         RETURNING key",
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
        |r| r.get(0),
    )?;
    let mut word =
        tx.prepare_cached("INSERT OR IGNORE INTO regular_words (word, regular) VALUES (?1, ?2)")?;
    for w in &name_words {
        word.execute(params![w, key])?;
    }
    let mut suffix = tx
        .prepare_cached("INSERT OR IGNORE INTO regular_phones (suffix, regular) VALUES (?1, ?2)")?;
    for s in regular.phone().map(suffixes).into_iter().flatten() {
        suffix.execute(params![s, key])?;
    }
    Ok(())
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
    let old: Option<(i64, String, Option<String>)> = tx
        .query_row(
            "SELECT key, folded, phone FROM regulars WHERE id = ?1",
            [&text],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((key, _, _)) = &old {
        tx.execute("DELETE FROM regular_words WHERE regular = ?1", [key])?;
        tx.execute("DELETE FROM regular_phones WHERE regular = ?1", [key])?;
        tx.execute("DELETE FROM regulars WHERE key = ?1", [key])?;
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
        let raws = match Query::parse(text) {
            Query::Recent => self.ranked(&[], limit)?,
            Query::Words(words) => {
                let filters: Vec<Filter> = words.iter().map(|w| Filter::word(w)).collect();
                self.ranked(&filters, limit)?
            }
            Query::Phone(digits) => {
                let mut found = self.ranked(&[Filter::phone_ends_with(&digits)], limit)?;
                if found.len() < limit {
                    let mut inner = Filter::phone_contains(&digits);
                    inner.check = format!("{} AND substr(r.phone, -length(?)) != ?", inner.check);
                    inner.check_params.extend([digits.clone(), digits.clone()]);
                    found.extend(self.ranked(&[inner], limit - found.len())?);
                }
                found
            }
        };
        raws.into_iter().map(|raw| self.card(raw)).collect()
    }

    /// The regular with exactly this phone number (as typed, any punctuation), if any.
    pub fn find_by_phone(&self, phone: &str) -> Result<Option<RegularCard>> {
        let digits = countertop_protocol::phone_digits(phone);
        if digits.is_empty() {
            return Ok(None);
        }
        let mut exact = Filter::phone_ends_with(&digits);
        exact.check = "r.phone = ?".into();
        exact.check_params = vec![digits];
        let found = self.ranked(&[exact], 1)?;
        found
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
        let now = Utc::now();
        let mut applied = PullApplied::default();
        let tx = self.conn.transaction()?;
        let mut clock = last_hlc(&tx)?;
        for erased in &page.erased {
            purge(&tx, erased.regular_id, erased.erased_at)?;
            applied.erased += 1;
        }
        for profile in &page.profiles {
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
        for record in &page.visits {
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
        tx.execute(
            "UPDATE sync_state SET regulars_cursor = ?1 WHERE id = 1",
            [page.cursor as i64],
        )?;
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

    /// Up to `limit` regulars meeting every filter, most recently seen first.
    ///
    /// Each filter's index rows are counted (up to [`COUNT_LIMIT`]). A rare filter drives:
    /// its few matches are checked against the rest and ranked. When every filter is
    /// common and together they still match often ("n", "nguyen"), the most recently seen
    /// regulars are walked, which finds a page of matches within a few hundred rows. When
    /// common filters match rarely together ("le thi mai"), the index rows of the two
    /// least common are intersected, which never touches a profile, and the few regulars
    /// left are checked and ranked. The walk is bounded and falls back to the intersection.
    fn ranked(&self, filters: &[Filter], limit: usize) -> Result<Vec<RawRegular>> {
        let mut counts = Vec::with_capacity(filters.len());
        for filter in filters {
            let count = self.candidate_count(filter, COUNT_LIMIT)?;
            if count == 0 {
                return Ok(Vec::new());
            }
            counts.push(count);
        }
        let mut order: Vec<usize> = (0..filters.len()).collect();
        order.sort_by_key(|&i| counts[i]);
        let Some(&rarest) = order.first() else {
            return self.walk(filters, limit, None);
        };
        if counts[rarest] < DRIVER_LIMIT {
            return self.driven(filters, rarest, limit);
        }
        if self.walk_pays(&counts, limit)? {
            let since: Option<String> = self
                .conn
                .prepare_cached(
                    "SELECT last_seen FROM regulars INDEXED BY regulars_by_seen
                     ORDER BY last_seen DESC LIMIT 1 OFFSET ?1",
                )?
                .query_row([WALK_LIMIT], |r| r.get(0))
                .optional()?;
            let walked = self.walk(filters, limit, since.as_deref())?;
            if walked.len() >= limit || since.is_none() {
                return Ok(walked);
            }
        }
        // Reading a term's index rows costs more than checking its rarest partner's
        // matches one by one once it has more than [`COUNT_LIMIT`].
        if order.get(1).is_none_or(|&i| counts[i] >= COUNT_LIMIT) {
            return self.driven(filters, rarest, limit);
        }
        let pair: Vec<&Filter> = order.iter().take(2).map(|&i| &filters[i]).collect();
        let keys = self.intersection(&pair)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = keys.iter().map(i64::to_string).collect();
        let mut conditions = vec![format!("r.key IN ({})", list.join(","))];
        let mut values: Vec<&str> = Vec::new();
        for filter in filters {
            conditions.push(filter.check.clone());
            values.extend(filter.check_params.iter().map(String::as_str));
        }
        self.select(&conditions, values, "regulars r", limit)
    }

    /// Whether walking the most recent regulars is likely to fill a page: the filters'
    /// shares of all regulars, taken as independent, leave at least two pages' worth of
    /// matches among the [`WALK_LIMIT`] walked.
    fn walk_pays(&self, counts: &[i64], limit: usize) -> Result<bool> {
        let total: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(key) FROM regulars")?
            .query_row([], |r| r.get(0))?;
        let total = total.unwrap_or(0).max(1) as f64;
        // A count that reached [`COUNT_LIMIT`] was cut short: the term is common, and its
        // true share unknown, so it is taken to filter nothing. Taking the cut-off count
        // as its share made "le t" ("t" matches most names) rank all ~6,000 "le" matches
        // instead of walking the few hundred most recent regulars that fill a page.
        let share: f64 = counts
            .iter()
            .map(|&c| {
                if c >= COUNT_LIMIT {
                    1.0
                } else {
                    (c as f64 / total).min(1.0)
                }
            })
            .product();
        Ok(share * WALK_LIMIT as f64 >= 2.0 * limit as f64)
    }

    /// The keys of the regulars every filter's index rows name.
    fn intersection(&self, filters: &[&Filter]) -> Result<Vec<i64>> {
        let mut common: Option<std::collections::HashSet<i64>> = None;
        for filter in filters {
            let mut stmt = self.conn.prepare_cached(&filter.candidates)?;
            let keys = stmt.query_map(
                rusqlite::params_from_iter(filter.candidate_params.iter()),
                |r| r.get::<_, i64>(0),
            )?;
            let mut next = std::collections::HashSet::new();
            for key in keys {
                let key = key?;
                if common.as_ref().is_none_or(|c| c.contains(&key)) {
                    next.insert(key);
                }
            }
            if next.is_empty() {
                return Ok(Vec::new());
            }
            common = Some(next);
        }
        let mut keys: Vec<i64> = common.unwrap_or_default().into_iter().collect();
        keys.sort_unstable();
        Ok(keys)
    }

    /// How many index rows `filter` matches, counting no further than `cap`.
    fn candidate_count(&self, filter: &Filter, cap: i64) -> Result<i64> {
        let sql = format!("SELECT count(*) FROM ({} LIMIT ?)", filter.candidates);
        let mut values: Vec<&dyn rusqlite::ToSql> = filter
            .candidate_params
            .iter()
            .map(|p| p as &dyn rusqlite::ToSql)
            .collect();
        values.push(&cap);
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(values.as_slice(), |r| r.get(0))?)
    }

    /// The matches of `filters[driver]`, checked against every filter and ranked.
    fn driven(&self, filters: &[Filter], driver: usize, limit: usize) -> Result<Vec<RawRegular>> {
        let mut conditions = vec![format!("r.key IN ({})", filters[driver].candidates)];
        let mut values: Vec<&str> = filters[driver]
            .candidate_params
            .iter()
            .map(String::as_str)
            .collect();
        for filter in filters {
            conditions.push(filter.check.clone());
            values.extend(filter.check_params.iter().map(String::as_str));
        }
        self.select(&conditions, values, "regulars r", limit)
    }

    /// Walks regulars from the most recently seen (back to `since`, if given), keeping
    /// those that meet every filter.
    fn walk(
        &self,
        filters: &[Filter],
        limit: usize,
        since: Option<&str>,
    ) -> Result<Vec<RawRegular>> {
        let mut conditions = Vec::new();
        let mut values: Vec<&str> = Vec::new();
        if let Some(since) = since {
            conditions.push("r.last_seen >= ?".to_owned());
            values.push(since);
        }
        for filter in filters {
            conditions.push(filter.check.clone());
            values.extend(filter.check_params.iter().map(String::as_str));
        }
        self.select(
            &conditions,
            values,
            "regulars r INDEXED BY regulars_by_seen",
            limit,
        )
    }

    fn select(
        &self,
        conditions: &[String],
        values: Vec<&str>,
        from: &str,
        limit: usize,
    ) -> Result<Vec<RawRegular>> {
        let limit = limit as i64;
        let mut params: Vec<&dyn rusqlite::ToSql> =
            values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        params.push(&limit);
        let condition = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        // Rank keys first and read whole profiles only for the page: sorting thousands of
        // candidates with every column in tow costs twice as much.
        let sql = format!(
            "SELECT {COLUMNS} FROM regulars r WHERE r.key IN (
                 SELECT r.key FROM {from} {condition}
                 ORDER BY r.last_seen DESC, r.key DESC LIMIT ?)
             ORDER BY r.last_seen DESC, r.key DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params.as_slice(), RawRegular::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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
    tx.execute(
        "UPDATE regulars SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2",
        params![visit.regular_id.to_string(), at],
    )?;
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

#[cfg(test)]
mod tests;
