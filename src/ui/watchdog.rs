//! systemd's watchdog, fed from the UI thread's event loop.
//!
//! Under `countertop.service` (`Type=notify`, `WatchdogSec=`) the kiosk says `READY=1` once
//! its event loop runs with the window shown, then `WATCHDOG=1` from a Slint timer at half
//! the interval systemd asks for (`WATCHDOG_USEC`). The pings come from the event loop
//! itself, so a frozen UI stops them and systemd kills and restarts the kiosk. Outside
//! systemd (`NOTIFY_SOCKET` unset) nothing is sent.

use std::time::Duration;

/// Keeps the pings going for as long as it lives; drop it when the event loop ends.
pub struct Watchdog {
    _ping: Option<slint::Timer>,
}

/// Starts the notifications; call it before running the event loop.
pub fn start() -> Watchdog {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return Watchdog { _ping: None };
    }
    // A zero-delay timer fires on the event loop's first turn, after the window is shown.
    slint::Timer::single_shot(Duration::ZERO, || {
        notify(sd_notify::NotifyState::Ready);
    });
    let ping = sd_notify::watchdog_enabled().map(|timeout| {
        let every = (timeout / 2).max(Duration::from_millis(10));
        tracing::info!(
            "systemd watchdog: {:.1} s, pinged every {:.1} s",
            timeout.as_secs_f64(),
            every.as_secs_f64()
        );
        let timer = slint::Timer::default();
        timer.start(slint::TimerMode::Repeated, every, || {
            notify(sd_notify::NotifyState::Watchdog);
        });
        timer
    });
    Watchdog { _ping: ping }
}

fn notify(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}
