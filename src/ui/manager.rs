//! The manager's screen of staff mode: today's numbers, the state of sync, the kiosk's
//! local settings (enrolment, default language, idle timeout, "remember me", PINs) and
//! the CSV export. Every call to the core is awaited on the UI thread's event loop, so a
//! slow disk or network never freezes the screen.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};

use chrono::{DateTime, Local, NaiveDate, NaiveTime, TimeZone, Utc};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::{
    language, App, CommentLine, LanguageChoice, Manager, ManagerField, ManagerTab, Outcome,
    PinProblem, ReasonCount, ScoreBar, StaffRole as UiRole,
};
use crate::clock;
use crate::config::KioskConfig;
use crate::core::Core;
use crate::feedback::Scale;
use crate::regulars::{DayReport, LocalSettings};
use crate::store::{StaffRole, Summary};
use crate::sync::SyncStatus;

/// The idle timeout's −/+ step, and its bounds, in seconds.
const IDLE_STEP: i32 = 5;
const IDLE_MIN: i32 = 5;
const IDLE_MAX: i32 = 600;
/// A staff PIN's length, in digits.
const PIN_MIN: usize = 4;
const PIN_MAX: usize = 8;
/// Longest text the keyboard types into a field.
const FIELD_MAX: usize = 400;

/// What is typed on the manager's screen and not yet handed to the core.
#[derive(Default)]
struct Typing {
    export_path: String,
    /// The manager changed the export path: keep it instead of the default.
    export_path_edited: bool,
    enroll_url: String,
    enroll_code: String,
    pin_role: Option<StaffRole>,
    pin_first: Option<String>,
    pin: String,
}

/// The settings as the screen shows them: the configuration in force.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    default_language: String,
    idle_secs: i32,
    remember_me: bool,
}

impl Shown {
    fn of(config: &KioskConfig) -> Shown {
        Shown {
            default_language: config.languages.default.clone(),
            idle_secs: config.timeouts.idle_secs.round() as i32,
            remember_me: config.survey.remember_me.enabled,
        }
    }
}

/// Drives the manager's screen of one [`App`].
pub struct ManagerPanel {
    app: slint::Weak<App>,
    core: Core,
    typing: RefCell<Typing>,
    settings: RefCell<Shown>,
    /// The kiosk's own settings as last read or saved; a change edits one field of them.
    local: RefCell<LocalSettings>,
    /// Saves sent and not yet answered. Until the last is, the screen keeps what was
    /// tapped rather than the configuration of an earlier save.
    saving: Cell<u32>,
    /// `local` holds what is stored (not only the changes made on screen).
    loaded: Cell<bool>,
    this: Weak<ManagerPanel>,
}

impl ManagerPanel {
    /// Connects the manager's screen of `app` to the core, and follows sync's state live.
    /// Staff mode calls [`ManagerPanel::open`] each time it shows the screen.
    pub fn install(app: &App, core: Core) -> Rc<ManagerPanel> {
        let config = core.config().borrow().clone();
        let panel = Rc::new_cyclic(|this| ManagerPanel {
            app: app.as_weak(),
            core,
            typing: RefCell::default(),
            settings: RefCell::new(Shown::of(&config)),
            local: RefCell::default(),
            saving: Cell::new(0),
            loaded: Cell::new(false),
            this: this.clone(),
        });
        let manager = app.global::<Manager>();
        show_languages(&manager, &config);

        let with = |f: fn(&ManagerPanel)| super::while_alive(&panel, f);
        manager.on_sync_now(with(ManagerPanel::sync_now));
        manager.on_dismiss_store_alert(with(ManagerPanel::dismiss_store_alert));
        manager.on_idle_down(with(|p| p.step_idle(-IDLE_STEP)));
        manager.on_idle_up(with(|p| p.step_idle(IDLE_STEP)));
        manager.on_toggle_remember_me(with(ManagerPanel::toggle_remember_me));
        manager.on_open_enroll(with(ManagerPanel::open_enroll));
        manager.on_close_enroll(with(ManagerPanel::close_enroll));
        manager.on_enroll(with(ManagerPanel::enroll));
        manager.on_pin_backspace(with(ManagerPanel::pin_backspace));
        manager.on_pin_clear(with(ManagerPanel::pin_clear));
        manager.on_pin_next(with(ManagerPanel::pin_next));
        manager.on_pin_cancel(with(ManagerPanel::pin_cancel));
        manager.on_backspace(with(ManagerPanel::backspace));
        manager.on_done_editing(with(ManagerPanel::done_editing));
        manager.on_export(with(ManagerPanel::export));
        let weak = Rc::downgrade(&panel);
        manager.on_show_tab(move |tab| {
            if let Some(panel) = weak.upgrade() {
                panel.show_tab(tab);
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_set_default_language(move |code| {
            if let Some(panel) = weak.upgrade() {
                panel.set_default_language(&code);
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_change_pin(move |role| {
            if let Some(panel) = weak.upgrade() {
                panel.change_pin(role);
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_pin_digit(move |digit| {
            if let Some(panel) = weak.upgrade() {
                panel.pin_digit(&digit);
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_edit(move |field| {
            if let Some(panel) = weak.upgrade() {
                panel.with_manager(|m| m.set_editing(field));
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_type_key(move |text| {
            if let Some(panel) = weak.upgrade() {
                panel.type_key(&text);
            }
        });

        panel.follow_sync_status();
        panel.follow_store_alert();
        panel.follow_config();
        panel.show_settings();
        panel.load_settings();
        panel
    }

    /// Shows the screen fresh: today's numbers re-read, nothing half-typed left over.
    pub fn open(&self) {
        {
            let mut typing = self.typing.borrow_mut();
            *typing = Typing {
                export_path: std::mem::take(&mut typing.export_path),
                export_path_edited: typing.export_path_edited,
                ..Typing::default()
            };
        }
        self.with_manager(|m| {
            m.set_tab(ManagerTab::Today);
            m.set_editing(ManagerField::None);
            m.set_pin_role(UiRole::None);
            m.set_pin_changed(UiRole::None);
            m.set_pin_problem(PinProblem::None);
            m.set_enrolling_open(false);
            m.set_export_outcome(Outcome::Idle);
            m.set_settings_outcome(Outcome::Idle);
        });
        self.refresh_export_path();
        self.refresh_today();
        self.load_settings();
    }

    fn with_manager(&self, f: impl FnOnce(Manager<'_>)) {
        if let Some(app) = self.app.upgrade() {
            f(app.global::<Manager>());
        }
    }

    fn config(&self) -> KioskConfig {
        self.core.config().borrow().clone()
    }

    /// Runs `task` on the UI thread's event loop; logs if it cannot.
    fn spawn(&self, what: &str, task: impl std::future::Future<Output = ()> + 'static) {
        if let Err(e) = slint::spawn_local(task) {
            tracing::error!("cannot {what}: {e}");
        }
    }

    fn show_tab(&self, tab: ManagerTab) {
        self.with_manager(|m| m.set_tab(tab));
        match tab {
            ManagerTab::Today => self.refresh_today(),
            // A USB stick plugged in since the screen opened becomes the default.
            ManagerTab::Export => self.refresh_export_path(),
            _ => {}
        }
    }

    // --- Today ---------------------------------------------------------------------

    fn refresh_today(&self) {
        let (from, to) = local_day(clock::local_now());
        let day = from.with_timezone(&Local).format("%Y-%m-%d").to_string();
        self.with_manager(|m| {
            m.set_loading(true);
            m.set_day(day.into());
        });
        let config = self.config();
        let core = self.core.clone();
        let this = self.this.clone();
        self.spawn("read today's ratings", async move {
            let result = core.day_report(from, to).await;
            let Some(panel) = this.upgrade() else { return };
            panel.with_manager(|m| {
                m.set_loading(false);
                match result {
                    Ok(report) => {
                        m.set_today_error(SharedString::new());
                        show_report(&m, &report, &config);
                    }
                    Err(e) => m.set_today_error(e.to_string().into()),
                }
            });
        });
    }

    // --- Sync ----------------------------------------------------------------------

    fn follow_sync_status(&self) {
        let mut updates = self.core.sync_status();
        let this = self.this.clone();
        self.spawn("follow sync's state", async move {
            loop {
                let status = updates.borrow_and_update().clone();
                match this.upgrade() {
                    Some(panel) => panel.show_sync_status(&status),
                    None => break,
                }
                if updates.changed().await.is_err() {
                    break;
                }
            }
        });
    }

    fn show_sync_status(&self, status: &SyncStatus) {
        let now = clock::local_now().with_timezone(&Local);
        self.with_manager(|m| {
            m.set_syncing(false);
            m.set_enrolled(status.enrolled);
            m.set_hq_url(status.hq_url.clone().unwrap_or_default().into());
            m.set_pending(saturating_i32(status.pending));
            m.set_quarantined(saturating_i32(status.quarantined));
            m.set_oldest_pending(when(status.oldest_pending, now).into());
            m.set_last_success(when(status.last_success, now).into());
            m.set_last_error(status.last_error.clone().unwrap_or_default().into());
            m.set_retrying(status.retrying);
        });
    }

    /// Storage trouble (a salvage, a full disk) shows on the sync tab, live.
    fn follow_store_alert(&self) {
        let mut updates = self.core.store_alert();
        let this = self.this.clone();
        self.spawn("follow the storage alert", async move {
            loop {
                let alert = updates.borrow_and_update().clone();
                match this.upgrade() {
                    Some(panel) => panel.with_manager(|m| {
                        m.set_store_alert(alert.message().unwrap_or_default().into());
                        m.set_store_alert_dismissable(alert.salvaged.is_some());
                    }),
                    None => break,
                }
                if updates.changed().await.is_err() {
                    break;
                }
            }
        });
    }

    /// The manager has read the salvage report.
    fn dismiss_store_alert(&self) {
        let core = self.core.clone();
        self.spawn("dismiss the storage alert", async move {
            if let Err(e) = core.dismiss_salvage().await {
                tracing::error!("cannot dismiss the storage alert: {e}");
            }
        });
    }

    fn sync_now(&self) {
        self.with_manager(|m| m.set_syncing(true));
        self.core.sync_now();
    }

    // --- Settings ------------------------------------------------------------------

    fn show_settings(&self) {
        let shown = self.settings.borrow().clone();
        self.with_manager(|m| {
            m.set_default_language(shown.default_language.into());
            m.set_idle_secs(shown.idle_secs);
            m.set_remember_me(shown.remember_me);
        });
    }

    /// The settings in force follow the core's configuration, which applies the kiosk's
    /// own settings over `kiosk.toml` and head office's survey.
    fn follow_config(&self) {
        let mut updates = self.core.config();
        updates.borrow_and_update();
        let this = self.this.clone();
        self.spawn("follow the settings in force", async move {
            while updates.changed().await.is_ok() {
                let config = updates.borrow_and_update().clone();
                let Some(panel) = this.upgrade() else { break };
                panel.with_manager(|m| show_languages(&m, &config));
                if panel.saving.get() == 0 {
                    *panel.settings.borrow_mut() = Shown::of(&config);
                    panel.show_settings();
                }
            }
        });
    }

    /// Reads the kiosk's own settings, which a change edits one field of.
    fn load_settings(&self) {
        let core = self.core.clone();
        let this = self.this.clone();
        self.spawn("read the kiosk's settings", async move {
            let result = core.settings().await;
            let Some(panel) = this.upgrade() else { return };
            match result {
                Ok(stored) => {
                    // Changes tapped before the answer came are kept over it.
                    let mut local = panel.local.borrow_mut();
                    *local = if panel.saving.get() == 0 {
                        stored
                    } else {
                        merged(&local, stored)
                    };
                    panel.loaded.set(true);
                }
                Err(e) => panel.with_manager(|m| {
                    m.set_settings_outcome(Outcome::Failed);
                    m.set_settings_error(e.to_string().into());
                }),
            }
        });
    }

    /// Shows `change` at once and saves it; on failure the screen says so and shows the
    /// settings in force again.
    fn change_settings(&self, change: impl FnOnce(&mut Shown, &mut LocalSettings)) {
        let local = {
            let mut local = self.local.borrow_mut();
            change(&mut self.settings.borrow_mut(), &mut local);
            local.clone()
        };
        self.show_settings();
        self.with_manager(|m| m.set_settings_outcome(Outcome::Working));
        self.saving.set(self.saving.get() + 1);
        let loaded = self.loaded.get();
        let core = self.core.clone();
        let this = self.this.clone();
        self.spawn("save the settings", async move {
            // Tapped before the stored settings were read: `local` holds only the changes,
            // so read them now rather than overwrite the others with "unset".
            let local = if loaded {
                local
            } else {
                match core.settings().await {
                    Ok(stored) => merged(&local, stored),
                    Err(_) => local,
                }
            };
            let result = core.save_settings(local).await;
            let Some(panel) = this.upgrade() else { return };
            let last = panel.saving.get() <= 1;
            panel.saving.set(panel.saving.get().saturating_sub(1));
            if last {
                *panel.settings.borrow_mut() = Shown::of(&panel.config());
                panel.show_settings();
            }
            match result {
                Ok(()) if last => panel.with_manager(|m| m.set_settings_outcome(Outcome::Done)),
                Ok(()) => {}
                Err(e) => {
                    panel.load_settings();
                    panel.with_manager(|m| {
                        m.set_settings_outcome(Outcome::Failed);
                        m.set_settings_error(e.to_string().into());
                    });
                }
            }
        });
    }

    fn step_idle(&self, step: i32) {
        self.change_settings(|shown, local| {
            shown.idle_secs = step_idle_secs(shown.idle_secs, step);
            local.idle_secs = Some(f64::from(shown.idle_secs));
        });
    }

    fn toggle_remember_me(&self) {
        self.change_settings(|shown, local| {
            shown.remember_me = !shown.remember_me;
            local.remember_me = Some(shown.remember_me);
        });
    }

    fn set_default_language(&self, code: &str) {
        let code = code.to_owned();
        self.change_settings(|shown, local| {
            shown.default_language = code.clone();
            local.default_language = Some(code);
        });
    }

    // --- Enrolment -----------------------------------------------------------------

    fn open_enroll(&self) {
        let url = self.typing.borrow().enroll_url.clone();
        self.with_manager(|m| {
            m.set_enroll_url(url.into());
            m.set_enroll_outcome(Outcome::Idle);
            m.set_enrolling_open(true);
            m.set_editing(ManagerField::HqUrl);
        });
    }

    fn close_enroll(&self) {
        self.typing.borrow_mut().enroll_code.clear();
        self.with_manager(|m| {
            m.set_enroll_code(SharedString::new());
            m.set_enrolling_open(false);
            m.set_editing(ManagerField::None);
        });
    }

    fn enroll(&self) {
        let (url, code) = {
            let typing = self.typing.borrow();
            (
                typing.enroll_url.trim().to_owned(),
                typing.enroll_code.trim().to_owned(),
            )
        };
        if url.is_empty() || code.is_empty() {
            self.with_manager(|m| {
                m.set_enroll_outcome(Outcome::Failed);
                m.set_enroll_error("type the HQ address and the enrolment code".into());
            });
            return;
        }
        self.with_manager(|m| m.set_enroll_outcome(Outcome::Working));
        let core = self.core.clone();
        let this = self.this.clone();
        self.spawn("enroll", async move {
            let result = core.enroll(url, code, None).await;
            let Some(panel) = this.upgrade() else { return };
            match result {
                Ok(()) => {
                    panel.close_enroll();
                    panel.with_manager(|m| m.set_enroll_outcome(Outcome::Done));
                }
                Err(e) => panel.with_manager(|m| {
                    m.set_enroll_outcome(Outcome::Failed);
                    m.set_enroll_error(e.to_string().into());
                }),
            }
        });
    }

    // --- PINs ----------------------------------------------------------------------

    fn change_pin(&self, role: UiRole) {
        let role = match role {
            UiRole::Barista => StaffRole::Barista,
            UiRole::Manager => StaffRole::Manager,
            UiRole::None => return,
        };
        {
            let mut typing = self.typing.borrow_mut();
            typing.pin_role = Some(role);
            typing.pin_first = None;
            typing.pin.clear();
        }
        self.with_manager(|m| {
            m.set_pin_changed(UiRole::None);
            m.set_pin_problem(PinProblem::None);
        });
        self.show_pin();
    }

    fn show_pin(&self) {
        let (role, step, length) = {
            let typing = self.typing.borrow();
            (
                typing.pin_role,
                if typing.pin_first.is_some() { 2 } else { 1 },
                typing.pin.chars().count() as i32,
            )
        };
        self.with_manager(|m| {
            m.set_pin_role(ui_role(role));
            m.set_pin_step(step);
            m.set_pin_length(length);
        });
    }

    fn pin_digit(&self, digit: &str) {
        if digit.len() != 1 || !digit.chars().all(|c| c.is_ascii_digit()) {
            return;
        }
        {
            let mut typing = self.typing.borrow_mut();
            if typing.pin.len() >= PIN_MAX {
                return;
            }
            typing.pin.push_str(digit);
        }
        self.with_manager(|m| m.set_pin_problem(PinProblem::None));
        self.show_pin();
    }

    fn pin_backspace(&self) {
        self.typing.borrow_mut().pin.pop();
        self.show_pin();
    }

    fn pin_clear(&self) {
        self.typing.borrow_mut().pin.clear();
        self.show_pin();
    }

    fn pin_cancel(&self) {
        {
            let mut typing = self.typing.borrow_mut();
            typing.pin_role = None;
            typing.pin_first = None;
            typing.pin.clear();
        }
        self.with_manager(|m| m.set_pin_problem(PinProblem::None));
        self.show_pin();
    }

    /// "Next" after the first entry, "Save PIN" after the second.
    fn pin_next(&self) {
        let mut typing = self.typing.borrow_mut();
        let Some(role) = typing.pin_role else { return };
        if typing.pin.len() < PIN_MIN {
            drop(typing);
            self.with_manager(|m| m.set_pin_problem(PinProblem::TooShort));
            return;
        }
        let pin = std::mem::take(&mut typing.pin);
        let Some(first) = typing.pin_first.take() else {
            typing.pin_first = Some(pin);
            drop(typing);
            self.show_pin();
            return;
        };
        drop(typing);
        if first != pin {
            self.with_manager(|m| m.set_pin_problem(PinProblem::Mismatch));
            self.show_pin();
            return;
        }
        self.save_pin(role, pin);
    }

    fn save_pin(&self, role: StaffRole, pin: String) {
        let core = self.core.clone();
        let this = self.this.clone();
        self.spawn("save the PIN", async move {
            let result = core.set_pin(role, pin).await;
            let Some(panel) = this.upgrade() else { return };
            match result {
                Ok(()) => {
                    panel.pin_cancel();
                    panel.with_manager(|m| m.set_pin_changed(ui_role(Some(role))));
                }
                Err(e) => {
                    panel.with_manager(|m| {
                        m.set_pin_problem(PinProblem::Refused);
                        m.set_pin_error(e.to_string().into());
                    });
                    panel.show_pin();
                }
            }
        });
    }

    // --- The keyboard --------------------------------------------------------------

    fn editing(&self) -> ManagerField {
        let mut field = ManagerField::None;
        self.with_manager(|m| field = m.get_editing());
        field
    }

    fn edit_field(&self, edit: impl FnOnce(&mut String)) {
        let field = self.editing();
        let text = {
            let mut typing = self.typing.borrow_mut();
            let text = match field {
                ManagerField::HqUrl => &mut typing.enroll_url,
                ManagerField::EnrollCode => &mut typing.enroll_code,
                ManagerField::ExportPath => &mut typing.export_path,
                ManagerField::None => return,
            };
            edit(text);
            let text = text.clone();
            if field == ManagerField::ExportPath {
                typing.export_path_edited = true;
            }
            text
        };
        self.with_manager(|m| match field {
            ManagerField::HqUrl => m.set_enroll_url(text.into()),
            ManagerField::EnrollCode => m.set_enroll_code(text.into()),
            ManagerField::ExportPath => m.set_export_path(text.into()),
            ManagerField::None => {}
        });
    }

    fn type_key(&self, key: &str) {
        self.edit_field(|text| {
            if text.chars().count() + key.chars().count() <= FIELD_MAX {
                text.push_str(key);
            }
        });
    }

    fn backspace(&self) {
        self.edit_field(|text| {
            text.pop();
        });
    }

    fn done_editing(&self) {
        self.with_manager(|m| m.set_editing(ManagerField::None));
    }

    // --- Export --------------------------------------------------------------------

    /// The default export path, unless the manager typed one.
    fn refresh_export_path(&self) {
        if self.typing.borrow().export_path_edited {
            return;
        }
        let today = clock::local_now().date_naive();
        let path = default_export_path(Path::new("/media"), &self.config().data_dir, today);
        let text = path.display().to_string();
        self.typing.borrow_mut().export_path = text.clone();
        self.with_manager(|m| m.set_export_path(text.into()));
    }

    fn export(&self) {
        let path = PathBuf::from(self.typing.borrow().export_path.trim());
        if path.as_os_str().is_empty() {
            self.with_manager(|m| {
                m.set_export_outcome(Outcome::Failed);
                m.set_export_error("type the path of the file to write".into());
            });
            return;
        }
        // The kiosk's own exports folder is made on first use (a USB stick's folder is
        // the manager's to choose, and never made up).
        let exports = self.config().data_dir.join("exports");
        if path.parent() == Some(exports.as_path()) {
            if let Err(e) = std::fs::create_dir_all(&exports) {
                tracing::warn!("cannot create {}: {e}", exports.display());
            }
        }
        self.with_manager(|m| m.set_export_outcome(Outcome::Working));
        let (from, to) = local_day(clock::local_now());
        let core = self.core.clone();
        let this = self.this.clone();
        self.spawn("export the ratings", async move {
            let result = core.export_csv(path.clone(), from, to).await;
            let Some(panel) = this.upgrade() else { return };
            panel.with_manager(|m| match result {
                Ok(rows) => {
                    m.set_export_outcome(Outcome::Done);
                    m.set_export_rows(saturating_i32(rows));
                    m.set_export_written(path.display().to_string().into());
                }
                Err(e) => {
                    m.set_export_outcome(Outcome::Failed);
                    m.set_export_error(e.to_string().into());
                }
            });
        });
    }
}

/// The languages the default can be chosen from: those the kiosk offers.
fn show_languages(m: &Manager<'_>, config: &KioskConfig) {
    let languages: Vec<LanguageChoice> = config
        .languages
        .available
        .iter()
        .map(|code| LanguageChoice {
            code: code.as_str().into(),
            name: language::native_name(code).into(),
        })
        .collect();
    m.set_languages(ModelRc::new(VecModel::from(languages)));
}

/// The settings in `over` that are set, over those in `under`.
fn merged(over: &LocalSettings, under: LocalSettings) -> LocalSettings {
    LocalSettings {
        default_language: over.default_language.clone().or(under.default_language),
        idle_secs: over.idle_secs.or(under.idle_secs),
        remember_me: over.remember_me.or(under.remember_me),
    }
}

fn ui_role(role: Option<StaffRole>) -> UiRole {
    match role {
        Some(StaffRole::Barista) => UiRole::Barista,
        Some(StaffRole::Manager) => UiRole::Manager,
        None => UiRole::None,
    }
}

fn saturating_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The idle timeout after one tap on − or +, kept within its bounds.
fn step_idle_secs(secs: i32, step: i32) -> i32 {
    // Onto the step's grid: from 23 s, + gives 25 s and − gives 20 s.
    let stepped = if step > 0 {
        (secs.div_euclid(IDLE_STEP) + 1) * IDLE_STEP
    } else {
        ((secs + IDLE_STEP - 1).div_euclid(IDLE_STEP) - 1) * IDLE_STEP
    };
    stepped.clamp(IDLE_MIN, IDLE_MAX)
}

/// The kiosk's local day around `now`: from local midnight to the next, in UTC.
pub(crate) fn local_day(now: DateTime<chrono::FixedOffset>) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = now.with_timezone(&Local).date_naive();
    let midnight = |date: NaiveDate| {
        // A day that starts inside a clock change starts at its first valid instant.
        let naive = date.and_time(NaiveTime::MIN);
        Local
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                Local
                    .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_else(|| naive.and_utc())
    };
    let next = date.succ_opt().unwrap_or(date);
    (midnight(date), midnight(next))
}

/// Where the CSV goes unless the manager types another path: the first USB stick
/// mounted under `media/<user>/<stick>`, else `<data_dir>/exports`.
pub(crate) fn default_export_path(media: &Path, data_dir: &Path, day: NaiveDate) -> PathBuf {
    let file = format!("ratings-{}.csv", day.format("%Y-%m-%d"));
    let mut sticks: Vec<PathBuf> = std::fs::read_dir(media)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|user| user.path().is_dir())
        .flat_map(|user| {
            std::fs::read_dir(user.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|stick| stick.path())
        .filter(|path| path.is_dir())
        .collect();
    sticks.sort();
    match sticks.first() {
        Some(stick) => stick.join(file),
        None => data_dir.join("exports").join(file),
    }
}

/// A moment as the manager reads it: the time today, or the date and time otherwise.
fn when(at: Option<DateTime<Utc>>, now: DateTime<Local>) -> String {
    let Some(at) = at else {
        return String::new();
    };
    let at = at.with_timezone(&Local);
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The headline numbers and the score bars.
fn show_summary(m: &Manager<'_>, summary: &Summary, scale: Scale) {
    m.set_count(saturating_i32(summary.count));
    m.set_csat(
        summary
            .csat_percent
            .map(|p| format!("{p:.0}%"))
            .unwrap_or_default()
            .into(),
    );
    m.set_average(
        summary
            .average
            .map(|a| format!("{a:.1}"))
            .unwrap_or_default()
            .into(),
    );
    let bars: Vec<ScoreBar> = scale
        .moods()
        .iter()
        .enumerate()
        .map(|(i, mood)| ScoreBar {
            score: i as i32 + 1,
            mood: i32::from(*mood),
            count: saturating_i32(summary.distribution.get(i).copied().unwrap_or(0)),
        })
        .collect();
    m.set_distribution_max(bars.iter().map(|b| b.count).max().unwrap_or(0));
    m.set_distribution(ModelRc::new(VecModel::from(bars)));
}

/// Everything on the Today tab.
fn show_report(m: &Manager<'_>, report: &DayReport, config: &KioskConfig) {
    let scale = config.survey.scale;
    show_summary(m, &report.summary, scale);
    let by_hour: Vec<i32> = report.by_hour.iter().map(|n| saturating_i32(*n)).collect();
    m.set_hour_max(by_hour.iter().copied().max().unwrap_or(0));
    m.set_by_hour(ModelRc::new(VecModel::from(by_hour)));
    // Reasons by the label the customers saw, in the kiosk's default language.
    let lang = &config.languages.default;
    let survey = &config.survey;
    let reasons: Vec<ReasonCount> = report
        .top_reasons
        .iter()
        .take(3)
        .map(|(id, count)| ReasonCount {
            label: survey
                .praise
                .iter()
                .chain(&survey.problems)
                .find(|chip| chip.slug.as_str() == id)
                .map_or(id.as_str(), |chip| chip.label_in(lang, lang))
                .into(),
            count: saturating_i32(*count),
        })
        .collect();
    m.set_top_reasons(ModelRc::new(VecModel::from(reasons)));
    let comments: Vec<CommentLine> = report
        .latest_comments
        .iter()
        .take(3)
        .map(|c| CommentLine {
            time: c.at.format("%H:%M").to_string().into(),
            score: i32::from(c.score),
            mood: mood_of(scale, c.score),
            text: c.text.replace('\n', " ").into(),
        })
        .collect();
    m.set_latest_comments(ModelRc::new(VecModel::from(comments)));
}

/// The face a score is drawn with on `scale`.
fn mood_of(scale: Scale, score: u8) -> i32 {
    usize::from(score)
        .checked_sub(1)
        .and_then(|i| scale.moods().get(i))
        .map_or(2, |mood| i32::from(*mood))
}

/// Fills the manager's screen with a believable day, for the screenshots.
pub(crate) fn demo(app: &App) {
    let m = app.global::<Manager>();
    let summary = Summary {
        count: 87,
        distribution: [3, 5, 9, 28, 42],
        csat_percent: Some(80.5),
        average: Some(4.16),
        suspected_repeats: 2,
    };
    show_summary(&m, &summary, Scale::FIVE);
    m.set_day("2026-11-23".into());
    let by_hour = [
        0, 0, 0, 0, 0, 0, 3, 9, 14, 11, 7, 6, 10, 8, 5, 4, 5, 3, 2, 0, 0, 0, 0, 0,
    ];
    m.set_hour_max(14);
    m.set_by_hour(ModelRc::new(VecModel::from(by_hour.to_vec())));
    let reasons = [("Friendly staff", 31), ("Tasty", 24), ("Slow service", 6)];
    m.set_top_reasons(ModelRc::new(VecModel::from(
        reasons
            .iter()
            .map(|(label, count)| ReasonCount {
                label: (*label).into(),
                count: *count,
            })
            .collect::<Vec<_>>(),
    )));
    let comments = [
        ("16:42", 5, "Best flat white in town, thank you!"),
        (
            "15:10",
            2,
            "The queue was long and my latte came out lukewarm",
        ),
        ("13:55", 4, "Lovely new cake selection"),
    ];
    m.set_latest_comments(ModelRc::new(VecModel::from(
        comments
            .iter()
            .map(|(time, score, text)| CommentLine {
                time: (*time).into(),
                score: *score,
                mood: *score - 1,
                text: (*text).into(),
            })
            .collect::<Vec<_>>(),
    )));
    m.set_enrolled(true);
    m.set_hq_url("https://hq.cornercoffee.example".into());
    m.set_pending(4);
    m.set_oldest_pending("16:39".into());
    m.set_last_success("16:35".into());
    m.set_last_error("HQ unreachable: connection refused".into());
    m.set_quarantined(1);
    m.set_retrying(true);
    m.set_languages(ModelRc::new(VecModel::from(vec![
        LanguageChoice {
            code: "en".into(),
            name: language::native_name("en").into(),
        },
        LanguageChoice {
            code: "vi".into(),
            name: language::native_name("vi").into(),
        },
    ])));
    m.set_default_language("en".into());
    m.set_idle_secs(20);
    m.set_remember_me(true);
    m.set_export_path("/media/pi/KINGSTON/ratings-2026-11-23.csv".into());
    m.set_export_outcome(Outcome::Done);
    m.set_export_rows(87);
    m.set_export_written("/media/pi/KINGSTON/ratings-2026-11-23.csv".into());
    m.set_enroll_url("https://hq.cornercoffee.example".into());
    m.set_enroll_code("7Q4-K9".into());
}

/// Shows every failure message the manager can meet (or none), for the screenshots.
pub(crate) fn demo_failures(app: &App, failing: bool) {
    let m = app.global::<Manager>();
    if failing {
        m.set_settings_outcome(Outcome::Failed);
        m.set_settings_error("the idle time must be between 3 and 3600 seconds".into());
        m.set_export_outcome(Outcome::Failed);
        m.set_export_error(
            "cannot export: this kiosk may not write to the folder /media/pi/KINGSTON".into(),
        );
        m.set_enroll_outcome(Outcome::Failed);
        m.set_enroll_error("HQ refused: this enrollment code has expired".into());
        m.set_pin_problem(PinProblem::Mismatch);
    } else {
        m.set_settings_outcome(Outcome::Idle);
        m.set_export_outcome(Outcome::Done);
        m.set_enroll_outcome(Outcome::Idle);
        m.set_pin_problem(PinProblem::None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_day_runs_from_midnight_to_midnight() {
        let now = Local
            .with_ymd_and_hms(2026, 3, 14, 15, 30, 0)
            .single()
            .unwrap()
            .fixed_offset();
        let (from, to) = local_day(now);
        let from = from.with_timezone(&Local);
        let to = to.with_timezone(&Local);
        assert_eq!(
            from.date_naive(),
            NaiveDate::from_ymd_opt(2026, 3, 14).unwrap()
        );
        assert_eq!(from.time(), NaiveTime::MIN);
        assert_eq!(
            to.date_naive(),
            NaiveDate::from_ymd_opt(2026, 3, 15).unwrap()
        );
        assert_eq!(to.time(), NaiveTime::MIN);
    }

    #[test]
    fn a_change_made_before_the_settings_were_read_keeps_the_others() {
        let stored = LocalSettings {
            default_language: Some("vi".into()),
            idle_secs: Some(45.0),
            remember_me: Some(false),
        };
        let tapped = LocalSettings {
            remember_me: Some(true),
            ..LocalSettings::default()
        };
        assert_eq!(
            merged(&tapped, stored),
            LocalSettings {
                default_language: Some("vi".into()),
                idle_secs: Some(45.0),
                remember_me: Some(true),
            }
        );
    }

    #[test]
    fn the_idle_timeout_steps_by_five_seconds_within_bounds() {
        assert_eq!(step_idle_secs(20, IDLE_STEP), 25);
        assert_eq!(step_idle_secs(20, -IDLE_STEP), 15);
        assert_eq!(step_idle_secs(23, IDLE_STEP), 25);
        assert_eq!(step_idle_secs(23, -IDLE_STEP), 20);
        assert_eq!(step_idle_secs(IDLE_MIN, -IDLE_STEP), IDLE_MIN);
        assert_eq!(step_idle_secs(IDLE_MAX, IDLE_STEP), IDLE_MAX);
    }

    #[test]
    fn export_defaults_to_the_first_usb_stick_else_the_data_dir() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let media = tempfile::tempdir().unwrap();
        let data = Path::new("/var/lib/countertop");
        assert_eq!(
            default_export_path(media.path(), data, day),
            data.join("exports/ratings-2026-11-23.csv")
        );
        std::fs::create_dir_all(media.path().join("pi/ZSTICK")).unwrap();
        std::fs::create_dir_all(media.path().join("pi/KINGSTON")).unwrap();
        std::fs::write(media.path().join("pi/notes.txt"), "").unwrap();
        assert_eq!(
            default_export_path(media.path(), data, day),
            media.path().join("pi/KINGSTON/ratings-2026-11-23.csv")
        );
    }
}
