//! Two kiosks of one store, each a real core on its own database, enrolled to a real HQ
//! process: edits made offline on both converge on the last writer once both are back
//! online, and an erasure on one kiosk purges the other on its next sync.

#[path = "common/hq.rs"]
mod hq;
#[path = "common/logs.rs"]
mod logs;

use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::{Core, CoreError, CoreThread, RegularCard, RegularEdit};
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
