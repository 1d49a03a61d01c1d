//! Tap → durable commit, measured through the real UI (Slint's testing backend).
//!
//! For each tap we time two things on the UI thread:
//! - how long the face's tap callback blocks the UI thread (it only hands the tap to the
//!   core thread, so this stays in microseconds whatever the disk does);
//! - how long until the follow-up screen shows, which happens only after the rating and
//!   its outbox row are committed with `synchronous=FULL` on a real file.
//!
//! Run: `cargo bench --bench tap` (prints percentiles; `TAPS=N` to change the count).

#[path = "common/stats.rs"]
mod stats;

use std::time::Instant;

use countertop::config::KioskConfig;
use countertop::core::Core;
use countertop::ui::{App, CustomerFlow, Kiosk, Screen};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::ComponentHandle;

fn pump_until(done: impl Fn() -> bool) {
    while !done() {
        slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        })
        .unwrap();
        slint::run_event_loop().unwrap();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let taps: usize = stats::env_number("TAPS", 2000);
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let dir = tempfile::Builder::new()
        .prefix("countertop-bench")
        .tempdir_in(stats::bench_dir())
        .unwrap();
    let config = KioskConfig::default();
    let (core, _thread) = Core::start(dir.path().join("countertop.db"), config).unwrap();
    let app = App::new().unwrap();
    app.show().unwrap();
    let flow = CustomerFlow::install(&app, core);
    let face = || {
        ElementHandle::find_by_accessible_label(&app, "Very happy")
            .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
            .unwrap()
    };

    let mut blocked = Vec::with_capacity(taps);
    let mut committed = Vec::with_capacity(taps);
    for _ in 0..taps {
        let button = face();
        let start = Instant::now();
        button.invoke_accessible_default_action();
        blocked.push(start.elapsed());
        pump_until(|| app.global::<Kiosk>().get_screen() == Screen::FollowUp);
        committed.push(start.elapsed());
        flow.reset();
    }
    stats::report("UI thread blocked by the tap callback", blocked);
    stats::report("tap -> committed -> follow-up shown", committed);
}
