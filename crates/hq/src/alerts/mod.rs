//! Alerts (issue 11): head office hears about a bad hour while it can still be fixed.
//!
//! - [`rule`]: what a rule says, checked once;
//! - [`lifecycle`]: pending → open → acknowledged → closed, the one place it is decided;
//! - [`evaluate`]: whether a rule's condition holds for a store now;
//! - [`channels`]: webhook (signed), Slack-compatible and email delivery;
//! - [`engine`]: evaluation on ingest and on a timer, and the outbox sender;
//! - [`badge`]: the open-alert count the dashboard header shows;
//! - [`digest`]: daily and weekly digest emails, sent through the same outbox.
//!
//! Storage lives in [`crate::storage::alerts`]: the alert change and its deliveries are
//! written in one transaction, so HQ killed at any moment loses no delivery, and each
//! delivery keeps one idempotency key across retries and restarts.

pub mod badge;
pub mod channels;
pub mod digest;
pub mod engine;
pub mod evaluate;
pub mod lifecycle;
pub mod rule;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use engine::Engine;

/// Where alerts get the time, so tests move it instead of sleeping.
pub trait Clock: std::fmt::Debug + Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stays where it is told (tests).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|_| Utc::now())
    }
}

/// How alerts run: the outbox's timing and the channels' settings. Its `Debug` leaves
/// the webhook secret out.
#[derive(Clone)]
pub struct AlertSettings {
    pub clock: Arc<dyn Clock>,
    /// How often every rule is evaluated for every store (the silent-kiosk and backlog
    /// conditions, pending periods, repeats, hysteresis); pushes evaluate their store at
    /// once besides.
    pub evaluate_every: Duration,
    /// How often the outbox looks for due deliveries (retries).
    pub poll_every: Duration,
    /// How long a process owns a claimed delivery; another may retry it after that.
    pub lease: Duration,
    /// The first retry's wait; each further retry waits twice as long, at most an hour.
    pub retry_base: Duration,
    /// One HTTP attempt's limit.
    pub http_timeout: Duration,
    /// The key webhook bodies are signed with (HMAC-SHA256); unsigned when `None`.
    pub webhook_secret: Option<String>,
    /// Email: `None` leaves email deliveries queued, retried until SMTP is set.
    pub smtp: Option<channels::SmtpSettings>,
    /// Whether the engine runs in this process at all.
    pub enabled: bool,
}

impl std::fmt::Debug for AlertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSettings")
            .field("evaluate_every", &self.evaluate_every)
            .field("poll_every", &self.poll_every)
            .field("lease", &self.lease)
            .field("retry_base", &self.retry_base)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("smtp", &self.smtp)
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            clock: Arc::new(SystemClock),
            evaluate_every: Duration::from_secs(30),
            poll_every: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(2),
            http_timeout: Duration::from_secs(10),
            webhook_secret: None,
            smtp: None,
            enabled: true,
        }
    }
}
