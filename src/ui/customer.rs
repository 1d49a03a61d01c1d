//! The customer's path through the kiosk: welcome → tap a face → "what stood out?" →
//! comment → thank you → welcome again, with the idle reset that keeps the next customer
//! from ever seeing the previous one's choices.
//!
//! When the survey asks the NPS question, the follow-up shows it as a 0–10 row the customer
//! may leave alone; the answer goes with the rating's details. After one of the two lowest
//! faces the kiosk apologises, and offers "remember me" only if the survey says so
//! (`remember_me.offer_after_unhappy`).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use slint::{ComponentHandle, ModelRc, SharedString, Timer, TimerMode, VecModel};
use uuid::Uuid;

use super::{language, App, Chip, Face, Kiosk, Screen};
use crate::config::{KioskConfig, ReasonChip};
use crate::core::{Core, Tap};
use crate::feedback::{self, Comment, Details, Nps, Scale, Score, Sentiment};

/// What one customer has given so far. Cleared when they are done or walk away.
#[derive(Default)]
struct Session {
    rating: Option<Uuid>,
    /// The face they tapped, once its rating is on disk.
    score: Option<Score>,
    chips: Vec<ReasonChip>,
    selected: Vec<bool>,
    comment: String,
    /// Their answer to the NPS question, if they gave one.
    nps: Option<Nps>,
    language: String,
}

impl Session {
    fn details(&self) -> Details {
        Details {
            reasons: self
                .chips
                .iter()
                .zip(&self.selected)
                .filter(|(_, on)| **on)
                .map(|(chip, _)| chip.slug.clone())
                .collect(),
            comment: Comment::typed(&self.comment),
            nps: self.nps,
        }
    }
}

/// Drives the customer screens of one [`App`].
pub struct CustomerFlow {
    app: slint::Weak<App>,
    core: Core,
    config: RefCell<KioskConfig>,
    session: RefCell<Session>,
    idle: Timer,
    thanks: Timer,
    /// The last customer's rating, and whether it was unhappy, until the next reset: a
    /// regular who joins or identifies after rating gets it as this visit's rating.
    visit_rating: Cell<Option<(Uuid, bool)>>,
    /// What follows "Done": the "remember me" offer, when one is installed and enabled.
    after_feedback: RefCell<Option<Box<dyn Fn() -> bool>>>,
    /// Called on every reset, so other flows forget the last customer too.
    on_reset: RefCell<Vec<Box<dyn Fn()>>>,
    this: Weak<CustomerFlow>,
}

impl CustomerFlow {
    /// Connects the customer screens of `app` to the core, and shows the welcome screen.
    /// The configuration is the core's: the local one, or HQ's survey once it sent one,
    /// and it follows HQ's changes live.
    pub fn install(app: &App, core: Core) -> Rc<CustomerFlow> {
        let mut updates = core.config();
        let config = updates.borrow_and_update().clone();
        let flow = Rc::new_cyclic(|this| CustomerFlow {
            app: app.as_weak(),
            core,
            config: RefCell::new(config),
            session: RefCell::default(),
            idle: Timer::default(),
            thanks: Timer::default(),
            visit_rating: Cell::new(None),
            after_feedback: RefCell::new(None),
            on_reset: RefCell::default(),
            this: this.clone(),
        });
        let kiosk = app.global::<Kiosk>();
        let with = |f: fn(&CustomerFlow)| super::while_alive(&flow, f);
        kiosk.on_open_comment(with(|f| f.show(Screen::Comment)));
        kiosk.on_close_comment(with(|f| f.show(Screen::FollowUp)));
        kiosk.on_backspace(with(CustomerFlow::backspace));
        kiosk.on_done(with(CustomerFlow::done));
        kiosk.on_next_language(with(CustomerFlow::next_language));
        kiosk.on_activity(with(CustomerFlow::activity));
        let weak = Rc::downgrade(&flow);
        kiosk.on_rate(move |score| {
            if let Some(flow) = weak.upgrade() {
                flow.rate(score);
            }
        });
        let weak = Rc::downgrade(&flow);
        kiosk.on_pick_nps(move |answer| {
            if let Some(flow) = weak.upgrade() {
                flow.pick_nps(answer);
            }
        });
        let weak = Rc::downgrade(&flow);
        kiosk.on_toggle_chip(move |index| {
            if let Some(flow) = weak.upgrade() {
                flow.toggle_chip(index);
            }
        });
        let weak = Rc::downgrade(&flow);
        kiosk.on_type_key(move |text| {
            if let Some(flow) = weak.upgrade() {
                flow.type_key(&text);
            }
        });
        let weak = Rc::downgrade(&flow);
        let followed = slint::spawn_local(async move {
            while updates.changed().await.is_ok() {
                let config = updates.borrow_and_update().clone();
                match weak.upgrade() {
                    Some(flow) => flow.update_config(config),
                    None => break,
                }
            }
        });
        if let Err(e) = followed {
            tracing::warn!("survey changes from HQ will apply after a restart: {e}");
        }
        // Storage trouble (a salvaged database, a full disk) raises the red mark for staff.
        let mut alerts = flow.core.store_alert();
        let weak = Rc::downgrade(&flow);
        let followed = slint::spawn_local(async move {
            loop {
                let raised = alerts.borrow_and_update().is_raised();
                match weak.upgrade() {
                    Some(flow) => flow.with_kiosk(|k| k.set_store_alert(raised)),
                    None => break,
                }
                if alerts.changed().await.is_err() {
                    break;
                }
            }
        });
        if let Err(e) = followed {
            tracing::error!("storage trouble will not show to staff: {e}");
        }
        flow.reset();
        flow
    }

    /// A new survey from HQ: shown at once on the welcome screen, otherwise from the next
    /// customer on. A customer mid-way keeps the chips they were offered.
    fn update_config(&self, config: KioskConfig) {
        *self.config.borrow_mut() = config;
        let mut on_welcome = false;
        self.with_kiosk(|k| on_welcome = k.get_screen() == Screen::Welcome && !k.get_busy());
        if on_welcome {
            self.reset();
        }
    }

    fn with_kiosk(&self, f: impl FnOnce(Kiosk<'_>)) {
        if let Some(app) = self.app.upgrade() {
            f(app.global::<Kiosk>());
        }
    }

    fn show(&self, screen: Screen) {
        self.with_kiosk(|k| k.set_screen(screen));
    }

    /// A touch anywhere: the idle reset starts counting again.
    fn activity(&self) {
        let this = self.this.clone();
        let timeout = self.config.borrow().idle_timeout();
        self.idle.start(TimerMode::SingleShot, timeout, move || {
            if let Some(flow) = this.upgrade() {
                flow.walked_away();
            }
        });
    }

    fn rate(&self, score: i32) {
        let (tap, chips) = {
            let config = self.config.borrow();
            let score = match Score::new(score.into(), config.survey.scale) {
                Ok(score) => score,
                Err(e) => {
                    tracing::warn!("ignored a tap: {e}");
                    return;
                }
            };
            let tap = Tap {
                score,
                touchpoint: config.survey.touchpoint.clone(),
                survey_version: config.survey.version,
            };
            (tap, config.survey.chips_for(Sentiment::of(score)).to_vec())
        };
        let mut busy = false;
        self.with_kiosk(|k| {
            busy = k.get_busy();
            k.set_busy(true);
        });
        if busy {
            return;
        }
        self.activity();
        let score = tap.score;
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let result = core.rate(tap).await;
            if let Some(flow) = this.upgrade() {
                match result {
                    Ok(rated) => {
                        flow.visit_rating
                            .set(Some((rated.recorded.id, score.is_unhappy())));
                        flow.rated(rated.recorded.id, score, chips)
                    }
                    Err(_) => flow.save_failed(),
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the tap to the core: {e}");
            self.with_kiosk(|k| k.set_busy(false));
        }
    }

    /// The tap is on disk: ask what stood out.
    fn rated(&self, rating: Uuid, score: Score, chips: Vec<ReasonChip>) {
        {
            let mut session = self.session.borrow_mut();
            session.rating = Some(rating);
            session.score = Some(score);
            session.selected = vec![false; chips.len()];
            session.chips = chips;
        }
        self.with_kiosk(|k| {
            k.set_busy(false);
            k.set_save_failed(false);
            k.set_happy(Sentiment::of(score) == Sentiment::Happy);
            k.set_apologise(score.is_unhappy());
            k.set_screen(Screen::FollowUp);
        });
        self.refresh_chips();
    }

    /// The tap could not be saved. The customer is thanked all the same, never stuck; the
    /// failure shows as a staff-visible mark.
    fn save_failed(&self) {
        self.with_kiosk(|k| {
            k.set_busy(false);
            k.set_save_failed(true);
        });
        self.thank_and_return();
    }

    fn toggle_chip(&self, index: i32) {
        {
            let mut session = self.session.borrow_mut();
            match usize::try_from(index)
                .ok()
                .and_then(|i| session.selected.get_mut(i))
            {
                Some(on) => *on = !*on,
                None => return,
            }
        }
        self.refresh_chips();
    }

    /// A tap on the NPS row: picks that answer, or clears it when tapped again.
    fn pick_nps(&self, answer: i32) {
        let Ok(picked) = Nps::new(answer.into()) else {
            return;
        };
        let nps = {
            let mut session = self.session.borrow_mut();
            session.nps = (session.nps != Some(picked)).then_some(picked);
            session.nps
        };
        self.with_kiosk(|k| k.set_nps(nps.map_or(-1, |n| i32::from(n.value()))));
    }

    fn type_key(&self, key: &str) {
        let telex = self
            .app
            .upgrade()
            .is_some_and(|app| app.global::<Kiosk>().get_telex());
        let comment = {
            let mut session = self.session.borrow_mut();
            session.comment = feedback::type_into_comment(&session.comment, key, telex);
            session.comment.clone()
        };
        self.with_kiosk(|k| k.set_comment(comment.into()));
    }

    fn backspace(&self) {
        let comment = {
            let mut session = self.session.borrow_mut();
            session.comment = feedback::backspace_comment(&session.comment);
            session.comment.clone()
        };
        self.with_kiosk(|k| k.set_comment(comment.into()));
    }

    fn done(&self) {
        self.save_details();
        // After an unhappy face the survey decides whether "remember me" follows at all.
        let score = self.session.borrow().score;
        let may_offer =
            score.is_none_or(|s| self.config.borrow().survey.remember_me.offered_after(s));
        let offered = may_offer
            && self
                .after_feedback
                .borrow()
                .as_ref()
                .is_some_and(|offer| offer());
        if !offered {
            self.thank_and_return();
        }
    }

    /// Sets what follows "Done"; it returns false to thank the customer straight away.
    pub fn set_after_feedback(&self, offer: impl Fn() -> bool + 'static) {
        *self.after_feedback.borrow_mut() = Some(Box::new(offer));
    }

    /// Registers `f` to run on every reset.
    pub fn on_reset(&self, f: impl Fn() + 'static) {
        self.on_reset.borrow_mut().push(Box::new(f));
    }

    /// The rating of the customer at the kiosk, and whether it was unhappy.
    pub fn visit_rating(&self) -> Option<(Uuid, bool)> {
        self.visit_rating.get()
    }

    /// Stops the customer timers while staff use the kiosk.
    pub fn suspend(&self) {
        self.idle.stop();
        self.thanks.stop();
    }

    /// A touch on a customer screen that this flow does not own (the remember-me form).
    pub fn touched(&self) {
        self.activity();
    }

    /// Nobody touched the screen for the idle timeout: keep what was given, start over.
    fn walked_away(&self) {
        self.save_details();
        self.reset();
    }

    /// Sends the session's reasons and comment to the core, attached to its rating.
    fn save_details(&self) {
        let (rating, details) = {
            let mut session = self.session.borrow_mut();
            let details = session.details();
            (session.rating.take(), details)
        };
        let Some(rating) = rating else { return };
        if details.is_empty() {
            return;
        }
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            if core.attach_details(rating, details).await.is_err() {
                if let Some(flow) = this.upgrade() {
                    flow.with_kiosk(|k| k.set_save_failed(true));
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the reasons to the core: {e}");
        }
    }

    /// Thanks the customer, then back to the welcome screen.
    pub fn thank_and_return(&self) {
        self.show(Screen::ThankYou);
        self.idle.stop();
        let this = self.this.clone();
        let timeout = self.config.borrow().thank_you_timeout();
        self.thanks.start(TimerMode::SingleShot, timeout, move || {
            if let Some(flow) = this.upgrade() {
                flow.reset();
            }
        });
    }

    /// Back to the welcome screen, in the default language, with nothing of the last
    /// customer left on screen.
    pub fn reset(&self) {
        self.idle.stop();
        self.thanks.stop();
        self.visit_rating.set(None);
        for f in self.on_reset.borrow().iter() {
            f();
        }
        let default_language = self.config.borrow().languages.default.clone();
        *self.session.borrow_mut() = Session {
            language: default_language,
            ..Session::default()
        };
        let faces = face_models(self.config.borrow().survey.scale);
        let shop = self.config.borrow().shop_name.clone();
        self.with_kiosk(|k| {
            k.set_faces(faces);
            k.set_shop_name(shop.into());
            k.set_comment(SharedString::new());
            k.set_nps(-1);
            k.set_apologise(false);
            k.set_chips(ModelRc::default());
            k.set_busy(false);
            k.set_screen(Screen::Welcome);
        });
        self.apply_language();
    }

    fn next_language(&self) {
        {
            let config = self.config.borrow();
            let mut session = self.session.borrow_mut();
            session.language =
                language::next(&config.languages.available, &session.language).into();
        }
        self.apply_language();
    }

    /// Shows every text in the session's language: the UI strings and the survey's own.
    fn apply_language(&self) {
        let lang = self.session.borrow().language.clone();
        language::select(&lang);
        let (question, nps_question, next_name) = {
            let config = self.config.borrow();
            let fallback = &config.languages.default;
            (
                config.survey.question_in(&lang, fallback).to_owned(),
                config
                    .survey
                    .nps_question_in(&lang, fallback)
                    .unwrap_or_default()
                    .to_owned(),
                language::native_name(language::next(&config.languages.available, &lang)),
            )
        };
        self.with_kiosk(|k| {
            k.set_question(question.into());
            k.set_nps_question(nps_question.into());
            k.set_next_language_name(next_name.into());
            // Vietnamese types with Telex, English as spelt; the keyboard's key changes it.
            k.set_telex(crate::telex::is_default_for(&lang));
        });
        self.refresh_chips();
    }

    fn refresh_chips(&self) {
        let chips: Vec<Chip> = {
            let config = self.config.borrow();
            let session = self.session.borrow();
            chip_models(
                &session.chips,
                &session.selected,
                &session.language,
                &config.languages.default,
            )
        };
        self.with_kiosk(|k| k.set_chips(ModelRc::new(VecModel::from(chips))));
    }

    /// The language the customer is using now.
    pub fn language(&self) -> String {
        self.session.borrow().language.clone()
    }
}

/// The faces of a scale, worst first, each with the mood it is drawn with.
pub(crate) fn face_models(scale: Scale) -> ModelRc<Face> {
    let faces: Vec<Face> = scale
        .moods()
        .iter()
        .enumerate()
        .map(|(i, mood)| Face {
            score: i as i32 + 1,
            mood: i32::from(*mood),
        })
        .collect();
    ModelRc::new(VecModel::from(faces))
}

/// The chips as the screen shows them, labelled in `lang`.
pub(crate) fn chip_models(
    chips: &[ReasonChip],
    selected: &[bool],
    lang: &str,
    fallback: &str,
) -> Vec<Chip> {
    chips
        .iter()
        .enumerate()
        .map(|(i, chip)| Chip {
            id: chip.slug.as_str().into(),
            label: chip.label_in(lang, fallback).into(),
            selected: selected.get(i).copied().unwrap_or(false),
        })
        .collect()
}
