//! The manager's screen of staff mode: today's numbers (live while the manager watches),
//! the state of sync, the kiosk's local settings (enrolment, default language, idle
//! timeout, "remember me", PINs), the CSV export, and the first day's PIN change.
//!
//! This is the thin adapter between the Slint `Manager` global and the [`Controller`],
//! which holds the screen's rules and knows nothing of Slint. Every call to the core is
//! awaited on the UI thread's event loop, so a slow disk, USB stick or network never
//! freezes the screen.

mod controller;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::{Rc, Weak};

use chrono::{DateTime, Local, NaiveDate, NaiveTime, TimeZone, Utc};
use slint::{ComponentHandle, ModelRc, VecModel};

pub(crate) use controller::idle_bounds;
use controller::{merged, Controller, Field, Problem, Request, Said, Tab};

use super::{
    language, App, CommentLine, LanguageChoice, Manager, ManagerField, ManagerTab, Outcome,
    Problem as UiProblem, ReasonCount, ScoreBar, StaffRole as UiRole, SyncProblem,
};
use crate::clock;
use crate::config::KioskConfig;
use crate::core::Core;
use crate::feedback::Scale;
use crate::regulars::{DayReport, PIN_DIGITS};
use crate::store::{StaffRole, Summary};
use crate::sync::SyncStatus;

/// Where USB sticks are mounted.
const MEDIA: &str = "/media";

/// Drives the manager's screen of one [`App`].
pub struct ManagerPanel {
    app: slint::Weak<App>,
    core: Core,
    controller: RefCell<Controller>,
    /// Where USB sticks are looked for (tests point it elsewhere).
    media: RefCell<PathBuf>,
    /// The report last drawn (`View::report_version`).
    drawn_report: Cell<u64>,
    this: Weak<ManagerPanel>,
}

impl ManagerPanel {
    /// Connects the manager's screen of `app` to the core, and follows sync's state, the
    /// configuration and new ratings live. Staff mode calls [`ManagerPanel::open`] each
    /// time it shows the screen.
    pub fn install(app: &App, core: Core) -> Rc<ManagerPanel> {
        let config = core.config().borrow().clone();
        let panel = Rc::new_cyclic(|this| ManagerPanel {
            app: app.as_weak(),
            core,
            controller: RefCell::new(Controller::new(&config)),
            media: RefCell::new(PathBuf::from(MEDIA)),
            drawn_report: Cell::new(0),
            this: this.clone(),
        });
        let manager = app.global::<Manager>();
        show_languages(&manager, &config);
        let (idle_min, idle_max) = idle_bounds();
        manager.set_idle_min(idle_min);
        manager.set_idle_max(idle_max);
        manager.set_pin_min(*PIN_DIGITS.start() as i32);
        manager.set_pin_max(*PIN_DIGITS.end() as i32);

        let with = |f: fn(&mut Controller) -> Vec<Request>| {
            let weak = Rc::downgrade(&panel);
            move || {
                if let Some(panel) = weak.upgrade() {
                    panel.act(f);
                }
            }
        };
        manager.on_sync_now(with(|c| vec![c.sync_now()]));
        manager.on_idle_down(with(|c| vec![c.step_idle(false)]));
        manager.on_idle_up(with(|c| vec![c.step_idle(true)]));
        manager.on_toggle_remember_me(with(|c| vec![c.toggle_remember_me()]));
        manager.on_open_enroll(with(|c| {
            c.open_enroll();
            vec![]
        }));
        manager.on_close_enroll(with(|c| {
            c.close_enroll();
            vec![]
        }));
        manager.on_enroll(with(|c| c.enroll().into_iter().collect()));
        manager.on_pin_backspace(with(|c| {
            c.pin_backspace();
            vec![]
        }));
        manager.on_pin_clear(with(|c| {
            c.pin_clear();
            vec![]
        }));
        manager.on_pin_next(with(|c| c.pin_next().into_iter().collect()));
        manager.on_pin_cancel(with(|c| {
            c.pin_cancel();
            vec![]
        }));
        manager.on_backspace(with(|c| {
            c.backspace();
            vec![]
        }));
        manager.on_done_editing(with(|c| {
            c.done_editing();
            vec![]
        }));
        manager.on_export(with(|c| c.export().into_iter().collect()));
        manager.on_dismiss_store_alert(super::while_alive(
            &panel,
            ManagerPanel::dismiss_store_alert,
        ));
        let weak = Rc::downgrade(&panel);
        manager.on_show_tab(move |tab| {
            if let Some(panel) = weak.upgrade() {
                panel.act(|c| c.show_tab(tab_of(tab)));
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_set_default_language(move |code| {
            if let Some(panel) = weak.upgrade() {
                panel.act(|c| vec![c.set_default_language(&code)]);
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_change_pin(move |role| {
            if let Some(panel) = weak.upgrade() {
                let role = match role {
                    UiRole::Barista => StaffRole::Barista,
                    UiRole::Manager => StaffRole::Manager,
                    UiRole::None => return,
                };
                panel.act(|c| {
                    c.change_pin(role);
                    vec![]
                });
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_pin_digit(move |digit| {
            if let Some(panel) = weak.upgrade() {
                panel.act(|c| {
                    c.pin_digit(&digit);
                    vec![]
                });
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_edit(move |field| {
            if let Some(panel) = weak.upgrade() {
                panel.act(|c| {
                    c.edit(field_of(field));
                    vec![]
                });
            }
        });
        let weak = Rc::downgrade(&panel);
        manager.on_type_key(move |text| {
            if let Some(panel) = weak.upgrade() {
                panel.act(|c| {
                    c.type_key(&text);
                    vec![]
                });
            }
        });

        panel.follow_sync_status();
        panel.follow_store_alert();
        panel.follow_config();
        panel.follow_ratings();
        panel.render();
        panel.run(vec![Request::ReadSettings]);
        panel
    }

    /// Shows the screen fresh: today's numbers re-read, nothing half-typed left over. On
    /// the first day (`first_day`) only the change of the default PINs shows.
    pub fn open(&self, first_day: bool) {
        self.act(|c| c.open(first_day));
    }

    /// Staff mode closed: today's numbers stop following new ratings.
    pub fn close(&self) {
        self.controller.borrow_mut().close();
    }

    /// Looks for USB sticks under `media` instead of `/media`.
    pub fn set_media(&self, media: PathBuf) {
        *self.media.borrow_mut() = media;
    }

    /// A tap: the controller decides, the screen shows it, the core is asked.
    fn act(&self, f: impl FnOnce(&mut Controller) -> Vec<Request>) {
        let requests = f(&mut self.controller.borrow_mut());
        self.render();
        self.run(requests);
    }

    /// An answer from the core, handed to the controller once it is back on the UI thread.
    fn answer(
        this: &Weak<ManagerPanel>,
        f: impl FnOnce(&ManagerPanel, &mut Controller) -> Vec<Request>,
    ) {
        let Some(panel) = this.upgrade() else { return };
        let requests = f(&panel, &mut panel.controller.borrow_mut());
        panel.render();
        panel.run(requests);
    }

    /// Runs `task` on the UI thread's event loop; logs if it cannot.
    fn spawn(&self, what: &str, task: impl std::future::Future<Output = ()> + 'static) {
        if let Err(e) = slint::spawn_local(task) {
            tracing::error!("cannot {what}: {e}");
        }
    }

    /// Asks the core what the controller needs; each answer goes back to the controller.
    fn run(&self, requests: Vec<Request>) {
        for request in requests {
            let core = self.core.clone();
            let this = self.this.clone();
            match request {
                Request::ReadToday => {
                    let (from, to) = local_day(clock::local_now());
                    let day = from.with_timezone(&Local).format("%Y-%m-%d").to_string();
                    self.controller.borrow_mut().reading_today(day);
                    self.render();
                    self.spawn("read today's ratings", async move {
                        let result = core.day_report(from, to).await;
                        Self::answer(&this, |_, c| {
                            c.today_read(result);
                            vec![]
                        });
                    });
                }
                Request::LookForUsb => {
                    let media = self.media.borrow().clone();
                    let today = clock::local_now().date_naive();
                    self.spawn("look for a USB stick", async move {
                        let result = core.default_export_path(media, today).await;
                        Self::answer(&this, |_, c| {
                            c.usb_looked(result);
                            vec![]
                        });
                    });
                }
                Request::ReadSettings => {
                    self.spawn("read the kiosk's settings", async move {
                        let result = core.settings().await;
                        Self::answer(&this, |_, c| {
                            c.settings_read(result);
                            vec![]
                        });
                    });
                }
                Request::SaveSettings { settings, merge } => {
                    self.spawn("save the settings", async move {
                        let settings = if merge {
                            match core.settings().await {
                                Ok(stored) => merged(&settings, stored),
                                Err(_) => settings,
                            }
                        } else {
                            settings
                        };
                        let result = core.save_settings(settings).await;
                        let in_force = core.config().borrow().clone();
                        Self::answer(&this, |_, c| c.settings_saved(result, &in_force));
                    });
                }
                Request::Enroll { url, code } => {
                    self.spawn("enroll", async move {
                        let result = core.enroll(url, code, None).await;
                        Self::answer(&this, |_, c| {
                            c.enrolled(result);
                            vec![]
                        });
                    });
                }
                Request::SetPin { role, pin } => {
                    self.spawn("save the PIN", async move {
                        let result = core.set_pin(role, pin).await;
                        Self::answer(&this, |_, c| {
                            c.pin_saved(role, result);
                            vec![]
                        });
                    });
                }
                Request::CompleteFirstDay { manager, barista } => {
                    self.spawn("save the first day's PINs", async move {
                        let result = core.complete_first_day(manager, barista).await;
                        Self::answer(&this, |_, c| c.first_day_saved(result));
                    });
                }
                Request::Export { path } => {
                    let (from, to) = local_day(clock::local_now());
                    self.spawn("export the ratings", async move {
                        let result = core.export_csv(path.clone(), from, to).await;
                        Self::answer(&this, |_, c| {
                            c.exported(&path, result);
                            vec![]
                        });
                    });
                }
                Request::SyncNow => self.core.sync_now(),
            }
        }
    }

    /// Copies the controller's view into the Slint global.
    fn render(&self) {
        let Some(app) = self.app.upgrade() else {
            return;
        };
        let m = app.global::<Manager>();
        let controller = self.controller.borrow();
        let v = controller.view();
        m.set_tab(match v.tab {
            Tab::Today => ManagerTab::Today,
            Tab::Sync => ManagerTab::Sync,
            Tab::Settings => ManagerTab::Settings,
            Tab::Export => ManagerTab::Export,
        });
        m.set_first_day(v.first_day);
        m.set_first_day_saved(v.first_day_saved);
        m.set_day(v.day.as_str().into());
        m.set_loading(v.loading);
        if let Some(report) = v.report.as_ref() {
            if self.drawn_report.replace(v.report_version) != v.report_version {
                show_report(&m, report, &self.core.config().borrow());
            }
        }
        m.set_today_problem(ui_problem(&v.today_problem));
        m.set_syncing(v.syncing);
        m.set_default_language(v.settings.default_language.as_str().into());
        m.set_idle_secs(v.settings.idle_secs);
        m.set_remember_me(v.settings.remember_me);
        m.set_settings_outcome(ui_outcome(v.settings_outcome));
        m.set_settings_problem(ui_problem(&v.settings_problem));
        m.set_enrolling_open(v.enrolling_open);
        m.set_enroll_url(v.enroll_url.as_str().into());
        m.set_enroll_code(v.enroll_code.as_str().into());
        m.set_enroll_outcome(ui_outcome(v.enroll_outcome));
        m.set_enroll_problem(ui_problem(&v.enroll_problem));
        m.set_pin_role(ui_role(v.pin_role));
        m.set_pin_step(v.pin_step);
        m.set_pin_length(v.pin_length);
        m.set_pin_problem(ui_problem(&v.pin_problem));
        m.set_pin_changed(ui_role(v.pin_changed));
        m.set_export_path(v.export_path.as_str().into());
        m.set_looking_for_usb(v.looking_for_usb);
        m.set_export_outcome(ui_outcome(v.export_outcome));
        m.set_export_rows(saturating_i32(v.export_rows));
        m.set_export_written(v.export_written.as_str().into());
        m.set_export_problem(ui_problem(&v.export_problem));
        m.set_export_detail(v.export_problem.detail.as_str().into());
        m.set_editing(match v.editing {
            Field::None => ManagerField::None,
            Field::HqUrl => ManagerField::HqUrl,
            Field::EnrollCode => ManagerField::EnrollCode,
            Field::ExportPath => ManagerField::ExportPath,
        });
    }

    // --- Live: sync, storage, configuration, ratings --------------------------------

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
        if self.controller.borrow_mut().sync_reported() {
            self.render();
        }
        let now = clock::local_now().with_timezone(&Local);
        self.with_manager(|m| {
            m.set_enrolled(status.enrolled);
            m.set_hq_url(status.hq_url.clone().unwrap_or_default().into());
            m.set_pending(saturating_i32(status.pending));
            m.set_quarantined(saturating_i32(status.quarantined));
            m.set_oldest_pending(when(status.oldest_pending, now).into());
            m.set_last_success(when(status.last_success, now).into());
            m.set_last_error(status.last_error.clone().unwrap_or_default().into());
            m.set_sync_problem(sync_problem(status));
            m.set_retrying(status.retrying);
        });
    }

    fn with_manager(&self, f: impl FnOnce(Manager<'_>)) {
        if let Some(app) = self.app.upgrade() {
            f(app.global::<Manager>());
        }
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
                        show_salvage(&m, alert.salvaged.as_ref());
                        m.set_store_full(alert.full);
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
                panel.controller.borrow_mut().config_changed(&config);
                panel.render();
            }
        });
    }

    /// Today's numbers follow every rating saved while the manager watches them.
    fn follow_ratings(&self) {
        let mut updates = self.core.rating_changes();
        updates.borrow_and_update();
        let this = self.this.clone();
        self.spawn("follow new ratings", async move {
            while updates.changed().await.is_ok() {
                updates.borrow_and_update();
                let Some(panel) = this.upgrade() else { break };
                let request = panel.controller.borrow_mut().rating_saved();
                panel.run(request.into_iter().collect());
            }
        });
    }
}

fn tab_of(tab: ManagerTab) -> Tab {
    match tab {
        ManagerTab::Today => Tab::Today,
        ManagerTab::Sync => Tab::Sync,
        ManagerTab::Settings => Tab::Settings,
        ManagerTab::Export => Tab::Export,
    }
}

fn field_of(field: ManagerField) -> Field {
    match field {
        ManagerField::None => Field::None,
        ManagerField::HqUrl => Field::HqUrl,
        ManagerField::EnrollCode => Field::EnrollCode,
        ManagerField::ExportPath => Field::ExportPath,
    }
}

fn ui_outcome(outcome: controller::Outcome) -> Outcome {
    match outcome {
        controller::Outcome::Idle => Outcome::Idle,
        controller::Outcome::Working => Outcome::Working,
        controller::Outcome::Done => Outcome::Done,
        controller::Outcome::Failed => Outcome::Failed,
    }
}

fn ui_problem(said: &Said) -> UiProblem {
    match said.problem {
        Problem::None => UiProblem::None,
        Problem::PinFormat => UiProblem::PinFormat,
        Problem::PinWeak => UiProblem::PinWeak,
        Problem::PinTaken => UiProblem::PinTaken,
        Problem::PinsEqual => UiProblem::PinsEqual,
        Problem::PinMismatch => UiProblem::PinMismatch,
        Problem::LanguageNotOffered => UiProblem::LanguageNotOffered,
        Problem::IdleOutOfRange => UiProblem::IdleOutOfRange,
        Problem::EnrollIncomplete => UiProblem::EnrollIncomplete,
        Problem::NotAnHqAddress => UiProblem::NotAnHqAddress,
        Problem::CodeRefused => UiProblem::CodeRefused,
        Problem::HqUnreachable => UiProblem::HqUnreachable,
        Problem::HqFailed => UiProblem::HqFailed,
        Problem::ExportNoFileName => UiProblem::ExportNoFileName,
        Problem::ExportFolderMissing => UiProblem::ExportFolderMissing,
        Problem::ExportNotAllowed => UiProblem::ExportNotAllowed,
        Problem::ExportFailed => UiProblem::ExportFailed,
        Problem::Storage => UiProblem::Storage,
        Problem::Unexpected => UiProblem::Unexpected,
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
pub(crate) fn show_summary(m: &Manager<'_>, summary: &Summary, scale: Scale) {
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

/// The sync tab's words for why sync failed.
fn sync_problem(status: &crate::sync::SyncStatus) -> SyncProblem {
    use crate::sync::SyncProblem as P;
    match status.problem {
        Some(P::Unreachable) => SyncProblem::Unreachable,
        Some(P::Certificate) => SyncProblem::Certificate,
        Some(P::Refused) => SyncProblem::Refused,
        Some(P::Server) => SyncProblem::Server,
        Some(P::Unreadable) => SyncProblem::Unreadable,
        Some(P::Setup) => SyncProblem::Setup,
        Some(P::Storage) => SyncProblem::Storage,
        // A failure recorded before this start: its kind was not kept.
        None if status.last_error.is_some() => SyncProblem::Earlier,
        None => SyncProblem::None,
    }
}

/// What a salvage recovered, for the sync tab to word.
fn show_salvage(m: &Manager<'_>, salvage: Option<&crate::store::Salvage>) {
    m.set_salvaged(salvage.is_some());
    let Some(s) = salvage else { return };
    m.set_salvage_events(saturating_i32(s.unsynced_events));
    m.set_salvage_ratings(saturating_i32(s.ratings));
    m.set_salvage_regulars(saturating_i32(s.regulars));
    m.set_salvage_kept_as(
        s.kept_as
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into(),
    );
    m.set_salvage_enrollment_lost(!s.enrollment_kept);
    m.set_salvage_losses(s.losses.join(", ").into());
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
}
