//! Opening the barista's screen with 100,000 regulars stored, through the real UI.
//!
//! Seeds a fresh database (`REGULARS`, default 100,000) in a temp dir under `BENCH_DIR`
//! (default `.`), starts the real core and the real Slint UI on Slint's testing backend
//! with its software renderer, then, `RUNS` times (default 30): opens the PIN pad, types
//! the barista PIN, presses Enter, and waits until the barista's screen shows its first
//! results and a frame of it is rendered. Two numbers per run:
//!
//! - **open**: from the moment the PIN is granted (the screen switches to the barista's)
//!   to the first rendered frame with results;
//! - **PIN to screen**: from pressing Enter, so the deliberately slow argon2 check is in.
//!
//! And its phases, to tell where a change in either comes from: the PIN check alone
//! (`Store::check_pin` on the seeded store, before the UI starts), and the open split
//! into "granted → results in the list" (the empty query's search through the core) and
//! "results → frame rendered" (the software renderer drawing the screen).
//!
//! Run: `cargo bench --bench barista_open`.

#[path = "../examples/common/regulars.rs"]
mod synthetic;

#[path = "common/stats.rs"]
mod stats;

use std::time::Instant;

use countertop::config::KioskConfig;
use countertop::core::Core;
use countertop::store::{PinCheck, StaffRole, Store};
use countertop::ui::{App, Barista, Kiosk, Screen, Staff};
use i_slint_backend_testing::testing_backend::{TestingBackend, TestingBackendOptions};
use slint::{ComponentHandle, Model};

/// Runs the UI's event loop once, handling whatever is due.
fn pump() {
    slint::invoke_from_event_loop(|| {
        let _ = slint::quit_event_loop();
    })
    .expect("event loop");
    slint::run_event_loop().expect("event loop runs");
}

const MANAGER_PIN: &str = "1357";
const BARISTA_PIN: &str = "2468";

fn main() -> anyhow::Result<()> {
    let count: usize = stats::env_number("REGULARS", 100_000);
    let runs: usize = stats::env_number("RUNS", 30);
    let base = stats::bench_dir();
    let dir = tempfile::tempdir_in(base)?;
    let database = dir.path().join("countertop.db");
    let seeded = Instant::now();
    {
        let mut store = Store::open(&database)?;
        synthetic::seed(&mut store, count, 7)?;
        // A kiosk past its first day: until the default PINs are replaced, no barista PIN
        // opens anything.
        store.complete_first_day(MANAGER_PIN, BARISTA_PIN)?;
        println!(
            "seeded {count} regulars in {:.1} s",
            seeded.elapsed().as_secs_f64()
        );
        let mut checks = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let check = store.check_pin(BARISTA_PIN, chrono::Utc::now())?;
            checks.push(started.elapsed());
            anyhow::ensure!(
                check == PinCheck::Granted(StaffRole::Barista),
                "the barista PIN was not granted: {check:?}"
            );
        }
        stats::report("PIN check alone (Store::check_pin, barista PIN)", checks);
        let mut checks = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let check = store.check_pin(MANAGER_PIN, chrono::Utc::now())?;
            checks.push(started.elapsed());
            anyhow::ensure!(
                check == PinCheck::Granted(StaffRole::Manager),
                "the manager PIN was not granted: {check:?}"
            );
        }
        stats::report("PIN check alone (Store::check_pin, manager PIN)", checks);
        // What the check costs is argon2: one verification (a barista PIN, checked first
        // once the PINs are known to differ), and two one after the other (a manager PIN,
        // and every barista PIN before the barista's hash came first).
        let hash = countertop::store::hash_pin(BARISTA_PIN)?;
        let (mut one, mut two) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let started = Instant::now();
            std::hint::black_box(countertop::store::verify_pin(BARISTA_PIN, &hash));
            one.push(started.elapsed());
            let started = Instant::now();
            std::hint::black_box(countertop::store::verify_pin(MANAGER_PIN, &hash));
            std::hint::black_box(countertop::store::verify_pin(BARISTA_PIN, &hash));
            two.push(started.elapsed());
        }
        stats::report("  argon2: one verification", one);
        stats::report("  argon2: two verifications, one after the other", two);
    }

    // Slint's testing backend with its real software rasterizer and real fonts, on the
    // system clock, so the frame is rendered as on the kiosk.
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: false,
        threading: true,
        renderer_name: Some("software".into()),
    })))
    .map_err(|e| anyhow::anyhow!("cannot set the testing platform: {e}"))?;
    let (core, _thread) = Core::start(database, KioskConfig::default())?;
    let app = App::new()?;
    app.window().set_size(slint::PhysicalSize::new(800, 480));
    app.show()?;
    let _flows = countertop::ui::install(&app, core);
    let staff = app.global::<Staff>();
    let kiosk = app.global::<Kiosk>();
    let barista = app.global::<Barista>();

    let (mut open, mut from_pin) = (Vec::new(), Vec::new());
    let (mut to_results, mut to_frame) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        staff.invoke_open_pin();
        for digit in BARISTA_PIN.chars() {
            staff.invoke_pin_digit(digit.to_string().into());
        }
        let entered = Instant::now();
        staff.invoke_pin_enter();
        while kiosk.get_screen() != Screen::Barista {
            pump();
        }
        let granted = Instant::now();
        while barista.get_results().row_count() == 0 {
            pump();
        }
        let listed = Instant::now();
        app.window().take_snapshot()?;
        let shown = Instant::now();
        to_results.push(listed - granted);
        to_frame.push(shown - listed);
        open.push(shown - granted);
        from_pin.push(shown - entered);
        staff.invoke_exit();
        pump();
    }
    stats::report(
        "open the barista screen (granted -> first frame with results)",
        open,
    );
    stats::report(
        "PIN Enter -> barista screen with results (argon2 included)",
        from_pin,
    );
    stats::report("  phase: granted -> results in the list", to_results);
    stats::report("  phase: results -> frame rendered", to_frame);
    Ok(())
}
