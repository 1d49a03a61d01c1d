//! [`Analytics`] on SQLite: the shared SQL of [`super::analytics`] run on a reader
//! connection, and its rows read back in SQLite's types (ids, dates and times as text).

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::analytics::{
    self as a, Analytics, CellRow, CommentPage, CommentQuery, CommentRow, DeviceHealth, ExportRow,
    Heatmap, Param, Sql, StoreInfo, StoreRange, Sums, SQLITE,
};
use super::hours::OpeningHours;
use super::sqlite::{parse_time, parse_uuid, store_exists, ts};
use super::{SqliteStorage, StorageError};

fn values(params: Vec<Param>) -> Vec<Value> {
    params
        .into_iter()
        .map(|p| match p {
            Param::Uuid(u) => Value::Text(u.to_string()),
            Param::Date(d) => Value::Text(d.to_string()),
            Param::Text(t) => Value::Text(t),
            Param::Int(i) => Value::Integer(i),
            Param::Time(t) => Value::Text(ts(t)),
        })
        .collect()
}

fn cells(c: &Connection, q: Sql) -> Result<Vec<CellRow>, StorageError> {
    let mut stmt = c.prepare_cached(&q.text)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values(q.params)), |r| {
        let n = |i: usize| -> rusqlite::Result<u64> {
            Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
        };
        Ok(CellRow {
            key: r.get(0)?,
            scale: r.get::<_, i64>(1)? as u8,
            score: r.get::<_, i64>(2)? as u8,
            cell: a::Cell {
                n: n(3)?,
                nps_responses: n(4)?,
                promoters: n(5)?,
                detractors: n(6)?,
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn reason_rows(c: &Connection, q: Sql) -> Result<Vec<(String, String, u64)>, StorageError> {
    let mut stmt = c.prepare_cached(&q.text)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values(q.params)), |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn date(s: &str) -> Result<NaiveDate, StorageError> {
    a::parse_day(s)
}

impl SqliteStorage {
    pub(super) async fn cells(&self, q: Sql) -> Result<Vec<CellRow>, StorageError> {
        self.read(move |c| cells(c, q)).await
    }

    async fn reason_rows(&self, q: Sql) -> Result<Vec<(String, String, u64)>, StorageError> {
        self.read(move |c| reason_rows(c, q)).await
    }
}

#[async_trait]
impl Analytics for SqliteStorage {
    async fn stores(&self) -> Result<Vec<StoreInfo>, StorageError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, name, timezone FROM stores ORDER BY name, id")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            rows.map(|row| {
                let (id, name, timezone) = row?;
                Ok(StoreInfo {
                    id: parse_uuid(&id)?,
                    name,
                    timezone,
                })
            })
            .collect()
        })
        .await
    }

    async fn store_summaries(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(Uuid, Sums)>, StorageError> {
        let q = a::cells_sql(&SQLITE, ranges, include_repeats, a::Key::Store);
        a::by_store(self.cells(q).await?)
    }

    async fn daily(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(NaiveDate, Sums)>, StorageError> {
        let q = a::cells_sql(&SQLITE, ranges, include_repeats, a::Key::Day);
        a::by_day(self.cells(q).await?)
    }

    async fn heatmap(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Heatmap, StorageError> {
        let q = a::cells_sql(&SQLITE, ranges, include_repeats, a::Key::Slot);
        a::by_slot(self.cells(q).await?)
    }

    async fn touchpoints(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(String, Sums)>, StorageError> {
        let q = a::cells_sql(&SQLITE, ranges, include_repeats, a::Key::Touchpoint);
        Ok(a::by_text(self.cells(q).await?))
    }

    async fn reasons(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        let q = a::reasons_sql(&SQLITE, ranges, include_repeats, false);
        Ok(a::reason_totals(self.reason_rows(q).await?))
    }

    async fn reasons_daily(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(NaiveDate, String, u64)>, StorageError> {
        let q = a::reasons_sql(&SQLITE, ranges, include_repeats, true);
        a::reason_days(self.reason_rows(q).await?)
    }

    async fn comments(&self, query: &CommentQuery) -> Result<CommentPage, StorageError> {
        let q = a::comments_sql(&SQLITE, query);
        let limit = query.limit;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&q.text)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values(q.params)), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, bool>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, store, at, day, score, scale, touchpoint, repeat, comment, reasons) = row?;
                out.push(CommentRow {
                    rating_id: parse_uuid(&id)?,
                    store_id: parse_uuid(&store)?,
                    occurred_at: parse_time(&at)?,
                    local_date: date(&day)?,
                    score: score as u8,
                    scale: scale as u8,
                    touchpoint,
                    reasons: a::split_reasons(reasons),
                    comment,
                    suspected_repeat: repeat,
                });
            }
            Ok(a::comment_page(out, limit))
        })
        .await
    }

    async fn devices(&self, stores: Option<&[Uuid]>) -> Result<Vec<DeviceHealth>, StorageError> {
        let filter = stores.map(|s| {
            serde_json::Value::from(s.iter().map(Uuid::to_string).collect::<Vec<_>>()).to_string()
        });
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.store_id, d.name, d.enrolled_at, d.revoked_at IS NOT NULL, \
                 d.last_seen_at, h.received_at, h.device_time, h.body \
                 FROM devices d LEFT JOIN events h ON h.id = ( \
                   SELECT e.id FROM events e WHERE e.device_id = d.id \
                   AND e.kind = 'device_health' ORDER BY e.received_at DESC, e.seq DESC LIMIT 1) \
                 WHERE ?1 IS NULL OR d.store_id IN (SELECT value FROM json_each(?1)) \
                 ORDER BY d.store_id, d.name, d.id",
            )?;
            let rows = stmt.query_map(params![filter], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, store, name, enrolled, revoked, seen, h_at, h_device, body) = row?;
                let health_at = h_at.as_deref().map(parse_time).transpose()?;
                let device_time = h_device.as_deref().map(parse_time).transpose()?;
                out.push(a::device_health(
                    parse_uuid(&id)?,
                    parse_uuid(&store)?,
                    name,
                    parse_time(&enrolled)?,
                    revoked,
                    seen.as_deref().map(parse_time).transpose()?,
                    health_at.zip(device_time),
                    body.as_deref(),
                ));
            }
            Ok(out)
        })
        .await
    }

    async fn export_page(
        &self,
        ranges: &[StoreRange],
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<ExportRow>, StorageError> {
        let q = a::export_sql(&SQLITE, ranges, after, limit);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&q.text)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(values(q.params)))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(ExportRow {
                    rating_id: parse_uuid(&r.get::<_, String>(0)?)?,
                    store_id: parse_uuid(&r.get::<_, String>(1)?)?,
                    device_id: parse_uuid(&r.get::<_, String>(2)?)?,
                    occurred_at: parse_time(&r.get::<_, String>(3)?)?,
                    local_date: date(&r.get::<_, String>(4)?)?,
                    local_hour: r.get::<_, i64>(5)? as u8,
                    touchpoint: r.get(6)?,
                    survey_version: r.get::<_, i64>(7)? as u32,
                    scale: r.get::<_, i64>(8)? as u8,
                    score: r.get::<_, i64>(9)? as u8,
                    nps: r.get::<_, Option<i64>>(10)?.map(|n| n as u8),
                    suspected_repeat: r.get(11)?,
                    comment: r.get(12)?,
                    reasons: a::split_reasons(r.get(13)?),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn opening_hours(&self, store_id: Uuid) -> Result<OpeningHours, StorageError> {
        self.read(move |c| {
            let stored: Option<Option<String>> = c
                .prepare_cached("SELECT opening_hours FROM stores WHERE id = ?1")?
                .query_row([store_id.to_string()], |r| r.get(0))
                .optional()?;
            match stored.ok_or(StorageError::NoSuchStore(store_id))? {
                None => Ok(OpeningHours::default()),
                Some(s) => OpeningHours::from_stored(&s)
                    .map_err(|e| StorageError::Corrupt(format!("opening hours: {e}"))),
            }
        })
        .await
    }

    async fn set_opening_hours(
        &self,
        store_id: Uuid,
        hours: &OpeningHours,
    ) -> Result<(), StorageError> {
        let stored = (!hours.always_open()).then(|| hours.to_stored());
        self.write(move |c| {
            store_exists(c, store_id)?;
            c.execute(
                "UPDATE stores SET opening_hours = ?1 WHERE id = ?2",
                params![stored, store_id.to_string()],
            )?;
            Ok(())
        })
        .await
    }
}
