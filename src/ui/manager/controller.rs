//! The manager's screen as plain Rust, with no Slint in it: what the screen shows
//! ([`View`]), what each tap does to it, and what it asks of the core ([`Request`]).
//!
//! The adapter (`super`) hands every tap and every answer from the core to the
//! [`Controller`], runs the requests it returns on the core, and copies the [`View`] into
//! the Slint `Manager` global. So the screen's rules (the PIN typed twice, the first day,
//! settings tapped before they were read, a typed export path that a USB stick does not
//! replace) are tested here without a window.

use std::path::PathBuf;

use crate::config::{KioskConfig, IDLE_SECS};
use crate::core::CoreError;
use crate::refusal::Refusal;
use crate::regulars::{DayReport, LocalSettings, PIN_DIGITS};
use crate::store::{check_first_day_pins, check_new_pin, StaffRole};

/// Longest text the keyboard types into a field.
const FIELD_MAX: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Today,
    Sync,
    Settings,
    Export,
}

/// What the on-screen keyboard types into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Field {
    #[default]
    None,
    HqUrl,
    EnrollCode,
    ExportPath,
}

/// How a slow action (export, enrolment, saving) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    #[default]
    Idle,
    Working,
    Done,
    Failed,
}

/// Why something was not done, as a kind the screen words in the language on show. No
/// English text from inside the kiosk ever reaches the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Problem {
    #[default]
    None,
    PinFormat,
    PinWeak,
    PinTaken,
    PinsEqual,
    PinMismatch,
    LanguageNotOffered,
    IdleOutOfRange,
    EnrollIncomplete,
    NotAnHqAddress,
    CodeRefused,
    HqUnreachable,
    HqFailed,
    ExportNoFileName,
    ExportFolderMissing,
    ExportNotAllowed,
    ExportFailed,
    Storage,
    Unexpected,
}

/// A problem, and the one piece of data it names (a folder), if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Said {
    pub problem: Problem,
    pub detail: String,
}

impl Said {
    fn of(problem: Problem) -> Said {
        Said {
            problem,
            detail: String::new(),
        }
    }
}

/// What went wrong on the core, as the screen says it.
pub fn said(error: &CoreError) -> Said {
    let folder = |p: &PathBuf| p.display().to_string();
    match error {
        CoreError::Refused(refusal) => match refusal {
            Refusal::PinFormat => Said::of(Problem::PinFormat),
            Refusal::PinWeak => Said::of(Problem::PinWeak),
            Refusal::PinTaken(_) => Said::of(Problem::PinTaken),
            Refusal::PinsEqual => Said::of(Problem::PinsEqual),
            Refusal::LanguageNotOffered(_) => Said::of(Problem::LanguageNotOffered),
            Refusal::IdleOutOfRange => Said::of(Problem::IdleOutOfRange),
            Refusal::EnrollIncomplete => Said::of(Problem::EnrollIncomplete),
            Refusal::NotAnHqAddress(_) => Said::of(Problem::NotAnHqAddress),
            Refusal::HqRefused { .. } => Said::of(Problem::CodeRefused),
            Refusal::ExportNoFileName => Said::of(Problem::ExportNoFileName),
            Refusal::ExportFolderMissing(p) => Said {
                problem: Problem::ExportFolderMissing,
                detail: folder(p),
            },
            Refusal::ExportNotAllowed(p) => Said {
                problem: Problem::ExportNotAllowed,
                detail: folder(p),
            },
            Refusal::ExportFailed(p, _) => Said {
                problem: Problem::ExportFailed,
                detail: folder(p),
            },
        },
        CoreError::Hq(e) if e.is_unreachable() => Said::of(Problem::HqUnreachable),
        CoreError::Hq(_) => Said::of(Problem::HqFailed),
        CoreError::Store(_) | CoreError::Stopped | CoreError::Start(_) => {
            Said::of(Problem::Storage)
        }
        CoreError::Invalid(_) => Said::of(Problem::Unexpected),
    }
}

/// The settings as the screen shows them: the configuration in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub default_language: String,
    pub idle_secs: i32,
    pub remember_me: bool,
}

impl Shown {
    pub fn of(config: &KioskConfig) -> Shown {
        Shown {
            default_language: config.languages.default.clone(),
            idle_secs: config.timeouts.idle_secs.round() as i32,
            remember_me: config.survey.remember_me.enabled,
        }
    }
}

/// Everything the manager's screen shows that the controller decides.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub tab: Tab,
    /// The first day: only the PIN change shows, manager PIN first, then the barista's.
    pub first_day: bool,

    pub day: String,
    pub loading: bool,
    pub report: Option<DayReport>,
    /// Bumped with every report read, so the adapter redraws the charts only then.
    pub report_version: u64,
    pub today_problem: Said,

    /// "Sync now" was tapped and no round has reported since.
    pub syncing: bool,

    pub settings: Shown,
    pub settings_outcome: Outcome,
    pub settings_problem: Said,

    pub enrolling_open: bool,
    pub enroll_url: String,
    pub enroll_code: String,
    pub enroll_outcome: Outcome,
    pub enroll_problem: Said,

    /// The role whose PIN is being typed (none when the pad is closed), which entry (1:
    /// the new PIN, 2: the same again), and how many digits are typed.
    pub pin_role: Option<StaffRole>,
    pub pin_step: i32,
    pub pin_length: i32,
    pub pin_problem: Said,
    /// The PIN of this role was just changed.
    pub pin_changed: Option<StaffRole>,
    /// The first day's PINs were just saved.
    pub first_day_saved: bool,

    pub export_path: String,
    /// Looking for a USB stick (on the core thread).
    pub looking_for_usb: bool,
    pub export_outcome: Outcome,
    pub export_rows: u64,
    pub export_written: String,
    pub export_problem: Said,

    pub editing: Field,
}

/// What the controller asks the adapter to do on the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Read today's numbers, then call [`Controller::today_read`].
    ReadToday,
    /// Look for a USB stick, then call [`Controller::usb_looked`].
    LookForUsb,
    /// Read the kiosk's own settings, then call [`Controller::settings_read`].
    ReadSettings,
    /// Save these settings (`merge`: read the stored ones first and keep those not set
    /// here), then call [`Controller::settings_saved`].
    SaveSettings {
        settings: LocalSettings,
        merge: bool,
    },
    Enroll {
        url: String,
        code: String,
    },
    SetPin {
        role: StaffRole,
        pin: String,
    },
    CompleteFirstDay {
        manager: String,
        barista: String,
    },
    Export {
        path: PathBuf,
    },
    SyncNow,
}

/// What is typed on the manager's screen and not yet handed to the core. The digits of a
/// PIN never reach the view, only their count.
#[derive(Default)]
struct Typing {
    /// The manager changed the export path: keep it instead of a USB stick's.
    export_path_edited: bool,
    pin_first: Option<String>,
    pin: String,
    /// On the first day: the new manager PIN, typed twice, while the barista's is typed.
    first_day_manager: Option<String>,
}

/// The manager's screen: its state, and what each tap and answer does to it.
pub struct Controller {
    view: View,
    typing: Typing,
    /// The kiosk's own settings as last read or saved; a change edits one field of them.
    local: LocalSettings,
    /// Saves sent and not yet answered. Until the last is, the screen keeps what was
    /// tapped rather than the configuration of an earlier save.
    saving: u32,
    /// `local` holds what is stored (not only the changes made on screen).
    loaded: bool,
    /// The screen is showing (between [`Controller::open`] and [`Controller::close`]).
    open: bool,
}

impl Controller {
    pub fn new(config: &KioskConfig) -> Controller {
        Controller {
            view: View {
                tab: Tab::Today,
                first_day: false,
                day: String::new(),
                loading: false,
                report: None,
                report_version: 0,
                today_problem: Said::default(),
                syncing: false,
                settings: Shown::of(config),
                settings_outcome: Outcome::Idle,
                settings_problem: Said::default(),
                enrolling_open: false,
                enroll_url: String::new(),
                enroll_code: String::new(),
                enroll_outcome: Outcome::Idle,
                enroll_problem: Said::default(),
                pin_role: None,
                pin_step: 1,
                pin_length: 0,
                pin_problem: Said::default(),
                pin_changed: None,
                first_day_saved: false,
                export_path: String::new(),
                looking_for_usb: false,
                export_outcome: Outcome::Idle,
                export_rows: 0,
                export_written: String::new(),
                export_problem: Said::default(),
                editing: Field::None,
            },
            typing: Typing::default(),
            local: LocalSettings::default(),
            saving: 0,
            loaded: false,
            open: false,
        }
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// Shows the screen fresh: today's numbers re-read, nothing half-typed left over. On
    /// the first day (`first_day`), only the PIN change shows, starting with the manager's.
    pub fn open(&mut self, first_day: bool) -> Vec<Request> {
        self.open = true;
        self.typing = Typing {
            export_path_edited: self.typing.export_path_edited,
            ..Typing::default()
        };
        let v = &mut self.view;
        v.tab = Tab::Today;
        v.editing = Field::None;
        v.pin_role = None;
        v.pin_changed = None;
        v.pin_problem = Said::default();
        v.first_day_saved = false;
        v.enrolling_open = false;
        v.export_outcome = Outcome::Idle;
        v.settings_outcome = Outcome::Idle;
        v.first_day = first_day;
        if first_day {
            v.pin_role = Some(StaffRole::Manager);
            self.show_pin();
            return vec![];
        }
        let mut requests = vec![Request::ReadToday, Request::ReadSettings];
        requests.extend(self.look_for_usb());
        requests
    }

    /// The screen is left (staff mode closed).
    pub fn close(&mut self) {
        self.open = false;
    }

    pub fn show_tab(&mut self, tab: Tab) -> Vec<Request> {
        if self.view.first_day {
            return vec![];
        }
        self.view.tab = tab;
        match tab {
            Tab::Today => vec![Request::ReadToday],
            // A USB stick plugged in since the screen opened becomes the default.
            Tab::Export => self.look_for_usb().into_iter().collect(),
            _ => vec![],
        }
    }

    // --- Today ---------------------------------------------------------------------

    /// Today's numbers are being read for the day called `day`.
    pub fn reading_today(&mut self, day: String) {
        self.view.loading = true;
        self.view.day = day;
    }

    pub fn today_read(&mut self, result: Result<DayReport, CoreError>) {
        self.view.loading = false;
        match result {
            Ok(report) => {
                self.view.today_problem = Said::default();
                self.view.report = Some(report);
                self.view.report_version += 1;
            }
            Err(e) => self.view.today_problem = said(&e),
        }
    }

    /// A rating was saved: the numbers follow while the manager watches them.
    pub fn rating_saved(&mut self) -> Option<Request> {
        (self.open && !self.view.first_day && self.view.tab == Tab::Today)
            .then_some(Request::ReadToday)
    }

    // --- Sync ----------------------------------------------------------------------

    pub fn sync_now(&mut self) -> Request {
        self.view.syncing = true;
        Request::SyncNow
    }

    /// Sync reported a round; true when the screen changes ("Syncing…" ends).
    pub fn sync_reported(&mut self) -> bool {
        std::mem::replace(&mut self.view.syncing, false)
    }

    // --- Settings ------------------------------------------------------------------

    /// The configuration in force changed (a save, or a survey from HQ).
    pub fn config_changed(&mut self, config: &KioskConfig) {
        if self.saving == 0 {
            self.view.settings = Shown::of(config);
        }
    }

    pub fn settings_read(&mut self, result: Result<LocalSettings, CoreError>) {
        match result {
            Ok(stored) => {
                // Changes tapped before the answer came are kept over it.
                self.local = if self.saving == 0 {
                    stored
                } else {
                    merged(&self.local, stored)
                };
                self.loaded = true;
            }
            Err(e) => {
                self.view.settings_outcome = Outcome::Failed;
                self.view.settings_problem = said(&e);
            }
        }
    }

    /// Shows `change` at once and asks to save it.
    fn change_settings(&mut self, change: impl FnOnce(&mut Shown, &mut LocalSettings)) -> Request {
        change(&mut self.view.settings, &mut self.local);
        self.view.settings_outcome = Outcome::Working;
        self.saving += 1;
        Request::SaveSettings {
            settings: self.local.clone(),
            // Tapped before the stored settings were read: `local` holds only the
            // changes, so the stored ones are read first rather than overwritten.
            merge: !self.loaded,
        }
    }

    /// A save was answered; `in_force` is the configuration in force after it.
    pub fn settings_saved(
        &mut self,
        result: Result<(), CoreError>,
        in_force: &KioskConfig,
    ) -> Vec<Request> {
        let last = self.saving <= 1;
        self.saving = self.saving.saturating_sub(1);
        if last {
            self.view.settings = Shown::of(in_force);
        }
        match result {
            Ok(()) if last => {
                self.view.settings_outcome = Outcome::Done;
                vec![]
            }
            Ok(()) => vec![],
            Err(e) => {
                self.view.settings_outcome = Outcome::Failed;
                self.view.settings_problem = said(&e);
                vec![Request::ReadSettings]
            }
        }
    }

    /// One tap on − (`up`: false) or + of the idle timeout.
    pub fn step_idle(&mut self, up: bool) -> Request {
        self.change_settings(|shown, local| {
            shown.idle_secs = step_idle_secs(shown.idle_secs, up);
            local.idle_secs = Some(f64::from(shown.idle_secs));
        })
    }

    pub fn toggle_remember_me(&mut self) -> Request {
        self.change_settings(|shown, local| {
            shown.remember_me = !shown.remember_me;
            local.remember_me = Some(shown.remember_me);
        })
    }

    pub fn set_default_language(&mut self, code: &str) -> Request {
        let code = code.to_owned();
        self.change_settings(|shown, local| {
            shown.default_language = code.clone();
            local.default_language = Some(code);
        })
    }

    // --- Enrolment -----------------------------------------------------------------

    pub fn open_enroll(&mut self) {
        self.view.enroll_outcome = Outcome::Idle;
        self.view.enrolling_open = true;
        self.view.editing = Field::HqUrl;
    }

    pub fn close_enroll(&mut self) {
        self.view.enroll_code.clear();
        self.view.enrolling_open = false;
        self.view.editing = Field::None;
    }

    pub fn enroll(&mut self) -> Option<Request> {
        let url = self.view.enroll_url.trim().to_owned();
        let code = self.view.enroll_code.trim().to_owned();
        self.view.enroll_outcome = Outcome::Working;
        Some(Request::Enroll { url, code })
    }

    pub fn enrolled(&mut self, result: Result<(), CoreError>) {
        match result {
            Ok(()) => {
                self.close_enroll();
                self.view.enroll_outcome = Outcome::Done;
            }
            Err(e) => {
                self.view.enroll_outcome = Outcome::Failed;
                self.view.enroll_problem = said(&e);
            }
        }
    }

    // --- PINs ----------------------------------------------------------------------

    pub fn change_pin(&mut self, role: StaffRole) {
        self.typing.pin_first = None;
        self.typing.pin.clear();
        self.view.pin_role = Some(role);
        self.view.pin_changed = None;
        self.view.pin_problem = Said::default();
        self.show_pin();
    }

    fn show_pin(&mut self) {
        self.view.pin_step = if self.typing.pin_first.is_some() {
            2
        } else {
            1
        };
        self.view.pin_length = self.typing.pin.chars().count() as i32;
    }

    pub fn pin_digit(&mut self, digit: &str) {
        if digit.len() != 1 || !digit.chars().all(|c| c.is_ascii_digit()) {
            return;
        }
        if self.typing.pin.len() >= *PIN_DIGITS.end() {
            return;
        }
        self.typing.pin.push_str(digit);
        self.view.pin_problem = Said::default();
        self.show_pin();
    }

    pub fn pin_backspace(&mut self) {
        self.typing.pin.pop();
        self.show_pin();
    }

    pub fn pin_clear(&mut self) {
        self.typing.pin.clear();
        self.show_pin();
    }

    /// "Cancel" on the PIN pad. On the first day there is none: the change must be made
    /// (or staff mode left).
    pub fn pin_cancel(&mut self) {
        if self.view.first_day {
            return;
        }
        self.typing.pin_first = None;
        self.typing.pin.clear();
        self.view.pin_role = None;
        self.view.pin_problem = Said::default();
        self.show_pin();
    }

    /// "Next" after the first entry, "Save PIN" after the second.
    pub fn pin_next(&mut self) -> Option<Request> {
        let role = self.view.pin_role?;
        let pin = std::mem::take(&mut self.typing.pin);
        let Some(first) = self.typing.pin_first.take() else {
            // The PIN's own rules (length, not too easy) before it is typed again.
            if let Err(refusal) = check_new_pin(&pin) {
                self.view.pin_problem = said(&CoreError::Refused(refusal));
            } else {
                self.typing.pin_first = Some(pin);
            }
            self.show_pin();
            return None;
        };
        if first != pin {
            self.view.pin_problem = Said::of(Problem::PinMismatch);
            self.show_pin();
            return None;
        }
        if !self.view.first_day {
            return Some(Request::SetPin { role, pin });
        }
        match (role, self.typing.first_day_manager.take()) {
            (StaffRole::Manager, _) => {
                self.typing.first_day_manager = Some(pin);
                self.view.pin_role = Some(StaffRole::Barista);
                self.show_pin();
                None
            }
            (StaffRole::Barista, Some(manager)) => {
                if let Err(refusal) = check_first_day_pins(&manager, &pin) {
                    self.typing.first_day_manager = Some(manager);
                    self.view.pin_problem = said(&CoreError::Refused(refusal));
                    self.show_pin();
                    return None;
                }
                Some(Request::CompleteFirstDay {
                    manager,
                    barista: pin,
                })
            }
            (StaffRole::Barista, None) => {
                self.view.pin_role = Some(StaffRole::Manager);
                self.show_pin();
                None
            }
        }
    }

    /// A new PIN was saved, or refused.
    pub fn pin_saved(&mut self, role: StaffRole, result: Result<(), CoreError>) {
        match result {
            Ok(()) => {
                self.pin_cancel();
                self.view.pin_changed = Some(role);
            }
            Err(e) => self.view.pin_problem = said(&e),
        }
        self.show_pin();
    }

    /// The first day's PINs were saved, or refused (then both are typed again).
    pub fn first_day_saved(&mut self, result: Result<(), CoreError>) -> Vec<Request> {
        match result {
            Ok(()) => {
                self.view.first_day = false;
                self.view.first_day_saved = true;
                self.typing.pin_first = None;
                self.typing.pin.clear();
                self.view.pin_role = None;
                self.view.pin_problem = Said::default();
                self.show_pin();
                let mut requests = vec![Request::ReadToday, Request::ReadSettings];
                requests.extend(self.look_for_usb());
                requests
            }
            Err(e) => {
                self.typing = Typing {
                    export_path_edited: self.typing.export_path_edited,
                    ..Typing::default()
                };
                self.view.pin_role = Some(StaffRole::Manager);
                self.view.pin_problem = said(&e);
                self.show_pin();
                vec![]
            }
        }
    }

    // --- The keyboard --------------------------------------------------------------

    pub fn edit(&mut self, field: Field) {
        self.view.editing = field;
    }

    fn edit_field(&mut self, edit: impl FnOnce(&mut String)) {
        let text = match self.view.editing {
            Field::HqUrl => &mut self.view.enroll_url,
            Field::EnrollCode => &mut self.view.enroll_code,
            Field::ExportPath => &mut self.view.export_path,
            Field::None => return,
        };
        edit(text);
        if self.view.editing == Field::ExportPath {
            self.typing.export_path_edited = true;
        }
    }

    pub fn type_key(&mut self, key: &str) {
        self.edit_field(|text| {
            if text.chars().count() + key.chars().count() <= FIELD_MAX {
                text.push_str(key);
            }
        });
    }

    pub fn backspace(&mut self) {
        self.edit_field(|text| {
            text.pop();
        });
    }

    pub fn done_editing(&mut self) {
        self.view.editing = Field::None;
    }

    // --- Export --------------------------------------------------------------------

    /// Asks for the default export path, unless the manager typed one.
    fn look_for_usb(&mut self) -> Option<Request> {
        if self.typing.export_path_edited {
            return None;
        }
        self.view.looking_for_usb = true;
        Some(Request::LookForUsb)
    }

    /// The core looked for a USB stick: its path becomes the default, unless the
    /// manager typed one meanwhile.
    pub fn usb_looked(&mut self, result: Result<PathBuf, CoreError>) {
        self.view.looking_for_usb = false;
        if let (Ok(path), false) = (result, self.typing.export_path_edited) {
            self.view.export_path = path.display().to_string();
        }
    }

    pub fn export(&mut self) -> Option<Request> {
        let path = PathBuf::from(self.view.export_path.trim());
        if path.as_os_str().is_empty() {
            self.view.export_outcome = Outcome::Failed;
            self.view.export_problem = Said::of(Problem::ExportNoFileName);
            return None;
        }
        self.view.export_outcome = Outcome::Working;
        Some(Request::Export { path })
    }

    pub fn exported(&mut self, path: &std::path::Path, result: Result<u64, CoreError>) {
        match result {
            Ok(rows) => {
                self.view.export_outcome = Outcome::Done;
                self.view.export_rows = rows;
                self.view.export_written = path.display().to_string();
            }
            Err(e) => {
                self.view.export_outcome = Outcome::Failed;
                self.view.export_problem = said(&e);
            }
        }
    }
}

/// The settings in `over` that are set, over those in `under`.
pub fn merged(over: &LocalSettings, under: LocalSettings) -> LocalSettings {
    LocalSettings {
        default_language: over.default_language.clone().or(under.default_language),
        idle_secs: over.idle_secs.or(under.idle_secs),
        remember_me: over.remember_me.or(under.remember_me),
    }
}

/// The idle timeouts the manager can choose from: the whole range `kiosk.toml` accepts.
pub fn idle_bounds() -> (i32, i32) {
    (
        IDLE_SECS.start().ceil() as i32,
        IDLE_SECS.end().floor() as i32,
    )
}

/// The −/+ step at `secs`: fine where a second matters, coarse where it does not.
fn idle_step(secs: i32) -> i32 {
    match secs {
        ..=59 => 5,
        60..=299 => 30,
        _ => 60,
    }
}

/// The idle timeout after one tap on − or +, on the steps' grid and within
/// [`idle_bounds`], so every tap lands on a value `kiosk.toml` accepts and both ends of
/// its range can be reached.
pub fn step_idle_secs(secs: i32, up: bool) -> i32 {
    let (min, max) = idle_bounds();
    let secs = secs.clamp(min, max);
    let stepped = if up {
        let step = idle_step(secs);
        (secs.div_euclid(step) + 1) * step
    } else {
        // The step of the value below: from 60 s, − gives 55 s.
        let step = idle_step(secs - 1);
        ((secs + step - 1).div_euclid(step) - 1) * step
    };
    stepped.clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller() -> Controller {
        Controller::new(&KioskConfig::default())
    }

    fn type_pin(c: &mut Controller, pin: &str) -> Option<Request> {
        for d in pin.chars() {
            c.pin_digit(&d.to_string());
        }
        c.pin_next()
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
        let mut c = controller();
        assert!(matches!(
            c.toggle_remember_me(),
            Request::SaveSettings { merge: true, .. }
        ));
        c.settings_read(Ok(LocalSettings::default()));
        assert!(matches!(
            c.toggle_remember_me(),
            Request::SaveSettings { merge: false, .. }
        ));
    }

    #[test]
    fn the_idle_choices_cover_exactly_the_range_kiosk_toml_accepts() {
        let (min, max) = idle_bounds();
        assert!(IDLE_SECS.contains(&f64::from(min)) && IDLE_SECS.contains(&f64::from(max)));
        assert!(!IDLE_SECS.contains(&f64::from(min - 1)));
        assert!(!IDLE_SECS.contains(&f64::from(max + 1)));
        // Down from the default to the very bottom, and up to the very top.
        let mut secs = 20;
        let mut seen = vec![secs];
        while secs > min {
            secs = step_idle_secs(secs, false);
            seen.push(secs);
        }
        assert_eq!(secs, min);
        while secs < max {
            let next = step_idle_secs(secs, true);
            assert!(next > secs, "{secs} goes up");
            secs = next;
            seen.push(secs);
        }
        assert_eq!(secs, max);
        assert_eq!(step_idle_secs(max, true), max);
        assert_eq!(step_idle_secs(min, false), min);
        assert!(seen.iter().all(|s| IDLE_SECS.contains(&f64::from(*s))));
    }

    #[test]
    fn the_idle_timeout_steps_onto_a_grid_finer_where_seconds_matter() {
        assert_eq!(step_idle_secs(20, true), 25);
        assert_eq!(step_idle_secs(20, false), 15);
        assert_eq!(step_idle_secs(23, true), 25);
        assert_eq!(step_idle_secs(23, false), 20);
        assert_eq!(step_idle_secs(5, false), 3);
        assert_eq!(step_idle_secs(3, true), 5);
        assert_eq!(step_idle_secs(55, true), 60);
        assert_eq!(step_idle_secs(60, true), 90);
        assert_eq!(step_idle_secs(60, false), 55);
        assert_eq!(step_idle_secs(300, true), 360);
        assert_eq!(step_idle_secs(300, false), 270);
    }

    #[test]
    fn a_new_pin_is_typed_twice_and_a_weak_or_short_one_is_refused_before_the_second() {
        let mut c = controller();
        c.change_pin(StaffRole::Barista);
        assert_eq!(type_pin(&mut c, "123"), None);
        assert_eq!(c.view().pin_problem.problem, Problem::PinFormat);
        assert_eq!(c.view().pin_step, 1);
        assert_eq!(type_pin(&mut c, "1111"), None);
        assert_eq!(c.view().pin_problem.problem, Problem::PinWeak);
        assert_eq!(c.view().pin_step, 1);
        assert_eq!(type_pin(&mut c, "4826"), None);
        assert_eq!(c.view().pin_step, 2);
        assert_eq!(c.view().pin_length, 0);
        assert_eq!(type_pin(&mut c, "4827"), None);
        assert_eq!(c.view().pin_problem.problem, Problem::PinMismatch);
        assert_eq!(c.view().pin_step, 1, "starts over");
        assert_eq!(type_pin(&mut c, "4826"), None);
        assert_eq!(
            type_pin(&mut c, "4826"),
            Some(Request::SetPin {
                role: StaffRole::Barista,
                pin: "4826".into()
            })
        );
        c.pin_saved(StaffRole::Barista, Ok(()));
        assert_eq!(c.view().pin_role, None);
        assert_eq!(c.view().pin_changed, Some(StaffRole::Barista));
    }

    #[test]
    fn the_first_day_shows_only_the_pin_change_manager_then_barista_and_they_must_differ() {
        let mut c = controller();
        assert!(c.open(true).is_empty(), "nothing read before the change");
        assert!(c.view().first_day);
        assert_eq!(c.view().pin_role, Some(StaffRole::Manager));
        assert!(c.show_tab(Tab::Settings).is_empty());
        assert_eq!(c.view().tab, Tab::Today);
        c.pin_cancel();
        assert_eq!(
            c.view().pin_role,
            Some(StaffRole::Manager),
            "no way round it"
        );
        assert_eq!(type_pin(&mut c, "1234"), None);
        assert_eq!(c.view().pin_problem.problem, Problem::PinWeak);
        assert_eq!(type_pin(&mut c, "4826"), None);
        assert_eq!(type_pin(&mut c, "4826"), None);
        assert_eq!(c.view().pin_role, Some(StaffRole::Barista));
        assert_eq!(c.view().pin_step, 1);
        assert_eq!(type_pin(&mut c, "4826"), None);
        assert_eq!(type_pin(&mut c, "4826"), None);
        assert_eq!(c.view().pin_problem.problem, Problem::PinsEqual);
        assert_eq!(c.view().pin_role, Some(StaffRole::Barista));
        assert_eq!(type_pin(&mut c, "1357"), None);
        assert_eq!(
            type_pin(&mut c, "1357"),
            Some(Request::CompleteFirstDay {
                manager: "4826".into(),
                barista: "1357".into()
            })
        );
        let requests = c.first_day_saved(Ok(()));
        assert!(requests.contains(&Request::ReadToday));
        assert!(!c.view().first_day);
        assert!(c.view().first_day_saved);
        assert_eq!(c.view().pin_role, None);
    }

    #[test]
    fn today_follows_new_ratings_only_while_the_manager_watches_it() {
        let mut c = controller();
        assert_eq!(c.rating_saved(), None, "not open");
        c.open(false);
        assert_eq!(c.rating_saved(), Some(Request::ReadToday));
        c.show_tab(Tab::Sync);
        assert_eq!(c.rating_saved(), None);
        c.show_tab(Tab::Today);
        c.close();
        assert_eq!(c.rating_saved(), None);
    }

    #[test]
    fn a_typed_export_path_is_not_replaced_by_a_usb_stick_found_later() {
        let mut c = controller();
        let requests = c.open(false);
        assert!(requests.contains(&Request::LookForUsb));
        assert!(c.view().looking_for_usb);
        c.show_tab(Tab::Export);
        c.edit(Field::ExportPath);
        c.type_key("/tmp/x.csv");
        c.usb_looked(Ok(PathBuf::from("/media/pi/STICK/ratings.csv")));
        assert_eq!(c.view().export_path, "/tmp/x.csv");
        assert!(!c.view().looking_for_usb);
        assert!(c.show_tab(Tab::Export).is_empty(), "no more looking");
        c.done_editing();
        assert_eq!(
            c.export(),
            Some(Request::Export {
                path: "/tmp/x.csv".into()
            })
        );
        c.exported(
            std::path::Path::new("/tmp/x.csv"),
            Err(CoreError::Refused(Refusal::ExportNotAllowed("/tmp".into()))),
        );
        assert_eq!(c.view().export_outcome, Outcome::Failed);
        assert_eq!(
            c.view().export_problem,
            Said {
                problem: Problem::ExportNotAllowed,
                detail: "/tmp".into()
            }
        );
    }

    #[test]
    fn errors_from_the_core_become_kinds_never_english_text() {
        let refused = |r| said(&CoreError::Refused(r)).problem;
        assert_eq!(refused(Refusal::IdleOutOfRange), Problem::IdleOutOfRange);
        assert_eq!(
            refused(Refusal::HqRefused {
                status: 410,
                message: "this enrollment code has expired".into()
            }),
            Problem::CodeRefused
        );
        assert_eq!(
            refused(Refusal::NotAnHqAddress("nonsense".into())),
            Problem::NotAnHqAddress
        );
        assert_eq!(
            said(&CoreError::Invalid("some English".into())),
            Said::of(Problem::Unexpected)
        );
        assert_eq!(said(&CoreError::Stopped).problem, Problem::Storage);
    }
}
