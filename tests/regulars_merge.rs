//! Two kiosks of one store, each a real core on its own database, enrolled to a real HQ
//! process: edits made offline on both converge on the last writer once both are back
//! online, an erasure on one kiosk purges the other on its next sync, and a kiosk pulling
//! thousands of regulars for the first time keeps taking ratings meanwhile.

#[path = "common/hq.rs"]
mod hq;
#[path = "common/logs.rs"]
mod logs;

use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::{Core, CoreError, CoreThread, RegularCard, RegularEdit, Tap};
use countertop::feedback::{Scale, Score};
use hq::Hq;
use uuid::Uuid;

/// A kiosk core with fast sync, on its own database.
struct Kiosk {
    core: Core,
    _thread: CoreThread,
    _dir: tempfile::TempDir,
}

impl Kiosk {
    fn start() -> Kiosk {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = KioskConfig::default();
        config.sync.interval_secs = 0.3;
        config.sync.retry_base_secs = 0.05;
        config.sync.retry_max_secs = 0.3;
        let (core, thread) =
            Core::start(dir.path().join("countertop.db"), config).expect("core starts");
        Kiosk {
            core,
            _thread: thread,
            _dir: dir,
        }
    }

    fn run<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    fn card(&self, id: Uuid) -> Option<RegularCard> {
        self.run(self.core.search_regulars(String::new(), 100))
            .expect("search")
            .into_iter()
            .find(|c| c.regular.id() == id)
    }

    fn name_of(&self, id: Uuid) -> Option<String> {
        self.card(id).map(|c| c.regular.name().to_owned())
    }

    fn rename(&self, id: Uuid, name: &str) {
        let edit = RegularEdit {
            id: Some(id),
            name: name.into(),
            phone: Some("0901 234 567".into()),
            usual: Default::default(),
            dietary: None,
            consent_version: 1,
            dietary_consent: false,
            code: None,
        };
        self.run(self.core.save_regular(edit)).expect("saved");
    }

    /// Nudges sync and waits until `done` holds.
    fn wait_for(&self, what: &str, mut done: impl FnMut(&Kiosk) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.core.sync_now();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pending(&self) -> u64 {
        self.core.sync_status().borrow().pending
    }
}

#[test]
fn offline_edits_converge_on_the_last_writer_and_an_erasure_reaches_the_other_kiosk() {
    let logs = logs::CapturedLogs::install();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut hq = Hq::sqlite(dir.path());
    hq.start();
    let (store, code_a) = hq.store_and_code();
    let code_b = hq.cli(&["enroll-code", "--store", &store]);
    let (a, b) = (Kiosk::start(), Kiosk::start());
    a.run(a.core.enroll(hq.url(), code_a, Some("left".into())))
        .expect("A enrolls");
    b.run(b.core.enroll(hq.url(), code_b, Some("right".into())))
        .expect("B enrolls");

    // A regular signs up on kiosk A; kiosk B learns of them from HQ.
    let edit = RegularEdit {
        id: None,
        name: "Lan".into(),
        phone: Some("0901 234 567".into()),
        usual: Default::default(),
        dietary: None,
        consent_version: 1,
        dietary_consent: false,
        code: None,
    };
    let id = a
        .run(a.core.save_regular(edit))
        .expect("saved")
        .regular
        .id();
    a.wait_for("A to upload the profile", |k| k.pending() == 0);
    b.wait_for("B to pull the profile", |k| k.card(id).is_some());

    // Both edit while HQ is down; B edits last.
    hq.kill();
    a.rename(id, "Lan from A");
    std::thread::sleep(Duration::from_millis(20));
    b.rename(id, "Lan from B");
    a.run(a.core.log_visit(id, None)).expect("A logs a visit");
    b.run(b.core.log_visit(id, None)).expect("B logs a visit");

    // Back online, both converge on B's edit, and both visits count on both kiosks.
    hq.start();
    for _ in 0..2 {
        a.wait_for("A to upload", |k| k.pending() == 0);
        b.wait_for("B to upload", |k| k.pending() == 0);
    }
    a.wait_for("A to take B's edit", |k| {
        k.name_of(id).as_deref() == Some("Lan from B")
    });
    b.wait_for("B to keep its edit", |k| {
        k.name_of(id).as_deref() == Some("Lan from B")
    });
    a.wait_for("A to count both visits", |k| {
        k.card(id).is_some_and(|c| c.visit_count == 2)
    });
    b.wait_for("B to count both visits", |k| {
        k.card(id).is_some_and(|c| c.visit_count == 2)
    });

    // "Forget me" on B purges the regular on A at its next sync.
    b.run(b.core.erase_regular(id)).expect("erased");
    b.wait_for("B to upload the erasure", |k| k.pending() == 0);
    a.wait_for("A to purge the regular", |k| k.card(id).is_none());
    let refused = a.run(a.core.log_visit(id, None));
    assert!(matches!(refused, Err(CoreError::Invalid(_))), "{refused:?}");
    let found = a
        .run(a.core.search_regulars("0901".into(), 10))
        .expect("search");
    assert!(found.is_empty());
    // Sync carried names and phone numbers both ways; no kiosk log line shows them.
    logs.assert_free_of(&["Lan from", "0901234567", "0901 234 567"]);
}

#[test]
fn ratings_are_taken_between_the_pages_of_a_first_pull() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut hq = Hq::sqlite(dir.path());
    hq.start();
    let (store, code_a) = hq.store_and_code();
    let code_b = hq.cli(&["enroll-code", "--store", &store]);
    // Kiosk A signs up four pages' worth of regulars (HQ pulls 500 a page) and uploads them.
    let a = Kiosk::start();
    let total = 2000u64;
    for i in 0..total {
        let edit = RegularEdit {
            id: None,
            name: format!("Nguyễn Thị Phượng {i}"),
            phone: None,
            usual: Default::default(),
            dietary: None,
            consent_version: 1,
            dietary_consent: false,
            code: None,
        };
        a.run(a.core.save_regular(edit)).expect("saved");
    }
    a.run(a.core.enroll(hq.url(), code_a, Some("left".into())))
        .expect("A enrolls");
    a.wait_for("A to upload every profile", |k| k.pending() == 0);

    // Kiosk B enrolls and pulls them all; a customer keeps rating meanwhile.
    let b = Kiosk::start();
    b.run(b.core.enroll(hq.url(), code_b, Some("right".into())))
        .expect("B enrolls");
    let count = |k: &Kiosk| k.run(k.core.regular_count()).expect("count");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut mid_pull = 0;
    let mut rated = 0;
    loop {
        let before = count(&b);
        if before == total {
            break;
        }
        assert!(Instant::now() < deadline, "the pull did not finish");
        if before == 0 {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let tap = Tap {
            score: Score::new(4, Scale::FIVE).expect("a score"),
            touchpoint: countertop_protocol::Touchpoint::new("visit").expect("a slug"),
            survey_version: 1,
        };
        b.run(b.core.rate(tap)).expect("the rating is recorded");
        rated += 1;
        // Answered with part of the pull applied and part still to come: the rating did
        // not wait behind the whole pull.
        if count(&b) < total {
            mid_pull += 1;
        }
    }
    assert!(
        mid_pull > 0,
        "no rating was answered between pages ({rated} rated)"
    );
    let search = b
        .run(b.core.search_regulars("phuong 19".into(), 200))
        .expect("search");
    assert_eq!(search.len(), 111, "1900..=1999 and 19");
}
