//! Daily and weekly digests (issue 11): one email per dashboard account, for the stores in
//! its scope, at a set local hour, once per period whatever number of HQ processes and
//! restarts.
//!
//! - **When.** At [`DigestSettings::hour`] (07:00 by default) in the account's time zone,
//!   the time zone of the first store of its scope by name (an admin's scope is every
//!   store): the daily digest covers yesterday, the weekly one, sent on Monday, covers
//!   last week (Monday to Sunday). A check runs every [`DigestSettings::check_every`]; a
//!   digest not sent by the end of its day (HQ down all day) is skipped, not sent late.
//!   Without SMTP settings the check does not run at all.
//! - **Who.** Every account that is not disabled and has at least one store in scope,
//!   with its choice ([`DigestPrefs`]: weekly only until the account chooses), in its
//!   dashboard language.
//! - **Once.** [`crate::storage::digests::DigestStore::queue_digest`] records (account,
//!   kind, period start) under a unique key in the transaction that queues the delivery
//!   in the alert outbox, which then sends it like an alert email (leases, retries, the
//!   same idempotency key): a crash never sends it twice or loses it.
//! - **Unsubscribe.** Each digest links to `/unsubscribe?token=` (a confirmation page,
//!   then a POST) and names `/unsubscribe/one-click?token=` in `List-Unsubscribe` (RFC
//!   8058 one-click POST); the token is signed ([`token`]).

pub mod content;
pub mod mail;
pub mod token;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use uuid::Uuid;

use super::rule::{Lang as MailLang, Recipient};
use super::Clock;
use crate::storage::accounts::{Role, UserRecord};
use crate::storage::alerts::NewDelivery;
use crate::storage::analytics::StoreInfo;
use crate::storage::digests::{DigestKind, DigestPrefs, UNSUBSCRIBE_SECRET};
use crate::storage::{Storage, StorageError};
use crate::web::figures::tz_of;
use crate::web::i18n::Lang;

/// How digests run.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    /// The local hour (0–23) digests are sent from.
    pub hour: u32,
    /// How often this process looks for digests that are due.
    pub check_every: Duration,
    /// Whether this process sends digests at all (the alert engine must run too).
    pub enabled: bool,
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            hour: 7,
            check_every: Duration::from_secs(60),
            enabled: true,
        }
    }
}

/// The local dates a digest of `kind` covers when it is due at local time `local`.
pub fn due(kind: DigestKind, local: NaiveDateTime, hour: u32) -> Option<(NaiveDate, NaiveDate)> {
    if local.hour() < hour {
        return None;
    }
    let today = local.date();
    match kind {
        DigestKind::Daily => {
            let d = today.pred_opt()?;
            Some((d, d))
        }
        DigestKind::Weekly if today.weekday() == chrono::Weekday::Mon => {
            Some((today - chrono::Duration::days(7), today.pred_opt()?))
        }
        DigestKind::Weekly => None,
    }
}

/// The stores an account's digest covers, by name.
pub fn scope_of<'a>(user: &UserRecord, stores: &'a [StoreInfo]) -> Vec<&'a StoreInfo> {
    stores
        .iter()
        .filter(|s| user.role == Role::Admin || user.stores.contains(&s.id))
        .collect()
}

/// The signing key of unsubscribe links: stored once in the database, shared by every
/// HQ process on it.
pub async fn unsubscribe_secret(storage: &dyn Storage) -> Result<Vec<u8>, StorageError> {
    let fresh = crate::secrets::new_token().map_err(|e| StorageError::Worker(e.to_string()))?;
    Ok(storage
        .server_secret(UNSUBSCRIBE_SECRET, &fresh)
        .await?
        .into_bytes())
}

/// The digest sender of one HQ process.
pub struct Digests {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    settings: DigestSettings,
    /// The dashboard's address as people reach it, without a trailing slash.
    base_url: String,
}

impl std::fmt::Debug for Digests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digests")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Digests {
    pub fn new(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        settings: DigestSettings,
        base_url: String,
    ) -> Digests {
        Digests {
            storage,
            clock,
            settings,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn settings(&self) -> &DigestSettings {
        &self.settings
    }

    /// Queue every digest that is due now; returns how many this call queued (the outbox
    /// sends them).
    pub async fn queue_due(&self) -> Result<usize, StorageError> {
        let now = self.clock.now();
        let users = self.storage.users().await?;
        let stores = self.storage.stores().await?;
        let prefs: HashMap<Uuid, DigestPrefs> =
            self.storage.all_digest_prefs().await?.into_iter().collect();
        let mut secret = None;
        let mut queued = 0;
        for user in users.iter().filter(|u| !u.disabled) {
            let scope = scope_of(user, &stores);
            let Some(first) = scope.first() else {
                continue;
            };
            let local = now.with_timezone(&tz_of(&first.timezone)).naive_local();
            let choice = prefs.get(&user.id).copied().unwrap_or_default();
            for kind in DigestKind::ALL {
                if !choice.wants(kind) {
                    continue;
                }
                let Some((from, to)) = due(kind, local, self.settings.hour) else {
                    continue;
                };
                if self.storage.digest_queued(user.id, kind, from).await? {
                    continue;
                }
                if secret.is_none() {
                    secret = Some(unsubscribe_secret(self.storage.as_ref()).await?);
                }
                let key = secret.as_deref().unwrap_or_default();
                match self.queue_one(user, &scope, kind, from, to, key).await {
                    Ok(true) => queued += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(user_id = %user.id, kind = kind.as_str(), error = %e, "building a digest failed");
                    }
                }
            }
        }
        Ok(queued)
    }

    async fn queue_one(
        &self,
        user: &UserRecord,
        scope: &[&StoreInfo],
        kind: DigestKind,
        from: NaiveDate,
        to: NaiveDate,
        secret: &[u8],
    ) -> Result<bool, StorageError> {
        let lang = user
            .lang
            .as_deref()
            .and_then(Lang::from_code)
            .unwrap_or_default();
        let token = token::sign(secret, user.id, kind);
        let links = content::Links {
            dashboard: format!("{}/", self.base_url),
            preferences: format!("{}/account", self.base_url),
            unsubscribe: format!("{}/unsubscribe?token={token}", self.base_url),
        };
        let scope: Vec<StoreInfo> = scope.iter().map(|s| (*s).clone()).collect();
        let view = content::build(
            self.storage.as_ref(),
            lang,
            kind,
            &scope,
            user.role == Role::Admin,
            from,
            to,
            self.clock.now(),
            links,
        )
        .await?;
        let rendered = view
            .render()
            .map_err(|e| StorageError::Worker(format!("digest template: {e}")))?;
        let id = Uuid::now_v7();
        let payload = serde_json::to_string(&mail::DigestPayload {
            event: mail::EVENT.to_owned(),
            kind: kind.as_str().to_owned(),
            period_start: from.to_string(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            one_click_url: format!("{}/unsubscribe/one-click?token={token}", self.base_url),
        })
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        let delivery = NewDelivery {
            id,
            recipient: Recipient::Email {
                address: user.email.clone(),
                lang: match lang {
                    Lang::Vi => MailLang::Vi,
                    Lang::En => MailLang::En,
                },
            },
            payload,
        };
        self.storage
            .queue_digest(user.id, kind, from, &delivery, self.clock.now())
            .await
    }

    /// Run until dropped: look for due digests on the interval (the alert engine sends
    /// them from the outbox).
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.settings.check_every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.queue_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(queued = n, "digests queued"),
                Err(e) => {
                    tracing::warn!(error = %e, "digest pass failed; retrying on the next tick")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    #[test]
    fn daily_covers_yesterday_from_the_hour_on() {
        // 2026-12-01 is a Tuesday.
        assert_eq!(due(DigestKind::Daily, at("2026-12-01 06:59"), 7), None);
        let d = "2026-11-30".parse().expect("date");
        assert_eq!(
            due(DigestKind::Daily, at("2026-12-01 07:00"), 7),
            Some((d, d))
        );
        assert_eq!(
            due(DigestKind::Daily, at("2026-12-01 23:59"), 7),
            Some((d, d))
        );
    }

    #[test]
    fn weekly_is_due_on_monday_only_for_the_week_before() {
        assert_eq!(due(DigestKind::Weekly, at("2026-11-30 06:00"), 7), None);
        assert_eq!(
            due(DigestKind::Weekly, at("2026-11-30 07:00"), 7),
            Some((
                "2026-11-23".parse().expect("date"),
                "2026-11-29".parse().expect("date")
            ))
        );
        assert_eq!(due(DigestKind::Weekly, at("2026-12-01 09:00"), 7), None);
    }

    #[test]
    fn without_a_choice_an_account_gets_the_weekly_digest_only() {
        let p = DigestPrefs::default();
        assert!(p.wants(DigestKind::Weekly) && !p.wants(DigestKind::Daily));
        assert!(!p.without(DigestKind::Weekly).wants(DigestKind::Weekly));
    }
}
