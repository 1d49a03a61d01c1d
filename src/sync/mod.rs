//! Sync: every rating reaches head office exactly once, through any failure.
//!
//! The loop runs on the core thread beside the command loop and shares its store. It
//! wakes on a new rating, on a timer, on "sync now", or when a lost network comes back.
//! Each round pulls the survey config (which also measures the clock offset), pulls
//! regulars' profiles, visits and erasures, and pushes the outbox in gzip batches,
//! settling each event by HQ's verdict: acknowledged events are done, rejected ones are
//! quarantined with the reason, and the rest flow on. A batch HQ keeps failing on while it
//! answers other requests is split until the one event at fault is found and quarantined
//! (`isolate.rs`). Failures, and pushes HQ settles only in part, back off exponentially with
//! jitter, capped at a few minutes, honouring `Retry-After`. One HTTP client lives as long
//! as the HQ address. A round writes only what it owns, and only while the kiosk is still
//! enrolled as when the round began. Nothing is deleted until HQ has acknowledged it.

pub mod backoff;
pub mod client;
mod isolate;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use countertop_protocol::{EventOutcome, NewDeviceHealth, PushResponse};
use reqwest::StatusCode;
use tokio::sync::{watch, Notify};

use crate::clock;
use crate::config::{KioskConfig, SyncConfig};
use crate::store::{
    pull_parts, HqLink, PendingEvent, PullApplied, Settlement, Store, StoreError, SyncState,
    PULL_PART,
};
use backoff::Backoff;
use client::{HqClient, HqError};
use isolate::Isolation;

/// What the manager sees of sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatus {
    pub enrolled: bool,
    pub hq_url: Option<String>,
    pub pending: u64,
    pub quarantined: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure in English, for logs and support; the screen shows `problem`.
    pub last_error: Option<String>,
    /// HQ's clock minus ours, when measured.
    pub clock_offset_ms: Option<i64>,
    /// True while a failed round waits to retry.
    pub retrying: bool,
    /// What kind of failure the failed round met, while it waits to retry.
    pub problem: Option<SyncProblem>,
}

/// Why a sync round failed, as the manager's screen words it in its own language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncProblem {
    /// No answer from HQ's address: the network, or HQ is down.
    Unreachable,
    /// HQ answered with a certificate this kiosk does not trust.
    Certificate,
    /// HQ refused this kiosk (401/403): revoked, or enrolled elsewhere.
    Refused,
    /// HQ failed or asked to wait (5xx, 429, other answers).
    Server,
    /// HQ's answer could not be read.
    Unreadable,
    /// The kiosk's own settings for HQ (address, CA file) are wrong.
    Setup,
    /// The kiosk's own database failed.
    Storage,
}

impl SyncProblem {
    fn of(error: &RoundError) -> SyncProblem {
        match error {
            RoundError::Store(_) => SyncProblem::Storage,
            RoundError::Hq(HqError::Unreachable { reason, .. }) => {
                if reason.contains("certificate") {
                    SyncProblem::Certificate
                } else {
                    SyncProblem::Unreachable
                }
            }
            RoundError::Hq(HqError::Status { status, .. })
                if *status == reqwest::StatusCode::UNAUTHORIZED
                    || *status == reqwest::StatusCode::FORBIDDEN =>
            {
                SyncProblem::Refused
            }
            RoundError::Hq(HqError::Status { .. }) => SyncProblem::Server,
            RoundError::Hq(HqError::BadResponse(_)) => SyncProblem::Unreadable,
            RoundError::Hq(HqError::BadUrl(_) | HqError::CaFile(_)) => SyncProblem::Setup,
        }
    }
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
    /// The kiosk was enrolled elsewhere while the round awaited HQ: what it learnt
    /// belongs to the old enrollment and was dropped. A new round starts at once.
    Relinked,
}

/// Clock offsets smaller than this are noise from the round trip; larger ones mean the
/// device clock is wrong and event times are corrected on the way out.
const CLOCK_TOLERANCE_MS: i64 = 60_000;

/// What the loop keeps from one round to the next.
struct Session {
    /// One HTTP client (and so one connection pool) per HQ address.
    client: Option<HqClient>,
    /// The most events one push may carry; halved when HQ answers 413.
    batch_size: usize,
    /// The search for an event HQ keeps failing on, and the enrollment it belongs to.
    isolation: Isolation,
    isolating_for: Option<uuid::Uuid>,
    /// Extra CAs the client trusts for HQ's certificate (`sync.ca_file`).
    ca_file: Option<std::path::PathBuf>,
}

impl Session {
    /// The client for `url`, built once and kept until the HQ address changes.
    fn client_for(&mut self, url: &str) -> Result<HqClient, HqError> {
        match &self.client {
            Some(client) if client.serves(url) => Ok(client.clone()),
            _ => {
                let client = HqClient::new(url, self.ca_file.as_deref())?;
                self.client = Some(client.clone());
                Ok(client)
            }
        }
    }
}

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
    let mut session = Session {
        client: None,
        batch_size: settings.batch_size,
        isolation: Isolation::default(),
        isolating_for: None,
        ca_file: settings.ca_file.clone(),
    };
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        let link = store.borrow().hq_link();
        let (link, result) = match link {
            Ok(Some(link)) => {
                let result = round(&store, &mut session, &settings, &base, &survey, &link).await;
                (Some(link), result)
            }
            Ok(None) => (None, Ok(Round::NotEnrolled)),
            Err(e) => (None, Err(e.into())),
        };
        if last_prune.is_none_or(|at| at.elapsed() > Duration::from_secs(3600)) {
            prune(&store, &settings);
            last_prune = Some(std::time::Instant::now());
        }
        match result {
            Ok(Round::Relinked) => {
                tracing::info!("enrolled elsewhere during a sync round; starting over");
                continue;
            }
            Ok(round) => {
                backoff.reset();
                publish(&store, &status, None);
                let interval = Duration::from_secs_f64(settings.interval_secs);
                match round {
                    Round::NotEnrolled => tokio::select! {
                        _ = wake.sync_now.notified() => {}
                        _ = tokio::time::sleep(interval) => {}
                    },
                    _ => tokio::select! {
                        _ = wake.new_rating.notified() => {}
                        _ = wake.sync_now.notified() => {}
                        _ = tokio::time::sleep(interval) => {}
                    },
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::warn!("sync failed, will retry: {message}");
                if let Some(link) = &link {
                    if let Err(e) = store.borrow_mut().note_sync_error(link, &message) {
                        tracing::warn!("cannot record the sync error: {e}");
                    }
                }
                let problem = Some(SyncProblem::of(&error));
                publish(&store, &status, problem);
                let delay = match &error {
                    RoundError::Hq(e) => e.retry_after().unwrap_or_else(|| backoff.next_delay()),
                    RoundError::Store(_) => backoff.next_delay(),
                };
                let unreachable = matches!(&error, RoundError::Hq(e) if e.is_unreachable());
                let hq_url = link.map(|l| l.hq_url);
                let deadline = tokio::time::Instant::now() + delay;
                let back = network_back(hq_url);
                tokio::pin!(back);
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline) => break,
                        _ = wake.sync_now.notified() => break,
                        _ = &mut back, if unreachable => break,
                        // While sync waits out its backoff the queue still follows new
                        // ratings, so the manager's screen shows what is waiting.
                        _ = wake.new_rating.notified() => publish(&store, &status, problem),
                    }
                }
            }
        }
    }
}

/// One sync round under `link`: config, regulars, health, then the whole outbox. After
/// every await it writes only what it owns, and only while the kiosk is still enrolled
/// as `link`.
async fn round(
    store: &Rc<RefCell<Store>>,
    session: &mut Session,
    settings: &SyncConfig,
    base: &KioskConfig,
    survey: &Rc<watch::Sender<KioskConfig>>,
    link: &HqLink,
) -> Result<Round, RoundError> {
    let client = session.client_for(&link.hq_url)?;
    if session.isolating_for != Some(link.device_id) {
        session.isolation.reset();
        session.isolating_for = Some(link.device_id);
    }
    let state = store.borrow().sync_state()?;

    // Pull config; its server time measures our clock's offset.
    let asked = clock::utc_now();
    let pulled = client
        .pull_config(&link.device_token, link.store_id, state.config_cursor)
        .await?;
    let answered = clock::utc_now();
    let midpoint = asked + (answered - asked) / 2;
    let offset_ms = (pulled.server_time - midpoint).num_milliseconds();
    let json = pulled
        .config
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| HqError::BadResponse(e.to_string()))?;
    let recorded =
        store
            .borrow_mut()
            .record_config_pull(link, offset_ms, pulled.cursor, json.as_deref())?;
    if !recorded {
        return Ok(Round::Relinked);
    }
    if let Some(config) = &pulled.config {
        tracing::info!("survey version {} from HQ applied", config.version);
        survey.send_replace(config_in_force(base, &store.borrow()));
    }

    if !pull_regulars(store, &client, link).await? {
        return Ok(Round::Relinked);
    }

    queue_health_if_due(store, settings, &state)?;

    let correction = if offset_ms.abs() > CLOCK_TOLERANCE_MS {
        chrono::Duration::milliseconds(offset_ms)
    } else {
        chrono::Duration::zero()
    };
    let outbox = Outbox {
        store,
        client: &client,
        link,
        correction,
        config_cursor: pulled.cursor,
    };
    if !outbox.push_all(session).await? {
        return Ok(Round::Relinked);
    }
    if !store.borrow_mut().note_sync_success(link, Utc::now())? {
        return Ok(Round::Relinked);
    }
    Ok(Round::Synced)
}

/// Statuses with which HQ may be refusing one event of the batch rather than the
/// kiosk: a server error, or a body it cannot take.
fn may_be_one_event(error: &HqError) -> bool {
    error.retry_after().is_none()
        && error.status().is_some_and(|s| {
            s.is_server_error()
                || [
                    StatusCode::BAD_REQUEST,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ]
                .contains(&s)
        })
}

/// Pushing the outbox within one round.
struct Outbox<'a> {
    store: &'a Rc<RefCell<Store>>,
    client: &'a HqClient,
    link: &'a HqLink,
    correction: chrono::Duration,
    config_cursor: u64,
}

impl Outbox<'_> {
    /// Pushes until the outbox is empty, settling each event by HQ's verdict and
    /// isolating an event HQ keeps failing on. Returns false when the kiosk was enrolled
    /// elsewhere meanwhile.
    async fn push_all(&self, session: &mut Session) -> Result<bool, RoundError> {
        loop {
            let limit = session.isolation.limit(session.batch_size);
            let batch = self.store.borrow().pending_batch(limit)?;
            let Some(first) = batch.first() else {
                session.isolation.reset();
                return Ok(true);
            };
            let error = match self.push(&batch).await {
                Ok(pushed) => {
                    let settled = self.settle(&batch, &pushed)?;
                    if settled > 0 {
                        session.isolation.batch_settled(batch.len(), first.id);
                    }
                    if !self.store.borrow().links_to(self.link)? {
                        return Ok(false);
                    }
                    if settled < batch.len() {
                        // Re-sending at once could spin: wait like after any failure.
                        return Err(HqError::BadResponse(format!(
                            "HQ settled {settled} of {} events; the rest go again after a pause",
                            batch.len()
                        ))
                        .into());
                    }
                    continue;
                }
                Err(error) => error,
            };
            if error.status() == Some(StatusCode::PAYLOAD_TOO_LARGE) && batch.len() > 1 {
                session.batch_size = (batch.len() / 2).max(1);
                continue;
            }
            if !may_be_one_event(&error) {
                return Err(error.into());
            }
            if batch.len() > 1 {
                tracing::info!(
                    "HQ answered {} to a batch of {}; splitting it",
                    error.status().map_or(0, |s| s.as_u16()),
                    batch.len()
                );
                session.isolation.batch_failed(batch.len());
                continue;
            }
            // One event, alone. If HQ answers nothing else either, this is an outage.
            self.client
                .pull_config(
                    &self.link.device_token,
                    self.link.store_id,
                    self.config_cursor,
                )
                .await
                .map_err(|_| error.clone())?;
            let strikes = session.isolation.strike(first.id);
            if strikes < isolate::STRIKES {
                tracing::warn!(
                    "HQ failed on event {} alone ({strikes} of {}); trying again after a pause",
                    first.id,
                    isolate::STRIKES
                );
                return Err(error.into());
            }
            if !self.control(session, first).await? {
                return Err(error.into());
            }
            if !self.store.borrow().links_to(self.link)? {
                return Ok(false);
            }
            tracing::warn!(
                "HQ failed on event {} alone {strikes} times while taking others; quarantined",
                first.id
            );
            let reason = quarantine_reason(&error, strikes);
            self.store
                .borrow_mut()
                .settle(&[(first.seq, Settlement::Quarantined { reason })])?;
            session.isolation.reset();
        }
    }

    /// Pushes one other event alone, to tell an event HQ cannot take from an HQ that takes
    /// none. True when HQ gave it a verdict (it is settled by it).
    async fn control(
        &self,
        session: &mut Session,
        suspect: &PendingEvent,
    ) -> Result<bool, RoundError> {
        let after = self
            .store
            .borrow()
            .pending_batch(1 + isolate::CONTROL_SPAN)?;
        let after: Vec<PendingEvent> = after.into_iter().filter(|e| e.seq != suspect.seq).collect();
        let Some(offset) = session.isolation.control_offset(after.len()) else {
            tracing::info!(
                "event {} waits for another event to show that HQ takes events",
                suspect.id
            );
            return Ok(false);
        };
        let control = std::slice::from_ref(&after[offset - 1]);
        match self.push(control).await {
            Ok(pushed) => Ok(self.settle(control, &pushed)? > 0),
            Err(e) if may_be_one_event(&e) => {
                session.isolation.control_failed();
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn push(&self, batch: &[PendingEvent]) -> Result<PushResponse, HqError> {
        self.client
            .push(&self.link.device_token, batch, self.correction)
            .await
    }

    /// Records HQ's verdict on each event it answered for; returns how many.
    fn settle(&self, batch: &[PendingEvent], pushed: &PushResponse) -> Result<usize, StoreError> {
        let mut outcomes = Vec::with_capacity(pushed.results.len());
        let mut seen = std::collections::HashSet::new();
        let mut erased_elsewhere = Vec::new();
        for result in &pushed.results {
            let Some(event) = batch.get(result.index) else {
                continue;
            };
            if result.id.is_some_and(|id| id != event.id) || !seen.insert(result.index) {
                continue;
            }
            outcomes.push((
                event.seq,
                match &result.outcome {
                    EventOutcome::Accepted { .. } | EventOutcome::Duplicate => {
                        Settlement::Acknowledged
                    }
                    EventOutcome::Rejected { code, reason } => {
                        tracing::warn!("event {} refused ({code}); quarantined", event.id);
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
        self.store.borrow_mut().settle(&outcomes)?;
        purge_erased_elsewhere(self.store, &erased_elsewhere)?;
        Ok(outcomes.len())
    }
}

/// The reason a manager reads for an event HQ failed on alone.
fn quarantine_reason(error: &HqError, strikes: u32) -> String {
    let excerpt = match error {
        HqError::Status { code, message, .. } => {
            format!("{code}: {}", message.chars().take(200).collect::<String>())
        }
        other => other.to_string(),
    };
    let status = error.status().map_or(0, |s| s.as_u16());
    format!(
        "HQ answered {status} to this event alone ({strikes} times, while taking other \
         requests and events): {excerpt}"
    )
}

/// HQ's rejection code for an upload about a regular who was erased.
const ERASED_CODE: &str = "regular_erased";

/// Pulls regulars' changes page by page until HQ has no more. An HQ from before regulars
/// answers 404: nothing to pull, so the round goes on quietly. Returns false (having
/// applied nothing more) when the kiosk was enrolled elsewhere meanwhile.
async fn pull_regulars(
    store: &Rc<RefCell<Store>>,
    client: &HqClient,
    link: &HqLink,
) -> Result<bool, RoundError> {
    loop {
        let cursor = store.borrow().regulars_cursor()?;
        let page = match client
            .pull_regulars(&link.device_token, link.store_id, cursor)
            .await
        {
            Err(HqError::Status { status, .. }) if status == StatusCode::NOT_FOUND => {
                tracing::debug!("HQ does not serve regulars yet; skipped");
                return Ok(true);
            }
            other => other?,
        };
        // The page in parts, one transaction each, yielding between them so that a tap
        // waiting on the core goes first: a part is the longest a tap waits behind a pull.
        let mut applied = PullApplied::default();
        for (i, part) in pull_parts(&page, PULL_PART).iter().enumerate() {
            if i > 0 {
                tokio::task::yield_now().await;
            }
            // No await between this check and the write: an enrollment cannot slip between.
            if !store.borrow().links_to(link)? {
                return Ok(false);
            }
            applied += store.borrow_mut().apply_pull_part(part)?;
        }
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
            return Ok(true);
        }
        // Between two pages too, even when HQ's next page is already here.
        tokio::task::yield_now().await;
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
    state: &SyncState,
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
        quarantined: Some(outbox.quarantined),
    };
    let mut store = store.borrow_mut();
    store.queue_event("device_health", &health, clock::local_now())?;
    store.note_health_queued(now)?;
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
    problem: Option<SyncProblem>,
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
        retrying: problem.is_some(),
        problem,
    });
}

/// Resolves once HQ's port accepts a TCP connection again after refusing one, probing
/// every two seconds. A port that answers all along (HQ is up, but its certificate or
/// its answers fail) never resolves it: then the backoff alone decides when to retry.
async fn network_back(hq_url: Option<String>) {
    let Some(addr) = hq_url.as_deref().and_then(host_port) else {
        return std::future::pending().await;
    };
    let mut was_down = false;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let connect = tokio::net::TcpStream::connect(addr.as_str());
        match tokio::time::timeout(Duration::from_secs(2), connect).await {
            Ok(Ok(_)) if was_down => return,
            Ok(Ok(_)) => {}
            _ => was_down = true,
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
    use super::{host_port, HqError, RoundError, SyncProblem};

    #[test]
    fn a_failed_round_is_told_apart_for_the_managers_screen() {
        let unreachable = |reason: &str| {
            RoundError::Hq(HqError::Unreachable {
                url: "https://hq".into(),
                reason: reason.into(),
            })
        };
        let status = |code: u16| {
            RoundError::Hq(HqError::Status {
                status: reqwest::StatusCode::from_u16(code).expect("a status"),
                code: "x".into(),
                message: "x".into(),
                retry_after: None,
            })
        };
        let kinds: Vec<SyncProblem> = [
            unreachable("connection refused"),
            unreachable("invalid peer certificate: UnknownIssuer"),
            status(403),
            status(401),
            status(503),
            status(429),
            RoundError::Hq(HqError::BadResponse("not JSON".into())),
            RoundError::Hq(HqError::BadUrl("ftp://x".into())),
        ]
        .iter()
        .map(SyncProblem::of)
        .collect();
        use SyncProblem::*;
        assert_eq!(
            kinds,
            [
                Unreachable,
                Certificate,
                Refused,
                Refused,
                Server,
                Server,
                Unreadable,
                Setup
            ]
        );
    }

    #[test]
    fn the_health_report_carries_the_real_quarantine_count() {
        use crate::store::{temp_store, NewRating, Settlement};
        use std::{cell::RefCell, rc::Rc};
        let (_dir, mut store) = temp_store();
        for score in 1..=3 {
            store
                .record_rating(&NewRating::now_for_test(score))
                .expect("recorded");
        }
        let batch = store.pending_batch(10).expect("batch");
        let refused = |seq| {
            (
                seq,
                Settlement::Quarantined {
                    reason: "refused".into(),
                },
            )
        };
        store
            .settle(&[refused(batch[0].seq), refused(batch[1].seq)])
            .expect("settled");
        let store = Rc::new(RefCell::new(store));
        super::queue_health_if_due(
            &store,
            &crate::config::SyncConfig::default(),
            &Default::default(),
        )
        .expect("queued");
        let pending = store.borrow().pending_batch(10).expect("batch");
        let health = pending
            .iter()
            .find(|e| e.kind == "device_health")
            .expect("a health report is queued");
        assert_eq!(health.body["quarantined"], 2, "{}", health.body);
        assert_eq!(health.body["queue_depth"], 1, "{}", health.body);
    }

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
