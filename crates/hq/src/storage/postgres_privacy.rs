//! [`Privacy`] on PostgreSQL: a regular found by id or by the phone inside its profile
//! JSON (kept as text, read as `jsonb` here).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::privacy::{Privacy, RegularFound, RegularKey};
use super::{PostgresStorage, StorageError};

fn date(s: &str) -> Result<NaiveDate, StorageError> {
    s.parse()
        .map_err(|e| StorageError::Corrupt(format!("date {s:?}: {e}")))
}

#[async_trait]
impl Privacy for PostgresStorage {
    async fn find_regular(&self, key: &RegularKey) -> Result<Option<RegularFound>, StorageError> {
        let client = self.client().await?;
        let held = match key {
            RegularKey::Id(id) => {
                client
                    .query_opt(
                        "SELECT regular_id, home_store_id, CAST(first_local_date AS TEXT) \
                         FROM regular_profiles WHERE regular_id = $1",
                        &[id],
                    )
                    .await?
            }
            RegularKey::Phone(p) => {
                client
                    .query_opt(
                        "SELECT regular_id, home_store_id, CAST(first_local_date AS TEXT) \
                         FROM regular_profiles WHERE CAST(profile AS jsonb) ->> 'phone' = $1 \
                         ORDER BY regular_id LIMIT 1",
                        &[p],
                    )
                    .await?
            }
        };
        if let Some(row) = held {
            let id: Uuid = row.try_get(0)?;
            let first: String = row.try_get(2)?;
            let v = client
                .query_one(
                    "SELECT COUNT(*), CAST(MAX(local_date) AS TEXT) FROM regular_visits \
                     WHERE regular_id = $1",
                    &[&id],
                )
                .await?;
            let visits: i64 = v.try_get(0)?;
            let last: Option<String> = v.try_get(1)?;
            return Ok(Some(RegularFound::Held {
                regular_id: id,
                home_store_id: row.try_get(1)?,
                first_seen: date(&first)?,
                last_visit: last.as_deref().map(date).transpose()?,
                visits: visits.max(0) as u64,
            }));
        }
        let RegularKey::Id(id) = key else {
            return Ok(None);
        };
        let erased = client
            .query_opt(
                "SELECT home_store_id, erased_at FROM regular_tombstones WHERE regular_id = $1",
                &[id],
            )
            .await?;
        erased
            .map(|row| -> Result<RegularFound, StorageError> {
                let at: DateTime<Utc> = row.try_get(1)?;
                Ok(RegularFound::Erased {
                    regular_id: *id,
                    home_store_id: row.try_get(0)?,
                    erased_at: at,
                })
            })
            .transpose()
    }
}
