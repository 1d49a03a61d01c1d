//! [`Privacy`] on SQLite: a regular found by id or by the phone inside its profile JSON.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};

use super::privacy::{Privacy, RegularFound, RegularKey};
use super::sqlite::{parse_time, parse_uuid};
use super::{SqliteStorage, StorageError};

fn date(s: &str) -> Result<chrono::NaiveDate, StorageError> {
    s.parse()
        .map_err(|e| StorageError::Corrupt(format!("date {s:?}: {e}")))
}

fn find(c: &Connection, key: &RegularKey) -> Result<Option<RegularFound>, StorageError> {
    let (filter, value) = match key {
        RegularKey::Id(id) => ("regular_id = ?1", id.to_string()),
        RegularKey::Phone(p) => ("json_extract(profile, '$.phone') = ?1", p.clone()),
    };
    let held: Option<(String, String, String)> = c
        .prepare_cached(&format!(
            "SELECT regular_id, home_store_id, first_local_date FROM regular_profiles \
             WHERE {filter} ORDER BY regular_id LIMIT 1"
        ))?
        .query_row([&value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((id, home, first)) = held {
        let (visits, last): (i64, Option<String>) = c
            .prepare_cached(
                "SELECT COUNT(*), MAX(local_date) FROM regular_visits WHERE regular_id = ?1",
            )?
            .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        return Ok(Some(RegularFound::Held {
            regular_id: parse_uuid(&id)?,
            home_store_id: parse_uuid(&home)?,
            first_seen: date(&first)?,
            last_visit: last.as_deref().map(date).transpose()?,
            visits: visits.max(0) as u64,
        }));
    }
    let RegularKey::Id(id) = key else {
        return Ok(None);
    };
    let erased: Option<(String, String)> = c
        .prepare_cached(
            "SELECT home_store_id, erased_at FROM regular_tombstones WHERE regular_id = ?1",
        )?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    erased
        .map(|(home, at)| {
            Ok(RegularFound::Erased {
                regular_id: *id,
                home_store_id: parse_uuid(&home)?,
                erased_at: parse_time(&at)?,
            })
        })
        .transpose()
}

#[async_trait]
impl Privacy for SqliteStorage {
    async fn find_regular(&self, key: &RegularKey) -> Result<Option<RegularFound>, StorageError> {
        let key = key.clone();
        self.read(move |c| find(c, &key)).await
    }
}
