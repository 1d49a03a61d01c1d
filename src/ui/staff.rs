//! Staff mode: the 2-second press on the shop's name opens a PIN pad; a barista PIN opens
//! the regulars, a manager PIN the manager's screen. On the first day the manager's
//! default PIN opens only the change of both PINs, and the barista's default opens nothing
//! (the pad says why). Wrong PINs lock the pad for growing
//! periods (kept by the core, so a restart does not clear them), and staff mode falls
//! back to the customer screens after a minute without a touch.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use slint::{ComponentHandle, Timer, TimerMode};

use super::{
    App, BaristaPanel, CustomerFlow, ManagerPanel, PinNote, RememberFlow, Screen, Staff, StaffRole,
};
use crate::core::Core;
use crate::store::{PinCheck, StaffRole as Role};

/// Staff mode closes after this long without a touch.
pub const STAFF_IDLE: Duration = Duration::from_secs(60);
use crate::regulars::PIN_DIGITS;

/// Drives the PIN pad and the way in and out of the staff screens.
pub struct StaffMode {
    app: slint::Weak<App>,
    core: Core,
    customer: Rc<CustomerFlow>,
    barista: Rc<BaristaPanel>,
    manager: Rc<ManagerPanel>,
    /// The digits typed so far. They never reach the screen or a log.
    pin: RefCell<String>,
    idle: Timer,
    lock_tick: Timer,
    this: Weak<StaffMode>,
}

impl StaffMode {
    /// Connects the PIN pad and the staff screens of `app`.
    pub fn install(
        app: &App,
        core: Core,
        customer: Rc<CustomerFlow>,
        remember: Rc<RememberFlow>,
    ) -> Rc<StaffMode> {
        let barista = BaristaPanel::install(app, core.clone(), remember);
        let manager = ManagerPanel::install(app, core.clone());
        let mode = Rc::new_cyclic(|this| StaffMode {
            app: app.as_weak(),
            core,
            customer,
            barista,
            manager,
            pin: RefCell::default(),
            idle: Timer::default(),
            lock_tick: Timer::default(),
            this: this.clone(),
        });
        let staff = app.global::<Staff>();
        staff.set_pin_min(*PIN_DIGITS.start() as i32);
        staff.set_pin_max(*PIN_DIGITS.end() as i32);
        let with = |f: fn(&StaffMode)| super::while_alive(&mode, f);
        staff.on_open_pin(with(StaffMode::open_pin));
        staff.on_pin_backspace(with(StaffMode::pin_backspace));
        staff.on_pin_enter(with(StaffMode::pin_enter));
        staff.on_activity(with(StaffMode::activity));
        staff.on_exit(with(StaffMode::exit));
        let weak = Rc::downgrade(&mode);
        staff.on_pin_digit(move |digit| {
            if let Some(mode) = weak.upgrade() {
                mode.pin_digit(&digit);
            }
        });
        mode
    }

    /// The manager's screen.
    pub fn manager(&self) -> &Rc<ManagerPanel> {
        &self.manager
    }

    /// The barista's panel, which the customer's "remember me" form also serves.
    pub fn barista(&self) -> &Rc<BaristaPanel> {
        &self.barista
    }

    fn with_staff(&self, f: impl FnOnce(Staff<'_>)) {
        if let Some(app) = self.app.upgrade() {
            f(app.global::<Staff>());
        }
    }

    fn show(&self, screen: Screen) {
        if let Some(app) = self.app.upgrade() {
            app.global::<super::Kiosk>().set_screen(screen);
        }
    }

    fn open_pin(&self) {
        self.customer.suspend();
        self.pin.borrow_mut().clear();
        self.with_staff(|s| {
            s.set_role(StaffRole::None);
            s.set_pin_length(0);
            s.set_pin_checking(false);
            if !s.get_pin_locked() {
                s.set_pin_note(PinNote::None);
            }
        });
        self.show(Screen::StaffPin);
        self.activity();
    }

    /// A touch on a staff screen: another minute before staff mode closes.
    fn activity(&self) {
        let this = self.this.clone();
        self.idle.start(TimerMode::SingleShot, STAFF_IDLE, move || {
            if let Some(mode) = this.upgrade() {
                mode.exit();
            }
        });
    }

    /// Back to the customer screens, with nothing of staff mode left.
    fn exit(&self) {
        self.idle.stop();
        self.pin.borrow_mut().clear();
        self.barista.close();
        self.manager.close();
        self.with_staff(|s| {
            s.set_role(StaffRole::None);
            s.set_pin_length(0);
        });
        self.customer.reset();
    }

    fn pin_digit(&self, digit: &str) {
        let len = {
            let mut pin = self.pin.borrow_mut();
            if pin.len() < *PIN_DIGITS.end()
                && digit.len() == 1
                && digit.bytes().all(|b| b.is_ascii_digit())
            {
                pin.push_str(digit);
            }
            pin.len()
        };
        self.with_staff(|s| {
            s.set_pin_length(len as i32);
            if s.get_pin_note() != PinNote::Locked {
                s.set_pin_note(PinNote::None);
            }
        });
    }

    fn pin_backspace(&self) {
        let len = {
            let mut pin = self.pin.borrow_mut();
            pin.pop();
            pin.len()
        };
        self.with_staff(|s| s.set_pin_length(len as i32));
    }

    fn pin_enter(&self) {
        let pin = std::mem::take(&mut *self.pin.borrow_mut());
        if pin.len() < *PIN_DIGITS.start() {
            self.with_staff(|s| {
                s.set_pin_length(0);
                s.set_pin_note(PinNote::TooShort);
            });
            return;
        }
        self.with_staff(|s| {
            s.set_pin_length(0);
            s.set_pin_checking(true);
        });
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let result = core.check_pin(pin).await;
            if let Some(mode) = this.upgrade() {
                mode.checked(result.ok());
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the PIN to the core: {e}");
            self.checked(None);
        }
    }

    fn checked(&self, check: Option<PinCheck>) {
        self.with_staff(|s| s.set_pin_checking(false));
        match check {
            Some(PinCheck::Granted(role)) => self.enter(role, false),
            Some(PinCheck::FirstDay) => self.enter(Role::Manager, true),
            Some(PinCheck::FirstDayPending) => {
                self.with_staff(|s| s.set_pin_note(PinNote::FirstDay));
            }
            Some(PinCheck::Wrong { locked_for: None }) => {
                self.with_staff(|s| s.set_pin_note(PinNote::Wrong));
            }
            Some(PinCheck::Wrong {
                locked_for: Some(remaining),
            })
            | Some(PinCheck::Locked { remaining }) => self.lock(remaining),
            None => self.with_staff(|s| s.set_pin_note(PinNote::Failed)),
        }
    }

    /// Locks the pad, counting the seconds down on screen.
    fn lock(&self, remaining: Duration) {
        let until = Instant::now() + remaining;
        let this = self.this.clone();
        let tick = move || {
            let Some(mode) = this.upgrade() else { return };
            let left = until.saturating_duration_since(Instant::now());
            mode.with_staff(|s| {
                if left.is_zero() {
                    s.set_pin_locked(false);
                    s.set_pin_note(PinNote::None);
                } else {
                    s.set_pin_locked(true);
                    s.set_pin_note(PinNote::Locked);
                    s.set_lock_seconds(left.as_secs_f64().ceil() as i32);
                }
            });
            if left.is_zero() {
                mode.lock_tick.stop();
            }
        };
        (tick.clone())();
        self.lock_tick
            .start(TimerMode::Repeated, Duration::from_millis(250), tick);
    }

    /// Opens `role`'s screen; `first_day`: the manager's, showing only the PIN change.
    fn enter(&self, role: Role, first_day: bool) {
        self.with_staff(|s| {
            s.set_pin_note(PinNote::None);
            s.set_role(match role {
                Role::Barista => StaffRole::Barista,
                Role::Manager => StaffRole::Manager,
            });
        });
        match role {
            Role::Barista => {
                self.show(Screen::Barista);
                self.barista.open();
            }
            Role::Manager => {
                self.show(Screen::Manager);
                self.manager.open(first_day);
            }
        }
        self.activity();
    }
}
