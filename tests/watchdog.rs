//! The systemd watchdog is fed from the UI thread's event loop: READY=1 once the loop runs,
//! then WATCHDOG=1 at half of WATCHDOG_USEC, and no ping while the loop is stuck, so
//! systemd restarts a frozen kiosk. systemd's side is a real Unix datagram socket, as
//! `NOTIFY_SOCKET` names it under `Type=notify`.
//!
//! One test in this file: Slint's testing backend and the environment are per process.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

const FREEZE_FROM: Duration = Duration::from_millis(800);
const FREEZE_FOR: Duration = Duration::from_millis(800);
const QUIT_AT: Duration = Duration::from_millis(2200);

#[test]
fn the_watchdog_is_pinged_from_the_event_loop_and_goes_quiet_while_the_ui_is_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    // What systemd sets for `WatchdogSec=0.2s`; before any other thread starts.
    std::env::set_var("NOTIFY_SOCKET", &path);
    std::env::set_var("WATCHDOG_USEC", "200000");
    std::env::remove_var("WATCHDOG_PID");
    i_slint_backend_testing::init_integration_test_with_system_time();

    let started = Instant::now();
    let listener = std::thread::spawn(move || {
        let mut received = Vec::new();
        let mut buf = [0u8; 256];
        while started.elapsed() < QUIT_AT + Duration::from_millis(300) {
            if let Ok(n) = socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                received.push((started.elapsed(), message));
            }
        }
        received
    });

    let watchdog = countertop::ui::watchdog::start();
    // The UI thread hangs (as a deadlock or a stuck call would) for FREEZE_FOR.
    slint::Timer::single_shot(FREEZE_FROM, || std::thread::sleep(FREEZE_FOR));
    slint::Timer::single_shot(QUIT_AT, || slint::quit_event_loop().unwrap());
    slint::run_event_loop_until_quit().unwrap();
    drop(watchdog);
    let received = listener.join().unwrap();

    assert_eq!(
        received.first().map(|(_, m)| m.as_str()),
        Some("READY=1\n"),
        "{received:?}"
    );
    let pings: Vec<Duration> = received
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1\n")
        .map(|(at, _)| *at)
        .collect();
    let ms = Duration::from_millis;
    assert!(
        pings.iter().filter(|at| **at < FREEZE_FROM).count() >= 4,
        "a ping every 0.1 s before the freeze: {pings:?}"
    );
    let frozen = FREEZE_FROM + ms(50)..FREEZE_FROM + FREEZE_FOR - ms(50);
    assert!(
        pings.iter().all(|at| !frozen.contains(at)),
        "no ping while the UI thread is frozen ({frozen:?}): {pings:?}"
    );
    assert!(
        pings
            .iter()
            .filter(|at| **at > FREEZE_FROM + FREEZE_FOR)
            .count()
            >= 2,
        "pings again once the UI thread is back: {pings:?}"
    );
}
