//! The alert engine in one HQ process: evaluates rules for the stores a push touched (at
//! once) and for every store on a timer, and sends due deliveries from the outbox. Any
//! number of processes may run it on one PostgreSQL: the storage step is locked per rule
//! and store, and deliveries are claimed with a lease, so each goes out once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono_tz::Tz;
use tokio::sync::Notify;
use uuid::Uuid;

use super::evaluate::{is_open, kiosk_condition, rating_condition};
use super::lifecycle::Step;
use super::{channels, AlertSettings};
use crate::storage::alerts::{backoff, Observation, WindowFacts, MAX_ATTEMPTS};
use crate::storage::{Storage, StorageError};

/// What one evaluation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub opened: usize,
    pub closed: usize,
    pub repeated: usize,
}

pub struct Engine {
    storage: Arc<dyn Storage>,
    settings: AlertSettings,
    http: reqwest::Client,
    touched: Mutex<HashSet<Uuid>>,
    wake: Notify,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(storage: Arc<dyn Storage>, settings: AlertSettings) -> Engine {
        let http = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Engine {
            storage,
            settings,
            http,
            touched: Mutex::new(HashSet::new()),
            wake: Notify::new(),
        }
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// A push stored new events for `store`: evaluate its rules now (in the background).
    pub fn store_touched(&self, store: Uuid) {
        if let Ok(mut t) = self.touched.lock() {
            t.insert(store);
        }
        self.wake.notify_one();
    }

    /// Evaluate every rule for `stores` (every store when `None`), once.
    pub async fn evaluate(&self, stores: Option<&[Uuid]>) -> Result<Pass, StorageError> {
        let now = self.settings.clock.now();
        let rules = self.storage.rules().await?;
        let mut pass = Pass::default();
        if rules.is_empty() {
            return Ok(pass);
        }
        let all = self.storage.stores().await?;
        for store in all
            .iter()
            .filter(|s| stores.is_none_or(|want| want.contains(&s.id)))
        {
            let mine: Vec<_> = rules.iter().filter(|r| r.spec.covers(store.id)).collect();
            if mine.is_empty() {
                continue;
            }
            let tz: Tz = store.timezone.parse().unwrap_or(chrono_tz::UTC);
            let hours = self.storage.opening_hours(store.id).await?;
            if !is_open(&hours, tz, now) {
                // Muted outside opening hours: nothing opens, repeats or closes.
                continue;
            }
            let mut kiosks = None;
            // Rules of a store that share a window and a touchpoint read the same facts:
            // one query for them all, not one per rule.
            let mut windows: HashMap<(u32, Option<String>), WindowFacts> = HashMap::new();
            for rule in mine {
                let (holds, detail) = if rule.spec.condition.reads_ratings() {
                    let key = (rule.spec.window_minutes, rule.spec.touchpoint.clone());
                    if !windows.contains_key(&key) {
                        let since = now - chrono::Duration::minutes(i64::from(key.0));
                        let facts = self
                            .storage
                            .window_facts(store.id, since, key.1.as_deref())
                            .await?;
                        windows.insert(key.clone(), facts);
                    }
                    match windows.get(&key) {
                        Some(facts) => rating_condition(rule, facts),
                        None => (false, String::new()),
                    }
                } else {
                    if kiosks.is_none() {
                        kiosks = Some(self.storage.devices(Some(&[store.id])).await?);
                    }
                    kiosk_condition(rule, kiosks.as_deref().unwrap_or_default(), &hours, tz, now)
                };
                let obs = Observation {
                    rule: rule.clone(),
                    store_id: store.id,
                    store_name: store.name.clone(),
                    holds,
                    detail,
                };
                match self.storage.step_alert(&obs, now).await? {
                    Step::Open => {
                        tracing::info!(rule_id = %rule.id, store_id = %store.id, "alert opened");
                        pass.opened += 1;
                    }
                    Step::Close => pass.closed += 1,
                    Step::Repeat => pass.repeated += 1,
                    _ => {}
                }
            }
        }
        Ok(pass)
    }

    /// Send every due delivery once; returns how many were accepted.
    pub async fn deliver_due(&self) -> Result<usize, StorageError> {
        let mut sent = 0;
        loop {
            let now = self.settings.clock.now();
            let lease = chrono::Duration::from_std(self.settings.lease)
                .unwrap_or(chrono::Duration::minutes(1));
            let batch = self.storage.claim_deliveries(now, now + lease, 32).await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let mut results = Vec::with_capacity(batch.len());
            for d in &batch {
                results.push(
                    channels::send(
                        &self.http,
                        self.settings.webhook_secret.as_deref(),
                        self.settings.smtp.as_ref(),
                        d,
                    )
                    .await,
                );
            }
            for (d, r) in batch.iter().zip(results) {
                match r {
                    Ok(()) => {
                        self.storage
                            .delivery_succeeded(d.id, self.settings.clock.now())
                            .await?;
                        sent += 1;
                    }
                    Err(e) => {
                        let retry = (d.attempts < MAX_ATTEMPTS).then(|| {
                            self.settings.clock.now()
                                + backoff(self.settings.retry_base, d.attempts - 1)
                        });
                        tracing::warn!(delivery = %d.id, attempts = d.attempts, error = %e, "alert delivery failed");
                        self.storage
                            .delivery_failed(d.id, &e.to_string(), retry)
                            .await?;
                    }
                }
            }
            if batch.len() < 32 {
                return Ok(sent);
            }
        }
    }

    /// Run until dropped: touched stores at once, everything on the timer, deliveries
    /// right after each pass and on the poll interval.
    pub async fn run(self: Arc<Self>) {
        let mut last_full = tokio::time::Instant::now() - self.settings.evaluate_every;
        loop {
            let full = last_full.elapsed() >= self.settings.evaluate_every;
            let touched: Vec<Uuid> = self
                .touched
                .lock()
                .map(|mut t| t.drain().collect())
                .unwrap_or_default();
            let result = if full {
                last_full = tokio::time::Instant::now();
                self.evaluate(None).await.map(|_| ())
            } else if !touched.is_empty() {
                self.evaluate(Some(&touched)).await.map(|_| ())
            } else {
                Ok(())
            };
            if let Err(e) = super::badge::refresh(self.storage.as_ref()).await {
                tracing::warn!(error = %e, "refreshing the alert badge failed");
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, "alert evaluation failed; retrying on the next tick");
            }
            if let Err(e) = self.deliver_due().await {
                tracing::warn!(error = %e, "alert delivery pass failed");
            }
            let wait = self.settings.poll_every.min(self.settings.evaluate_every);
            let _ = tokio::time::timeout(wait.max(Duration::from_millis(10)), self.wake.notified())
                .await;
        }
    }
}
