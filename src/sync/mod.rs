//! Sync: every rating reaches head office exactly once, through any failure.
//!
//! The loop runs on the core thread beside the command loop and shares its store. It
//! wakes on a new rating, on a timer, on "sync now", or when a lost network comes back.
//! Each round pulls the survey config (which also measures the clock offset), pushes the
//! outbox in gzip batches, pulls regulars' profiles, visits and erasures, and settles each event by HQ's verdict: acknowledged events
//! are done, rejected ones are quarantined with the reason, and the rest flow on. Failures
//! back off exponentially with jitter, capped at a few minutes, honouring `Retry-After`.
//! Nothing is deleted until HQ has acknowledged it.

pub mod backoff;
pub mod client;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use countertop_protocol::{EventOutcome, NewDeviceHealth};
use tokio::sync::{watch, Notify};

use crate::clock;
use crate::config::{KioskConfig, SyncConfig};
use crate::store::{HqLink, Settlement, Store, StoreError};
use backoff::Backoff;
use client::{HqClient, HqError};

/// What the manager sees of sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    pub enrolled: bool,
    pub hq_url: Option<String>,
    pub pending: u64,
    pub quarantined: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// HQ's clock minus ours, when measured.
    pub clock_offset_ms: Option<i64>,
    /// True while a failed round waits to retry.
    pub retrying: bool,
}

/// What wakes the sync loop.
#[derive(Default)]
pub struct Wake {
    pub new_rating: Notify,
    pub sync_now: Notify,
}

/// Why a round stopped early.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Hq(#[from] HqError),
    #[error("local database: {0}")]
    Store(#[from] StoreError),
}

enum Round {
    Synced,
    NotEnrolled,
}

/// Clock offsets smaller than this are noise from the round trip; larger ones mean the
/// device clock is wrong and event times are corrected on the way out.
const CLOCK_TOLERANCE_MS: i64 = 60_000;

/// The sync loop. Runs until its task is dropped.
pub async fn run(
    store: Rc<RefCell<Store>>,
    wake: Rc<Wake>,
    base: KioskConfig,
    status: watch::Sender<SyncStatus>,
    survey: Rc<watch::Sender<KioskConfig>>,
) {
    let settings = base.sync.clone();
    let mut backoff = Backoff::new(
        Duration::from_secs_f64(settings.retry_base_secs),
        Duration::from_secs_f64(settings.retry_max_secs),
    );
    let mut batch_size = settings.batch_size;
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        let result = round(&store, &settings, &base, &survey, &mut batch_size).await;
        if last_prune.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
            prune(&store, &settings);
            last_prune = Some(std::time::Instant::now());
        }
        match result {
            Ok(round) => {
                backoff.reset();
                publish(&store, &status, false);
                let interval = Duration::from_secs_f64(settings.interval_secs);
                match round {
                    Round::Synced => tokio::select! {
                        _ = wake.new_rating.notified() => {}
                        _ = wake.sync_now.notified() => {}
                        _ = tokio::time::sleep(interval) => {}
                    },
                    Round::NotEnrolled => tokio::select! {
                        _ = wake.sync_now.notified() => {}
                        _ = tokio::time::sleep(interval) => {}
                    },
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::warn!("sync failed, will retry: {message}");
                let state = store.borrow().sync_state();
                if let Ok(mut state) = state {
                    state.last_error = Some(message);
                    let _ = store.borrow_mut().set_sync_state(&state);
                }
                publish(&store, &status, true);
                let delay = match &error {
                    RoundError::Hq(e) => e.retry_after().unwrap_or_else(|| backoff.next_delay()),
                    RoundError::Store(_) => backoff.next_delay(),
                };
                let unreachable = matches!(&error, RoundError::Hq(e) if e.is_unreachable());
                let hq_url = store.borrow().hq_link().ok().flatten().map(|l| l.hq_url);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = wake.sync_now.notified() => {}
                    _ = network_back(hq_url), if unreachable => {}
                }
            }
        }
    }
}

/// One sync round: config, health, then the whole outbox.
async fn round(
    store: &Rc<RefCell<Store>>,
    settings: &SyncConfig,
    base: &KioskConfig,
    survey: &Rc<watch::Sender<KioskConfig>>,
    batch_size: &mut usize,
) -> Result<Round, RoundError> {
    let Some(link) = store.borrow().hq_link()? else {
        return Ok(Round::NotEnrolled);
    };
    let client = HqClient::new(&link.hq_url, settings.ca_file.as_deref())?;
    let mut state = store.borrow().sync_state()?;

    // Pull config; its server time measures our clock's offset.
    let asked = clock::utc_now();
    let pulled = client
        .pull_config(&link.device_token, link.store_id, state.config_cursor)
        .await?;
    let answered = clock::utc_now();
    let midpoint = asked + (answered - asked) / 2;
    state.clock_offset_ms = Some((pulled.server_time - midpoint).num_milliseconds());
    if let Some(config) = pulled.config {
        let json =
            serde_json::to_string(&config).map_err(|e| HqError::BadResponse(e.to_string()))?;
        store.borrow_mut().set_hq_survey(&json, pulled.cursor)?;
        tracing::info!("survey version {} from HQ applied", config.version);
        survey.send_replace(config_in_force(base, &store.borrow()));
    }
    state.config_cursor = pulled.cursor;
    store.borrow_mut().set_sync_state(&state)?;

    pull_regulars(store, &client, &link).await?;

    queue_health_if_due(store, settings, &mut state)?;

    let correction = match state.clock_offset_ms {
        Some(ms) if ms.abs() > CLOCK_TOLERANCE_MS => chrono::Duration::milliseconds(ms),
        _ => chrono::Duration::zero(),
    };
    loop {
        let batch = store.borrow().pending_batch(*batch_size)?;
        if batch.is_empty() {
            break;
        }
        let pushed = match client.push(&link.device_token, &batch, correction).await {
            Err(HqError::Status { status, .. })
                if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE && *batch_size > 1 =>
            {
                *batch_size = (*batch_size / 2).max(1);
                continue;
            }
            other => other?,
        };
        let mut outcomes = Vec::with_capacity(pushed.results.len());
        let mut erased_elsewhere = Vec::new();
        for result in &pushed.results {
            let Some(event) = batch.get(result.index) else {
                continue;
            };
            if result.id.is_some_and(|id| id != event.id) {
                continue;
            }
            outcomes.push((
                event.seq,
                match &result.outcome {
                    EventOutcome::Accepted { .. } | EventOutcome::Duplicate => {
                        Settlement::Acknowledged
                    }
                    EventOutcome::Rejected { code, reason } => {
                        tracing::warn!("HQ rejected event {} ({code}); quarantined", event.id);
                        if code == ERASED_CODE {
                            erased_elsewhere.push(event.id);
                        }
                        Settlement::Quarantined {
                            reason: format!("{code}: {reason}"),
                        }
                    }
                },
            ));
        }
        if outcomes.is_empty() {
            return Err(HqError::BadResponse("HQ settled none of the batch".into()).into());
        }
        store.borrow_mut().settle(&outcomes)?;
        purge_erased_elsewhere(store, &erased_elsewhere)?;
    }
    state.last_success = Some(Utc::now());
    state.last_error = None;
    store.borrow_mut().set_sync_state(&state)?;
    Ok(Round::Synced)
}

/// HQ's rejection code for an upload about a regular who was erased.
const ERASED_CODE: &str = "regular_erased";

/// Pulls regulars' changes page by page until HQ has no more. An HQ from before regulars
/// answers 404: nothing to pull, so the round goes on quietly.
async fn pull_regulars(
    store: &Rc<RefCell<Store>>,
    client: &HqClient,
    link: &HqLink,
) -> Result<(), RoundError> {
    loop {
        let cursor = store.borrow().regulars_cursor()?;
        let page = match client
            .pull_regulars(&link.device_token, link.store_id, cursor)
            .await
        {
            Err(HqError::Status { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                tracing::debug!("HQ does not serve regulars yet; skipped");
                return Ok(());
            }
            other => other?,
        };
        let applied = store.borrow_mut().apply_regulars(&page)?;
        if applied != Default::default() {
            tracing::info!(
                "regulars from HQ: {} profiles, {} visits, {} erasures applied",
                applied.profiles,
                applied.visits,
                applied.erased
            );
        }
        // A full page that does not move the cursor would loop for ever.
        if !page.more || page.cursor <= cursor {
            return Ok(());
        }
    }
}

/// Purges the regulars named by events HQ refused because the regular was erased: the
/// erasure happened elsewhere, and this kiosk must not keep what it was about to send.
fn purge_erased_elsewhere(
    store: &Rc<RefCell<Store>>,
    events: &[uuid::Uuid],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let regulars = store.borrow().regulars_of_events(events)?;
    for regular in regulars {
        store.borrow_mut().purge_regular(regular, Utc::now())?;
    }
    Ok(())
}

/// The configuration in force: the local file, HQ's survey once it has sent one, and the
/// manager's local settings on top.
pub(crate) fn config_in_force(base: &KioskConfig, store: &Store) -> KioskConfig {
    let with_hq = match store.hq_survey() {
        Ok(Some(json)) => match serde_json::from_str(&json) {
            Ok(hq) => base.with_hq_survey(&hq),
            Err(e) => {
                tracing::warn!("ignoring the stored HQ survey: {e}");
                base.clone()
            }
        },
        Ok(None) => base.clone(),
        Err(e) => {
            tracing::warn!("cannot read the stored HQ survey: {e}");
            base.clone()
        }
    };
    match store.local_settings() {
        Ok(local) => with_hq.with_local_settings(&local),
        Err(e) => {
            tracing::warn!("ignoring the local settings: {e}");
            with_hq
        }
    }
}

/// Queues a `device_health` event every `health_interval_secs`, unless one still waits.
fn queue_health_if_due(
    store: &Rc<RefCell<Store>>,
    settings: &SyncConfig,
    state: &mut crate::store::SyncState,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let interval = chrono::Duration::milliseconds((settings.health_interval_secs * 1000.0) as i64);
    if state.last_health.is_some_and(|at| now - at < interval) {
        return Ok(());
    }
    let outbox = store.borrow().outbox_status()?;
    let health = NewDeviceHealth {
        queue_depth: outbox.pending,
        oldest_unsent_age_seconds: outbox
            .oldest_pending
            .map(|at| (clock::utc_now() - at).num_seconds().max(0) as u64),
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        last_error: state.last_error.clone(),
    };
    store
        .borrow_mut()
        .queue_event("device_health", &health, clock::local_now())?;
    state.last_health = Some(now);
    store.borrow_mut().set_sync_state(state)?;
    Ok(())
}

fn prune(store: &Rc<RefCell<Store>>, settings: &SyncConfig) {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(settings.retention_days));
    match store.borrow_mut().prune_synced(cutoff) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "pruned {n} synced ratings older than {} days",
            settings.retention_days
        ),
        Err(e) => tracing::warn!("cannot prune synced ratings: {e}"),
    }
}

/// Publishes the current sync state for the manager's screen.
pub(crate) fn publish(
    store: &Rc<RefCell<Store>>,
    status: &watch::Sender<SyncStatus>,
    retrying: bool,
) {
    let store = store.borrow();
    let link = store.hq_link().ok().flatten();
    let outbox = store.outbox_status().unwrap_or_default();
    let state = store.sync_state().unwrap_or_default();
    status.send_replace(SyncStatus {
        enrolled: link.is_some(),
        hq_url: link.map(|l| l.hq_url),
        pending: outbox.pending,
        quarantined: outbox.quarantined,
        oldest_pending: outbox.oldest_pending,
        last_success: state.last_success,
        last_error: state.last_error,
        clock_offset_ms: state.clock_offset_ms,
        retrying,
    });
}

/// Resolves once HQ's port accepts a TCP connection again, probing every two seconds.
async fn network_back(hq_url: Option<String>) {
    let Some(addr) = hq_url.as_deref().and_then(host_port) else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let connect = tokio::net::TcpStream::connect(addr.as_str());
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), connect).await {
            return;
        }
    }
}

/// `host:port` of an http(s) URL.
fn host_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        return Some(authority.to_owned());
    }
    let port = if scheme == "https" { 443 } else { 80 };
    Some(format!("{authority}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn probes_the_port_hq_listens_on() {
        assert_eq!(
            host_port("http://127.0.0.1:8080/x").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host_port("https://hq.example").as_deref(),
            Some("hq.example:443")
        );
        assert_eq!(
            host_port("http://hq.example").as_deref(),
            Some("hq.example:80")
        );
        assert_eq!(host_port("nonsense"), None);
    }
}
