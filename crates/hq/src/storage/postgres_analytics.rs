//! [`Analytics`] on PostgreSQL: the shared SQL of [`super::analytics`] on a pooled
//! connection, with PostgreSQL's own types (uuid, date, timestamptz).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use super::analytics::{
    self as a, Analytics, CellRow, CommentPage, CommentQuery, CommentRow, DeviceHealth, ExportRow,
    Heatmap, Param, Sql, StoreInfo, StoreRange, Sums, POSTGRES,
};
use super::hours::OpeningHours;
use super::postgres::store_exists;
use super::{PostgresStorage, StorageError};

fn boxed(params: Vec<Param>) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .into_iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Uuid(u) => Box::new(u),
                Param::Date(d) => Box::new(d),
                Param::Text(t) => Box::new(t),
                Param::Int(i) => Box::new(i),
                Param::Time(t) => Box::new(t),
            }
        })
        .collect()
}

impl PostgresStorage {
    async fn rows(&self, q: Sql) -> Result<Vec<Row>, StorageError> {
        let params = boxed(q.params);
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let client = self.client().await?;
        let stmt = client.prepare_cached(&q.text).await?;
        Ok(client.query(&stmt, &refs).await?)
    }

    pub(super) async fn cells(&self, q: Sql) -> Result<Vec<CellRow>, StorageError> {
        self.rows(q)
            .await?
            .iter()
            .map(|r| {
                let n = |i: usize| -> Result<u64, StorageError> {
                    Ok(r.try_get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
                };
                Ok(CellRow {
                    key: r.try_get(0)?,
                    scale: r.try_get::<_, i32>(1)? as u8,
                    score: r.try_get::<_, i32>(2)? as u8,
                    cell: a::Cell {
                        n: n(3)?,
                        nps_responses: n(4)?,
                        promoters: n(5)?,
                        detractors: n(6)?,
                    },
                })
            })
            .collect()
    }

    async fn reason_rows(&self, q: Sql) -> Result<Vec<(String, String, u64)>, StorageError> {
        self.rows(q)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get::<_, i64>(2)?.max(0) as u64,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl Analytics for PostgresStorage {
    async fn stores(&self) -> Result<Vec<StoreInfo>, StorageError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, name, timezone FROM stores ORDER BY name, id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoreInfo {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    timezone: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn store_summaries(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(Uuid, Sums)>, StorageError> {
        let q = a::cells_sql(&POSTGRES, ranges, include_repeats, a::Key::Store);
        a::by_store(self.cells(q).await?)
    }

    async fn daily(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(NaiveDate, Sums)>, StorageError> {
        let q = a::cells_sql(&POSTGRES, ranges, include_repeats, a::Key::Day);
        a::by_day(self.cells(q).await?)
    }

    async fn heatmap(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Heatmap, StorageError> {
        let q = a::cells_sql(&POSTGRES, ranges, include_repeats, a::Key::Slot);
        a::by_slot(self.cells(q).await?)
    }

    async fn touchpoints(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(String, Sums)>, StorageError> {
        let q = a::cells_sql(&POSTGRES, ranges, include_repeats, a::Key::Touchpoint);
        Ok(a::by_text(self.cells(q).await?))
    }

    async fn reasons(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        let q = a::reasons_sql(&POSTGRES, ranges, include_repeats, false);
        Ok(a::reason_totals(self.reason_rows(q).await?))
    }

    async fn reasons_daily(
        &self,
        ranges: &[StoreRange],
        include_repeats: bool,
    ) -> Result<Vec<(NaiveDate, String, u64)>, StorageError> {
        let q = a::reasons_sql(&POSTGRES, ranges, include_repeats, true);
        a::reason_days(self.reason_rows(q).await?)
    }

    async fn comments(&self, query: &CommentQuery) -> Result<CommentPage, StorageError> {
        let q = a::comments_sql(&POSTGRES, query);
        let rows = self.rows(q).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(CommentRow {
                rating_id: r.try_get(0)?,
                store_id: r.try_get(1)?,
                occurred_at: r.try_get(2)?,
                local_date: r.try_get(3)?,
                score: r.try_get::<_, i32>(4)? as u8,
                scale: r.try_get::<_, i32>(5)? as u8,
                touchpoint: r.try_get(6)?,
                suspected_repeat: r.try_get(7)?,
                comment: r.try_get(8)?,
                reasons: a::split_reasons(r.try_get(9)?),
            });
        }
        Ok(a::comment_page(out, query.limit))
    }

    async fn devices(&self, stores: Option<&[Uuid]>) -> Result<Vec<DeviceHealth>, StorageError> {
        let filter: Option<Vec<Uuid>> = stores.map(<[Uuid]>::to_vec);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT d.id, d.store_id, d.name, d.enrolled_at, d.revoked_at IS NOT NULL, \
                 d.last_seen_at, h.received_at, h.device_time, h.body::text \
                 FROM devices d LEFT JOIN LATERAL ( \
                   SELECT e.received_at, e.device_time, e.body FROM events e \
                   WHERE e.device_id = d.id AND e.kind = 'device_health' \
                   ORDER BY e.received_at DESC, e.seq DESC LIMIT 1) h ON TRUE \
                 WHERE $1::uuid[] IS NULL OR d.store_id = ANY($1) \
                 ORDER BY d.store_id, d.name, d.id",
                &[&filter],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let h_at: Option<DateTime<Utc>> = r.try_get(6)?;
                let h_device: Option<DateTime<Utc>> = r.try_get(7)?;
                let body: Option<String> = r.try_get(8)?;
                Ok(a::device_health(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                    h_at.zip(h_device),
                    body.as_deref(),
                ))
            })
            .collect()
    }

    async fn export_page(
        &self,
        ranges: &[StoreRange],
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<ExportRow>, StorageError> {
        let q = a::export_sql(&POSTGRES, ranges, after, limit);
        let rows = self.rows(q).await?;
        rows.iter()
            .map(|r| {
                Ok(ExportRow {
                    rating_id: r.try_get(0)?,
                    store_id: r.try_get(1)?,
                    device_id: r.try_get(2)?,
                    occurred_at: r.try_get(3)?,
                    local_date: r.try_get(4)?,
                    local_hour: r.try_get::<_, i32>(5)? as u8,
                    touchpoint: r.try_get(6)?,
                    survey_version: r.try_get::<_, i64>(7)? as u32,
                    scale: r.try_get::<_, i32>(8)? as u8,
                    score: r.try_get::<_, i32>(9)? as u8,
                    nps: r.try_get::<_, Option<i32>>(10)?.map(|n| n as u8),
                    suspected_repeat: r.try_get(11)?,
                    comment: r.try_get(12)?,
                    reasons: a::split_reasons(r.try_get(13)?),
                })
            })
            .collect()
    }

    async fn opening_hours(&self, store_id: Uuid) -> Result<OpeningHours, StorageError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT opening_hours FROM stores WHERE id = $1",
                &[&store_id],
            )
            .await?
            .ok_or(StorageError::NoSuchStore(store_id))?;
        match row.try_get::<_, Option<String>>(0)? {
            None => Ok(OpeningHours::default()),
            Some(s) => OpeningHours::from_stored(&s)
                .map_err(|e| StorageError::Corrupt(format!("opening hours: {e}"))),
        }
    }

    async fn set_opening_hours(
        &self,
        store_id: Uuid,
        hours: &OpeningHours,
    ) -> Result<(), StorageError> {
        let stored = (!hours.always_open()).then(|| hours.to_stored());
        let client = self.client().await?;
        store_exists(&client, store_id).await?;
        client
            .execute(
                "UPDATE stores SET opening_hours = $1 WHERE id = $2",
                &[&stored, &store_id],
            )
            .await?;
        Ok(())
    }
}
