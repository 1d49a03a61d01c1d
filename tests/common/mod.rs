//! Helpers for driving the real kiosk UI under Slint's testing backend.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::{Core, CoreThread};
use countertop::store::{RatingRow, Store};
use countertop::ui::{App, Kiosk, Screen};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::ComponentHandle;

/// A kiosk with its own database in a temp dir, its UI shown under the testing backend.
pub struct TestKiosk {
    pub app: App,
    pub flow: std::rc::Rc<countertop::ui::CustomerFlow>,
    pub flows: countertop::ui::Flows,
    pub database: PathBuf,
    pub core: Core,
    // Dropped last: the core finishes every command before the temp dir goes.
    _core: CoreThread,
    _dir: tempfile::TempDir,
}

impl TestKiosk {
    pub fn start(config: KioskConfig) -> TestKiosk {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("countertop.db");
        Self::start_with_database(dir, database, config)
    }

    /// A kiosk on an existing database (say, one enrolled at HQ beforehand).
    pub fn start_with_database(
        dir: tempfile::TempDir,
        database: PathBuf,
        config: KioskConfig,
    ) -> TestKiosk {
        let (core, thread) = Core::start(database.clone(), config).expect("core starts");
        let app = App::new().expect("UI builds");
        app.show().expect("UI shows");
        let flows = countertop::ui::install(&app, core.clone());
        TestKiosk {
            app,
            flow: flows.customer.clone(),
            flows,
            database,
            core,
            _core: thread,
            _dir: dir,
        }
    }

    pub fn screen(&self) -> Screen {
        self.app.global::<Kiosk>().get_screen()
    }

    /// Taps the button (or chip, or key) whose accessible label is `label`.
    pub fn tap(&self, label: &str) {
        let element = self.find_control(label).unwrap_or_else(|| {
            panic!(
                "no button labelled {label:?} on the {:?} screen",
                self.screen()
            )
        });
        element.invoke_accessible_default_action();
    }

    /// The button, chip or key labelled `label`, if it is on screen.
    pub fn find_control(&self, label: &str) -> Option<ElementHandle> {
        ElementHandle::find_by_accessible_label(&self.app, label).find(|e| {
            matches!(
                e.accessible_role(),
                Some(AccessibleRole::Button | AccessibleRole::Checkbox)
            )
        })
    }

    /// Types `text` on the on-screen keyboard, one key at a time ("Space" for spaces).
    pub fn type_on_keyboard(&self, text: &str) {
        for c in text.chars() {
            if c == ' ' {
                self.tap("Space");
            } else {
                self.tap(&c.to_string());
            }
        }
    }

    /// Runs the event loop until `done` holds; panics after 10 s.
    pub fn pump_until(&self, what: &str, mut done: impl FnMut(&TestKiosk) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            slint::invoke_from_event_loop(|| {
                let _ = slint::quit_event_loop();
            })
            .expect("event loop");
            slint::run_event_loop().expect("event loop runs");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Taps "Done" and, when the "remember me" offer follows, declines it.
    pub fn done(&self) {
        self.tap("Done");
        if self.screen() == Screen::RememberOffer {
            self.tap("No, thanks");
        }
    }

    /// Taps a face and waits until its rating is committed and the follow-up shows.
    pub fn rate(&self, face: &str) {
        self.tap(face);
        self.pump_until("the follow-up screen", |k| k.screen() == Screen::FollowUp);
    }

    /// Every rating in the database, oldest first.
    pub fn ratings(&self) -> Vec<RatingRow> {
        Store::open(&self.database)
            .expect("database opens")
            .ratings()
            .expect("ratings read")
    }

    /// Waits until the database holds `n` ratings and returns them.
    pub fn wait_for_ratings(&self, n: usize) -> Vec<RatingRow> {
        self.pump_until(&format!("{n} ratings on disk"), |k| k.ratings().len() >= n);
        self.ratings()
    }
}

impl TestKiosk {
    /// The element labelled `label` with the accessible role `role`, if it is on screen.
    pub fn find_with_role(&self, label: &str, role: AccessibleRole) -> Option<ElementHandle> {
        ElementHandle::find_by_accessible_label(&self.app, label)
            .find(|e| e.accessible_role() == Some(role))
    }

    /// Taps the element labelled `label` with the role `role` (a tab, a text box).
    pub fn tap_with_role(&self, label: &str, role: AccessibleRole) {
        self.find_with_role(label, role)
            .unwrap_or_else(|| panic!("no {role:?} labelled {label:?} on screen"))
            .invoke_accessible_default_action();
    }

    /// The accessible value of the first element labelled `label` that has one.
    pub fn value_of(&self, label: &str) -> Option<String> {
        ElementHandle::find_by_accessible_label(&self.app, label)
            .find_map(|e| e.accessible_value())
            .map(|v| v.to_string())
    }
}
