//! The outbox that sync drains, the link to head office, and sync's own bookkeeping.
//!
//! Events leave the outbox only by being settled: acknowledged by HQ (accepted or a
//! duplicate of an earlier push) or quarantined with HQ's reason, so one bad event never
//! blocks the rest. Synced ratings are pruned after the retention period; unsynced ones
//! never are.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use super::{Result, Store, StoreError};

/// One event waiting for HQ, as it will be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvent {
    pub seq: i64,
    pub id: Uuid,
    pub kind: String,
    pub device_time: DateTime<Utc>,
    pub utc_offset_minutes: i32,
    pub body: serde_json::Value,
}

impl PendingEvent {
    /// This row as the protocol event HQ will read, its device time shifted by
    /// `correction`; the protocol's coded reason when the row is not one. The row is read
    /// exactly as HQ reads an event, so rows queued by older kiosk versions (whose bodies
    /// the protocol still reads) go out unchanged in meaning.
    pub fn to_event(
        &self,
        correction: chrono::Duration,
    ) -> std::result::Result<countertop_protocol::Event, countertop_protocol::EventError> {
        countertop_protocol::Event::from_value(serde_json::json!({
            "id": self.id,
            "seq": self.seq,
            "device_time": self.device_time + correction,
            "utc_offset_minutes": self.utc_offset_minutes,
            "kind": self.kind,
            "body": self.body,
        }))
    }
}

/// What HQ made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Stored at HQ (now or by an earlier push): done.
    Acknowledged,
    /// Refused by HQ for good; kept with the reason for the manager.
    Quarantined { reason: String },
}

/// The kiosk's enrollment at head office. The token is a secret: never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct HqLink {
    pub hq_url: String,
    pub device_id: Uuid,
    pub store_id: Uuid,
    pub device_token: String,
}

impl std::fmt::Debug for HqLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HqLink")
            .field("hq_url", &self.hq_url)
            .field("device_id", &self.device_id)
            .field("store_id", &self.store_id)
            .field("device_token", &"<secret>")
            .finish()
    }
}

/// The outbox at a glance, for the manager and for `device_health`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxStatus {
    pub pending: u64,
    pub quarantined: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// Sync's bookkeeping, kept across restarts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncState {
    pub config_cursor: u64,
    /// HQ's clock minus ours, as last measured.
    pub clock_offset_ms: Option<i64>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_health: Option<DateTime<Utc>>,
}

/// SQL that holds while the enrollment is the one named by `?2` (device id) and `?3`
/// (HQ address). Re-enrolling always yields a new device id.
const CURRENT_LINK: &str =
    "EXISTS (SELECT 1 FROM hq_link WHERE id = 1 AND device_id = ?2 AND hq_url = ?3)";

fn links_to(conn: &rusqlite::Connection, link: &HqLink) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM hq_link WHERE id = 1 AND device_id = ?1 AND hq_url = ?2)",
        params![link.device_id.to_string(), link.hq_url],
        |r| r.get(0),
    )?)
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: Option<String>) -> Result<Option<DateTime<Utc>>> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("time {t:?}: {e}")))
    })
    .transpose()
}

impl Store {
    /// Up to `limit` pending events, oldest first.
    pub fn pending_batch(&self, limit: usize) -> Result<Vec<PendingEvent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, event_id, kind, device_time, utc_offset_minutes, body
             FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i32>(4)?,
                row.get::<_, String>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, id, kind, time, offset, body) = row?;
            let corrupt = |e: String| StoreError::Corrupt(format!("outbox row {seq}: {e}"));
            Ok(PendingEvent {
                seq,
                id: Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?,
                kind,
                device_time: parse_time(Some(time))?.unwrap_or_default(),
                utc_offset_minutes: offset,
                body: serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?,
            })
        })
        .collect()
    }

    /// Records what HQ made of each event, in one transaction.
    pub fn settle(&mut self, outcomes: &[(i64, Settlement)]) -> Result<()> {
        let now = time_text(Utc::now());
        let tx = self.conn.transaction()?;
        {
            let mut ack = tx.prepare_cached(
                "UPDATE outbox SET state = 'acked', settled_at = ?2, attempts = attempts + 1
                 WHERE seq = ?1 AND state = 'pending'",
            )?;
            let mut quarantine = tx.prepare_cached(
                "UPDATE outbox SET state = 'quarantined', settled_at = ?2, last_error = ?3,
                        attempts = attempts + 1
                 WHERE seq = ?1 AND state = 'pending'",
            )?;
            for (seq, outcome) in outcomes {
                match outcome {
                    Settlement::Acknowledged => ack.execute(params![seq, now])?,
                    Settlement::Quarantined { reason } => {
                        quarantine.execute(params![seq, now, reason])?
                    }
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// How many events wait, how many are quarantined, and the oldest waiting.
    pub fn outbox_status(&self) -> Result<OutboxStatus> {
        let (pending, oldest): (u64, Option<String>) = self.conn.query_row(
            "SELECT count(*), min(device_time) FROM outbox WHERE state = 'pending'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let quarantined = self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE state = 'quarantined'",
            [],
            |r| r.get(0),
        )?;
        Ok(OutboxStatus {
            pending,
            quarantined,
            oldest_pending: parse_time(oldest)?,
        })
    }

    /// Quarantined events with HQ's reasons, newest first: `(event id, kind, reason)`.
    pub fn quarantined(&self) -> Result<Vec<(Uuid, String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT event_id, kind, coalesce(last_error, '') FROM outbox
             WHERE state = 'quarantined' ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })?;
        rows.map(|row| {
            let (id, kind, reason) = row?;
            let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok((id, kind, reason))
        })
        .collect()
    }

    /// Queues an event that is not a rating (such as `device_health`).
    pub fn queue_event(
        &mut self,
        kind: &str,
        body: &impl Serialize,
        at: DateTime<FixedOffset>,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let tx = self.conn.transaction()?;
        let seq = super::ratings::next_seq(&tx)?;
        super::ratings::queue_event(&tx, seq, id, kind, &at, body, None)?;
        tx.commit()?;
        Ok(id)
    }

    /// Deletes ratings recorded before `cutoff` whose every event HQ has acknowledged, and
    /// acknowledged events older than `cutoff`. Returns how many ratings went.
    pub fn prune_synced(&mut self, cutoff: DateTime<Utc>) -> Result<u64> {
        let cutoff = time_text(cutoff);
        let tx = self.conn.transaction()?;
        let ratings = tx.execute(
            "DELETE FROM ratings WHERE recorded_at < ?1 AND NOT EXISTS (
                SELECT 1 FROM outbox WHERE outbox.rating_id = ratings.id AND state != 'acked')",
            [&cutoff],
        )?;
        tx.execute(
            "DELETE FROM outbox WHERE state = 'acked' AND device_time < ?1",
            [&cutoff],
        )?;
        tx.commit()?;
        Ok(ratings as u64)
    }

    /// The kiosk's enrollment, if it has one.
    pub fn hq_link(&self) -> Result<Option<HqLink>> {
        let row = self
            .conn
            .query_row(
                "SELECT hq_url, device_id, store_id, device_token FROM hq_link WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(hq_url, device, store, device_token)| {
            let uuid = |s: &str| Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(e.to_string()));
            Ok(HqLink {
                hq_url,
                device_id: uuid(&device)?,
                store_id: uuid(&store)?,
                device_token,
            })
        })
        .transpose()
    }

    /// Saves (or replaces) the kiosk's enrollment. Sync starts over with the new HQ.
    pub fn set_hq_link(&mut self, link: &HqLink) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO hq_link (id, hq_url, device_id, store_id, device_token, enrolled_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![
                link.hq_url,
                link.device_id.to_string(),
                link.store_id.to_string(),
                link.device_token,
                time_text(Utc::now()),
            ],
        )?;
        tx.execute(
            "UPDATE sync_state SET config_cursor = 0, regulars_cursor = 0, last_error = NULL
             WHERE id = 1",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn sync_state(&self) -> Result<SyncState> {
        let (cursor, offset, success, error, health) = self.conn.query_row(
            "SELECT config_cursor, clock_offset_ms, last_success, last_error, last_health
             FROM sync_state WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )?;
        Ok(SyncState {
            config_cursor: cursor.max(0) as u64,
            clock_offset_ms: offset,
            last_success: parse_time(success)?,
            last_error: error,
            last_health: parse_time(health)?,
        })
    }

    /// Writes the whole snapshot. Sync itself never does this after awaiting HQ (an
    /// enrollment made meanwhile would be overwritten): it writes only the fields a round
    /// owns, through the `note_*` and `record_config_pull` methods below.
    pub fn set_sync_state(&mut self, state: &SyncState) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET config_cursor = ?1, clock_offset_ms = ?2, last_success = ?3,
                    last_error = ?4, last_health = ?5 WHERE id = 1",
            params![
                state.config_cursor as i64,
                state.clock_offset_ms,
                state.last_success.map(time_text),
                state.last_error,
                state.last_health.map(time_text),
            ],
        )?;
        Ok(())
    }

    /// True while the kiosk is still enrolled as `link` (the same device at the same HQ).
    /// A round started under one enrollment must not write what it learnt into another.
    pub fn links_to(&self, link: &HqLink) -> Result<bool> {
        links_to(&self.conn, link)
    }

    /// Records a config pull made under `link`: the measured clock offset, HQ's cursor,
    /// and the survey HQ sent (if it changed). Writes nothing and returns false when the
    /// kiosk was enrolled elsewhere since the round began.
    pub fn record_config_pull(
        &mut self,
        link: &HqLink,
        clock_offset_ms: i64,
        cursor: u64,
        survey: Option<&str>,
    ) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !links_to(&tx, link)? {
            return Ok(false);
        }
        if let Some(json) = survey {
            tx.execute(
                "INSERT OR REPLACE INTO hq_survey (id, config) VALUES (1, ?1)",
                [json],
            )?;
        }
        tx.execute(
            "UPDATE sync_state SET config_cursor = ?1, clock_offset_ms = ?2 WHERE id = 1",
            params![cursor as i64, clock_offset_ms],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// A round under `link` drained the outbox. Returns false (and writes nothing) when
    /// the kiosk was enrolled elsewhere meanwhile.
    pub fn note_sync_success(&mut self, link: &HqLink, at: DateTime<Utc>) -> Result<bool> {
        let changed = self.conn.execute(
            &format!(
                "UPDATE sync_state SET last_success = ?1, last_error = NULL
                 WHERE id = 1 AND {CURRENT_LINK}"
            ),
            params![time_text(at), link.device_id.to_string(), link.hq_url],
        )?;
        Ok(changed > 0)
    }

    /// A round under `link` failed with `message`. An error about an HQ the kiosk has
    /// since left is not recorded.
    pub fn note_sync_error(&mut self, link: &HqLink, message: &str) -> Result<bool> {
        let changed = self.conn.execute(
            &format!("UPDATE sync_state SET last_error = ?1 WHERE id = 1 AND {CURRENT_LINK}"),
            params![message, link.device_id.to_string(), link.hq_url],
        )?;
        Ok(changed > 0)
    }

    /// A `device_health` event was queued at `at`.
    pub fn note_health_queued(&mut self, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET last_health = ?1 WHERE id = 1",
            [time_text(at)],
        )?;
        Ok(())
    }

    /// The survey HQ last pushed down, as JSON, if any.
    pub fn hq_survey(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT config FROM hq_survey WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_hq_survey(&mut self, json: &str, cursor: u64) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO hq_survey (id, config) VALUES (1, ?1)",
            [json],
        )?;
        tx.execute(
            "UPDATE sync_state SET config_cursor = ?1 WHERE id = 1",
            [cursor as i64],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::Details;
    use crate::store::temp_store as store;
    use crate::store::NewRating;

    #[test]
    fn settled_events_leave_the_batch_and_quarantined_ones_keep_their_reason() {
        let (_dir, mut store) = store();
        let ids: Vec<_> = (1..=3)
            .map(|s| store.record_rating(&NewRating::now_for_test(s)).unwrap())
            .collect();
        let batch = store.pending_batch(10).unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch[0].id, ids[0].id);
        assert_eq!(batch[0].kind, "rating");
        store
            .settle(&[
                (batch[0].seq, Settlement::Acknowledged),
                (
                    batch[1].seq,
                    Settlement::Quarantined {
                        reason: "score out of range".into(),
                    },
                ),
            ])
            .unwrap();
        let left = store.pending_batch(10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, ids[2].id);
        let status = store.outbox_status().unwrap();
        assert_eq!((status.pending, status.quarantined), (1, 1));
        assert_eq!(
            store.quarantined().unwrap(),
            [(
                ids[1].id,
                "rating".to_string(),
                "score out of range".to_string()
            )]
        );
    }

    #[test]
    fn pruning_keeps_unsynced_ratings_whatever_their_age() {
        let (_dir, mut store) = store();
        let old = chrono::Local::now().fixed_offset() - chrono::Duration::days(40);
        let mut synced = NewRating::now_for_test(5);
        synced.at = old;
        let synced = store.record_rating(&synced).unwrap();
        let mut unsynced = NewRating::now_for_test(4);
        unsynced.at = old;
        let unsynced = store.record_rating(&unsynced).unwrap();
        let mut details_pending = NewRating::now_for_test(1);
        details_pending.at = old;
        let details_pending = store.record_rating(&details_pending).unwrap();
        let recent = store.record_rating(&NewRating::now_for_test(3)).unwrap();
        store
            .attach_details(details_pending.id, &Details::default(), old)
            .unwrap();
        let batch = store.pending_batch(10).unwrap();
        let ack: Vec<_> = batch
            .iter()
            .filter(|e| [synced.id, details_pending.id, recent.id].contains(&e.id))
            .map(|e| (e.seq, Settlement::Acknowledged))
            .collect();
        store.settle(&ack).unwrap();

        let pruned = store
            .prune_synced(Utc::now() - chrono::Duration::days(30))
            .unwrap();
        assert_eq!(pruned, 1);
        assert!(!store.has_rating(synced.id).unwrap());
        assert!(store.has_rating(unsynced.id).unwrap(), "never synced: kept");
        assert!(
            store.has_rating(details_pending.id).unwrap(),
            "details unsynced: kept"
        );
        assert!(
            store.has_rating(recent.id).unwrap(),
            "younger than 30 days: kept"
        );
        assert_eq!(store.outbox_status().unwrap().pending, 2);
    }

    #[test]
    fn a_round_begun_under_one_enrollment_writes_nothing_into_the_next() {
        let (_dir, mut store) = store();
        let old = HqLink {
            hq_url: "http://old.example".into(),
            device_id: Uuid::now_v7(),
            store_id: Uuid::now_v7(),
            device_token: "a".repeat(64),
        };
        store.set_hq_link(&old).unwrap();
        assert!(store.record_config_pull(&old, 5, 9, Some("{}")).unwrap());
        assert_eq!(store.sync_state().unwrap().config_cursor, 9);
        // Enrolled elsewhere while the old round still awaits HQ...
        let new = HqLink {
            hq_url: "http://new.example".into(),
            device_id: Uuid::now_v7(),
            ..old.clone()
        };
        store.set_hq_link(&new).unwrap();
        store.set_hq_survey("{\"new\":true}", 0).unwrap();
        // ...so everything the old round learnt is dropped.
        assert!(!store.links_to(&old).unwrap());
        assert!(!store.record_config_pull(&old, 7, 12, Some("{}")).unwrap());
        assert!(!store.note_sync_error(&old, "old HQ down").unwrap());
        assert!(!store.note_sync_success(&old, Utc::now()).unwrap());
        let state = store.sync_state().unwrap();
        assert_eq!(state.config_cursor, 0);
        assert_eq!(state.clock_offset_ms, Some(5));
        assert_eq!(state.last_error, None);
        assert_eq!(state.last_success, None);
        assert_eq!(
            store.hq_survey().unwrap().as_deref(),
            Some("{\"new\":true}")
        );
        // The new enrollment's own round writes as usual.
        assert!(store.links_to(&new).unwrap());
        assert!(store.note_sync_error(&new, "new HQ down").unwrap());
        assert!(store.record_config_pull(&new, 1, 3, None).unwrap());
        let state = store.sync_state().unwrap();
        assert_eq!(state.config_cursor, 3);
        assert_eq!(state.last_error.as_deref(), Some("new HQ down"));
    }

    #[test]
    fn the_link_and_sync_state_survive_a_reopen_and_the_token_is_not_debug_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("countertop.db");
        let link = HqLink {
            hq_url: "http://127.0.0.1:8080".into(),
            device_id: Uuid::now_v7(),
            store_id: Uuid::now_v7(),
            device_token: "f".repeat(64),
        };
        {
            let mut store = Store::open(&path).unwrap();
            assert_eq!(store.hq_link().unwrap(), None);
            store.set_hq_link(&link).unwrap();
            let mut state = store.sync_state().unwrap();
            state.clock_offset_ms = Some(-86_400_000);
            state.last_error = Some("connection refused".into());
            store.set_sync_state(&state).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.hq_link().unwrap(), Some(link.clone()));
        assert_eq!(
            store.sync_state().unwrap().clock_offset_ms,
            Some(-86_400_000)
        );
        assert!(!format!("{link:?}").contains("ffff"));
    }
}
