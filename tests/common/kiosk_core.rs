//! A real kiosk core (the app without its window) on its own database, with fast sync, for
//! tests that watch what head office does reach a kiosk. Async, so a test already inside a
//! tokio runtime (the browser tests) awaits it directly.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::{Core, CoreThread, RegularCard, RegularEdit, Tap};
use countertop::feedback::Score;
use uuid::Uuid;

pub struct KioskCore {
    pub core: Core,
    _thread: CoreThread,
    _dir: tempfile::TempDir,
}

impl KioskCore {
    pub fn start() -> KioskCore {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = KioskConfig::default();
        config.sync.interval_secs = 0.3;
        config.sync.retry_base_secs = 0.05;
        config.sync.retry_max_secs = 0.3;
        let (core, thread) =
            Core::start(dir.path().join("countertop.db"), config).expect("core starts");
        KioskCore {
            core,
            _thread: thread,
            _dir: dir,
        }
    }

    pub async fn enroll(&self, hq_url: &str, code: &str, name: &str) {
        self.core
            .enroll(hq_url.to_owned(), code.to_owned(), Some(name.to_owned()))
            .await
            .expect("the kiosk enrolls");
    }

    /// A tap on face `score` of the survey in force.
    pub async fn rate(&self, score: i64) {
        let survey = self.core.config().borrow().survey.clone();
        let tap = Tap {
            score: Score::new(score, survey.scale).expect("a face of the survey"),
            touchpoint: survey.touchpoint.clone(),
            survey_version: survey.version,
        };
        self.core.rate(tap).await.expect("rated");
    }

    /// The question of the survey in force, in `lang`.
    pub fn question(&self, lang: &str) -> String {
        let config = self.core.config();
        let survey = &config.borrow().survey;
        survey.question.get(lang).cloned().unwrap_or_default()
    }

    pub async fn save_regular(&self, name: &str, phone: &str) -> Uuid {
        let edit = RegularEdit {
            id: None,
            name: name.into(),
            phone: Some(phone.into()),
            usual: Default::default(),
            dietary: None,
            consent_version: 1,
            dietary_consent: false,
            code: None,
        };
        self.core
            .save_regular(edit)
            .await
            .expect("saved")
            .regular
            .id()
    }

    pub async fn card(&self, id: Uuid) -> Option<RegularCard> {
        self.core
            .search_regulars(String::new(), 100)
            .await
            .expect("search")
            .into_iter()
            .find(|c| c.regular.id() == id)
    }

    pub fn pending(&self) -> u64 {
        self.core.sync_status().borrow().pending
    }

    /// Waits until everything this kiosk committed before the call has reached HQ.
    /// `pending() == 0` cannot tell: the sync loop publishes the queue's depth after a round,
    /// so right after a write it may still read 0. Two rounds that succeed after the call
    /// settle it: the second began after the first ended, so after the call returned, and
    /// pushed everything then queued.
    pub async fn wait_synced(&self, what: &str) {
        let since = chrono::Utc::now();
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut rounds, mut last) = (0, None);
        loop {
            let status = self.core.sync_status().borrow().clone();
            if let Some(at) = status.last_success.filter(|at| *at > since) {
                if last != Some(at) {
                    rounds += 1;
                    last = Some(at);
                }
            }
            if rounds >= 2 && status.pending == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.core.sync_now();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Nudges sync every 100 ms until `done` holds (30 s at most).
    pub async fn wait_for<F, Fut>(&self, what: &str, mut done: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done().await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.core.sync_now();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
