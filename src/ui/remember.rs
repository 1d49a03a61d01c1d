//! "Remember me": after the feedback, a customer may ask the shop to remember them (a
//! name, a phone number, the usual order, with recorded consent), or find their own record
//! to count this visit, change it, or have it forgotten. Staff use the same form to edit
//! a record on a customer's request.
//!
//! Nothing is saved without the consent tick; dietary notes need their own tick. Personal
//! fields live in this form only until it is saved or abandoned, and are never logged.
//!
//! # A phone number alone opens nothing
//! Anyone may know a regular's phone number, so "I'm already a regular" asks for a second
//! proof before it shows anything:
//! - **The personal code.** Joining with a phone number asks for a 4-digit code, kept only
//!   as a salted argon2id hash inside the profile, so it works at every store that sees
//!   the regular. The phone number and the code together open the record; a wrong number
//!   and a wrong code get the same answer, so a stranger does not even learn whether a
//!   number belongs to a regular (a first name would tell them that much, so none shows).
//! - **A barista's PIN.** "Ask our staff" lets a barista at the counter vouch for the
//!   customer with their PIN (the staff pad's own check and lockout). This is the way in
//!   for regulars who joined before codes existed, or forgot theirs; their "Change my
//!   details" then asks them to choose a code.
//!
//! Once open, the record can count this visit, be changed, or be erased. Erasure takes
//! the phone number, the code and two taps: fewer steps than joining took. Staff can also
//! erase from the barista screen.
//!
//! Guessing is throttled per kiosk ([`GuessThrottle`]): from the fifth wrong phone number
//! and code in a row, the code pad locks for 30 s, doubling with each further miss up to
//! 15 minutes, with the wait on screen; a right code does not clear the count (a stranger
//! could otherwise clear it with their own), an hour without a miss does. The count lives
//! in memory: a restart clears it, which costs a guesser a reboot per lockout. Time runs on
//! Slint timers, which the UI tests mock.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use countertop_protocol::regular::PHONE_DIGITS as PHONE_DIGITS_RANGE;
use countertop_protocol::{Menu, MenuOption, ReasonSlug, UsualOrder};
use slint::{ComponentHandle, ModelRc, SharedString, Timer, TimerMode, VecModel};
use uuid::Uuid;

use super::{App, Choice, CustomerFlow, FormProblem, Kiosk, Remember, Screen};
use crate::core::{Core, CoreError, OwnRecord, Proof};
use crate::regulars::{RegularCard, RegularEdit};

/// Longest name, note and dietary note the keys will type.
const NAME_LIMIT: usize = countertop_protocol::regular::MAX_NAME_CHARS;
const NOTE_LIMIT: usize = countertop_protocol::regular::MAX_NOTE_CHARS;
const MAX_EXTRAS: usize = countertop_protocol::regular::MAX_EXTRAS;

/// The form's steps, as `Remember.step` numbers them.
const STEP_NAME: i32 = 0;
const STEP_PHONE: i32 = 1;
const STEP_USUAL: i32 = 2;
const STEP_EXTRAS: i32 = 3;
const STEP_NOTE: i32 = 4;
const STEP_CONSENT: i32 = 5;
const STEP_DIETARY: i32 = 6;
/// Choosing a personal code, after a phone number (numbered last so the others keep theirs).
const STEP_CODE: i32 = 7;

/// The find screen's steps, as `Remember.find-step` numbers them.
const FIND_PHONE: i32 = 0;
const FIND_CODE: i32 = 1;
const FIND_STAFF: i32 = 2;

/// Digits in a personal code, and the most a staff PIN has.
const CODE_DIGITS: usize = crate::store::CODE_DIGITS;
const MAX_PIN_DIGITS: usize = 8;

/// What the form holds while it is filled in.
#[derive(Default)]
struct Form {
    id: Option<Uuid>,
    step: i32,
    name: String,
    phone: String,
    note: String,
    dietary: String,
    item: Option<usize>,
    size: Option<usize>,
    milk: Option<usize>,
    extras: Vec<bool>,
    consent: bool,
    dietary_consent: bool,
    /// Staff edit on the customer's behalf: the consent given stays as it was.
    by_staff: bool,
    /// The consent version of the record staff edit, kept as it was.
    kept_consent_version: Option<u32>,
    language: String,
    /// On the "find my details" screen: the keys type the phone number to find.
    finding: bool,
    /// The phone number typed to find one's own record, and what it opened.
    lookup: String,
    found: Option<RegularCard>,
    /// A new personal code typed in the form (empty keeps the one the record has).
    code: String,
    /// Whether the record being edited has a personal code already.
    has_code: bool,
    /// The find screen's step, and the code or staff PIN typed on it.
    find_step: i32,
    proof: String,
}

/// Where a staff edit returns: the saved card, or `None` when cancelled.
type StaffReturn = Box<dyn Fn(Option<RegularCard>)>;

/// Drives the remember-me screens of one [`App`].
pub struct RememberFlow {
    app: slint::Weak<App>,
    core: Core,
    customer: Rc<CustomerFlow>,
    form: RefCell<Form>,
    staff_return: RefCell<Option<StaffReturn>>,
    staff_touch: RefCell<Option<Box<dyn Fn()>>>,
    /// Wrong phone numbers and codes on this kiosk, whoever typed them.
    guesses: RefCell<GuessThrottle>,
    /// Runs the throttle's clock, once a second while it has anything to count.
    guess_tick: Timer,
    this: Weak<RememberFlow>,
}

impl RememberFlow {
    /// Connects the remember-me screens, and offers them after each customer's feedback
    /// while the configuration has "remember me" on.
    pub fn install(app: &App, core: Core, customer: Rc<CustomerFlow>) -> Rc<RememberFlow> {
        let flow = Rc::new_cyclic(|this| RememberFlow {
            app: app.as_weak(),
            core,
            customer: customer.clone(),
            form: RefCell::default(),
            staff_return: RefCell::new(None),
            staff_touch: RefCell::new(None),
            guesses: RefCell::default(),
            guess_tick: Timer::default(),
            this: this.clone(),
        });
        let weak = Rc::downgrade(&flow);
        customer.set_after_feedback(move || weak.upgrade().is_some_and(|f| f.offer()));
        let weak = Rc::downgrade(&flow);
        customer.on_reset(move || {
            if let Some(flow) = weak.upgrade() {
                flow.clear();
            }
        });

        let r = app.global::<Remember>();
        let with = |f: fn(&RememberFlow)| super::while_alive(&flow, f);
        r.on_touched(with(RememberFlow::touched));
        r.on_accept(with(RememberFlow::accept));
        r.on_decline(with(|f| f.customer.thank_and_return()));
        r.on_find_mine(with(RememberFlow::find_mine));
        r.on_next(with(RememberFlow::next));
        r.on_back(with(RememberFlow::back));
        r.on_save(with(RememberFlow::save));
        r.on_backspace(with(RememberFlow::backspace));
        r.on_clear_field(with(RememberFlow::clear_field));
        r.on_toggle_consent(with(|f| f.edit(|form| form.consent = !form.consent)));
        r.on_toggle_dietary_consent(with(|f| {
            f.edit(|form| form.dietary_consent = !form.dietary_consent)
        }));
        r.on_count_visit(with(RememberFlow::count_visit));
        r.on_change_mine(with(RememberFlow::change_mine));
        r.on_forget_me(with(|f| f.with_remember(|r| r.set_confirm_forget(true))));
        r.on_forget_confirmed(with(RememberFlow::forget));
        r.on_cancel(with(RememberFlow::cancel));
        r.on_code_backspace(with(RememberFlow::code_backspace));
        r.on_code_clear(with(RememberFlow::code_clear));
        r.on_find_next(with(RememberFlow::find_next));
        r.on_ask_staff(with(RememberFlow::ask_staff));
        r.on_find_back(with(RememberFlow::find_back));
        r.on_open_mine(with(RememberFlow::open_mine));
        let weak = Rc::downgrade(&flow);
        r.on_code_digit(move |text| {
            if let Some(flow) = weak.upgrade() {
                flow.code_digit(&text);
            }
        });
        let weak = Rc::downgrade(&flow);
        r.on_type_key(move |text| {
            if let Some(flow) = weak.upgrade() {
                flow.type_key(&text);
            }
        });
        let weak = Rc::downgrade(&flow);
        r.on_choose(move |group, index| {
            if let Some(flow) = weak.upgrade() {
                flow.choose(group, index);
            }
        });
        flow
    }

    fn with_remember(&self, f: impl FnOnce(Remember<'_>)) {
        if let Some(app) = self.app.upgrade() {
            f(app.global::<Remember>());
        }
    }

    fn show(&self, screen: Screen) {
        if let Some(app) = self.app.upgrade() {
            app.global::<Kiosk>().set_screen(screen);
        }
    }

    fn menu(&self) -> countertop_protocol::RememberMe {
        self.core.config().borrow().survey.remember_me.clone()
    }

    /// After "Done": offers to remember the customer, if the shop has it on.
    fn offer(&self) -> bool {
        if !self.menu().enabled {
            return false;
        }
        self.clear();
        self.show(Screen::RememberOffer);
        true
    }

    fn touched(&self) {
        if self.form.borrow().by_staff {
            if let Some(touch) = self.staff_touch.borrow().as_ref() {
                touch();
            }
        } else {
            self.customer.touched();
        }
    }

    /// Forgets everything typed: the next customer starts from an empty form.
    fn clear(&self) {
        *self.form.borrow_mut() = Form::default();
        *self.staff_return.borrow_mut() = None;
        self.publish();
    }

    /// Changes the form and shows it.
    fn edit(&self, change: impl FnOnce(&mut Form)) {
        change(&mut self.form.borrow_mut());
        self.with_remember(|r| r.set_problem(FormProblem::None));
        self.publish();
    }

    fn accept(&self) {
        let language = self.customer.language();
        *self.form.borrow_mut() = Form {
            language,
            ..Form::default()
        };
        self.publish();
        self.show(Screen::RememberForm);
    }

    fn find_mine(&self) {
        let language = self.customer.language();
        *self.form.borrow_mut() = Form {
            language,
            finding: true,
            ..Form::default()
        };
        self.publish();
        self.publish_guesses();
        self.show(Screen::RememberFind);
    }

    /// Staff open `card` in the form, on the customer's request; `done` runs when the form
    /// closes, with the saved card or `None`. `touch` keeps staff mode awake.
    pub fn edit_for_staff(
        &self,
        card: &RegularCard,
        language: String,
        touch: impl Fn() + 'static,
        done: impl Fn(Option<RegularCard>) + 'static,
    ) {
        let mut form = self.form_from(card, language);
        form.by_staff = true;
        form.consent = true;
        form.kept_consent_version = Some(card.regular.consent().version);
        *self.form.borrow_mut() = form;
        *self.staff_return.borrow_mut() = Some(Box::new(done));
        *self.staff_touch.borrow_mut() = Some(Box::new(touch));
        self.publish();
        self.show(Screen::RememberForm);
    }

    /// A form filled from a stored record.
    fn form_from(&self, card: &RegularCard, language: String) -> Form {
        let menu = self.menu().menu;
        let regular = &card.regular;
        let usual = regular.usual();
        let position = |options: &[MenuOption], slug: &Option<ReasonSlug>| {
            slug.as_ref()
                .and_then(|s| options.iter().position(|o| &o.slug == s))
        };
        Form {
            id: Some(regular.id()),
            name: regular.name().to_owned(),
            phone: regular.phone().unwrap_or_default().to_owned(),
            note: usual.note.clone().unwrap_or_default(),
            dietary: regular.dietary().unwrap_or_default().to_owned(),
            item: position(&menu.items, &usual.item),
            size: position(&menu.sizes, &usual.size),
            milk: position(&menu.milks, &usual.milk),
            extras: menu
                .extras
                .iter()
                .map(|o| usual.extras.contains(&o.slug))
                .collect(),
            dietary_consent: regular.consent().dietary_given_at.is_some(),
            has_code: regular.code_hash().is_some(),
            language,
            ..Form::default()
        }
    }

    fn type_key(&self, key: &str) {
        let telex = self
            .app
            .upgrade()
            .is_some_and(|app| app.global::<Kiosk>().get_telex());
        self.edit(|form| {
            if form.finding {
                if form.lookup.len() < *PHONE_DIGITS_RANGE.end() {
                    form.lookup.push_str(&digits_of(key));
                }
                return;
            }
            let (field, limit) = match form.step {
                STEP_NAME => (&mut form.name, NAME_LIMIT),
                STEP_PHONE => {
                    if form.phone.len() < *PHONE_DIGITS_RANGE.end() {
                        form.phone.push_str(&digits_of(key));
                    }
                    return;
                }
                STEP_NOTE => (&mut form.note, NOTE_LIMIT),
                STEP_DIETARY => (&mut form.dietary, NOTE_LIMIT),
                _ => return,
            };
            // A name starts without spaces; nothing goes past the limit. Vietnamese letters
            // compose as the customer types them ("Phuowngj" → "Phượng").
            if field.is_empty() && key.trim().is_empty() {
                return;
            }
            let typed = crate::telex::type_key(field, key, telex);
            if typed.chars().count() <= limit {
                *field = typed;
            }
        });
    }

    fn backspace(&self) {
        self.edit(|form| {
            if form.finding {
                form.lookup.pop();
                return;
            }
            // A composed letter ("ệ") goes with one press.
            let field = match form.step {
                STEP_NAME => &mut form.name,
                STEP_PHONE => &mut form.phone,
                STEP_NOTE => &mut form.note,
                STEP_DIETARY => &mut form.dietary,
                _ => return,
            };
            *field = crate::telex::backspace(field);
        });
    }

    fn clear_field(&self) {
        self.edit(|form| {
            if form.step == STEP_PHONE {
                form.phone.clear();
            }
            form.lookup.clear();
        });
    }

    fn choose(&self, group: i32, index: i32) {
        let Ok(index) = usize::try_from(index) else {
            return;
        };
        let extras = self.menu().menu.extras.len();
        self.edit(|form| {
            let single = |slot: &mut Option<usize>| {
                *slot = if *slot == Some(index) {
                    None
                } else {
                    Some(index)
                }
            };
            match group {
                0 => single(&mut form.item),
                1 => single(&mut form.size),
                2 => single(&mut form.milk),
                3 if index < extras => {
                    form.extras.resize(extras, false);
                    let on = form.extras.iter().filter(|on| **on).count();
                    if form.extras[index] || on < MAX_EXTRAS {
                        form.extras[index] = !form.extras[index];
                    }
                }
                _ => {}
            }
        });
    }

    fn next(&self) {
        let problem = {
            let mut form = self.form.borrow_mut();
            match form.step {
                STEP_NAME if form.name.trim().is_empty() => None,
                STEP_PHONE
                    if !form.phone.is_empty()
                        && !PHONE_DIGITS_RANGE.contains(&form.phone.len()) =>
                {
                    Some(FormProblem::PhoneTooShort)
                }
                STEP_PHONE if !form.phone.is_empty() => {
                    form.step = STEP_CODE;
                    None
                }
                STEP_CODE if !code_acceptable(&form) => Some(FormProblem::CodeTooShort),
                STEP_CODE => {
                    form.step = STEP_USUAL;
                    None
                }
                STEP_NAME | STEP_PHONE | STEP_USUAL | STEP_EXTRAS => {
                    form.step += 1;
                    None
                }
                STEP_NOTE if !form.by_staff => {
                    form.step = STEP_CONSENT;
                    None
                }
                _ => None,
            }
        };
        self.publish();
        self.with_remember(|r| r.set_problem(problem.unwrap_or(FormProblem::None)));
    }

    fn back(&self) {
        let step = self.form.borrow().step;
        if step == STEP_NAME {
            self.cancel_form();
            return;
        }
        self.edit(|form| {
            form.step = match form.step {
                STEP_CODE => STEP_PHONE,
                STEP_USUAL if !form.phone.is_empty() => STEP_CODE,
                step => step - 1,
            }
        });
    }

    /// Leaves the form without saving anything.
    fn cancel_form(&self) {
        let staff = self.staff_return.borrow_mut().take();
        *self.form.borrow_mut() = Form::default();
        self.publish();
        match staff {
            Some(done) => done(None),
            None => self.show(Screen::RememberOffer),
        }
    }

    fn save(&self) {
        let edit = {
            let mut form = self.form.borrow_mut();
            if form.step == STEP_CONSENT && form.dietary_consent {
                // The dietary note has its own step, after its own consent.
                form.step = STEP_DIETARY;
                drop(form);
                self.publish();
                return;
            }
            if !form.consent {
                return;
            }
            self.edit_from(&form)
        };
        self.with_remember(|r| r.set_saving(true));
        let core = self.core.clone();
        let this = self.this.clone();
        let visit = self.customer.visit_rating();
        let by_staff = self.form.borrow().by_staff;
        let spawned = slint::spawn_local(async move {
            let saved = core.save_regular(edit).await;
            if let (Ok(card), false) = (&saved, by_staff) {
                // The customer is here: this is a visit, with the rating just given.
                if let Err(e) = core.log_visit(card.regular.id(), visit).await {
                    tracing::warn!("cannot log a visit for a new regular: {e}");
                }
            }
            if let Some(flow) = this.upgrade() {
                flow.saved(saved);
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the regular to the core: {e}");
            self.with_remember(|r| r.set_saving(false));
        }
    }

    /// The edit the form describes, for the core to stamp and store.
    fn edit_from(&self, form: &Form) -> RegularEdit {
        let config = self.menu();
        let menu = &config.menu;
        let slug = |options: &[MenuOption], at: Option<usize>| {
            at.and_then(|i| options.get(i)).map(|o| o.slug.clone())
        };
        let usual = UsualOrder {
            item: slug(&menu.items, form.item),
            size: slug(&menu.sizes, form.size),
            milk: slug(&menu.milks, form.milk),
            extras: menu
                .extras
                .iter()
                .zip(&form.extras)
                .filter(|(_, on)| **on)
                .map(|(o, _)| o.slug.clone())
                .collect(),
            note: non_empty(&form.note),
        };
        RegularEdit {
            id: form.id,
            name: form.name.trim().to_owned(),
            phone: non_empty(&form.phone),
            usual,
            dietary: if form.dietary_consent {
                non_empty(&form.dietary)
            } else {
                None
            },
            consent_version: form.kept_consent_version.unwrap_or(config.consent_version),
            dietary_consent: form.dietary_consent,
            // Without a phone number no one can find the record by it: no code then.
            code: (!form.code.is_empty() && !form.phone.is_empty()).then(|| form.code.clone()),
        }
    }

    fn saved(&self, saved: Result<RegularCard, CoreError>) {
        self.with_remember(|r| r.set_saving(false));
        match saved {
            Ok(card) => {
                let staff = self.staff_return.borrow_mut().take();
                *self.form.borrow_mut() = Form::default();
                self.publish();
                match staff {
                    Some(done) => done(Some(card)),
                    None => self.customer.thank_and_return(),
                }
            }
            Err(e) => {
                tracing::warn!("a regular was not saved: {e}");
                self.with_remember(|r| r.set_problem(FormProblem::NotSaved));
            }
        }
    }

    /// The phone number is typed: on to the code. Nothing is looked up yet, so nothing
    /// about the number shows.
    fn find_next(&self) {
        if self.form.borrow().lookup.len() < *PHONE_DIGITS_RANGE.start() {
            return;
        }
        self.edit(|form| {
            form.find_step = FIND_CODE;
            form.proof.clear();
        });
        self.publish_guesses();
    }

    /// The customer has no code or forgot it: a barista vouches with their PIN.
    fn ask_staff(&self) {
        self.edit(|form| {
            form.find_step = FIND_STAFF;
            form.proof.clear();
        });
    }

    fn find_back(&self) {
        let step = self.form.borrow().find_step;
        if step == FIND_PHONE {
            self.cancel();
            return;
        }
        self.edit(|form| {
            form.find_step -= 1;
            form.proof.clear();
        });
        self.publish_guesses();
    }

    /// A key of the code pad: the form's new code, or the code or PIN on the find screen.
    fn code_digit(&self, key: &str) {
        let locked = self.guesses.borrow().is_locked();
        self.edit(|form| {
            let (field, limit) = if form.finding {
                match form.find_step {
                    FIND_CODE if !locked => (&mut form.proof, CODE_DIGITS),
                    FIND_STAFF => (&mut form.proof, MAX_PIN_DIGITS),
                    _ => return,
                }
            } else if form.step == STEP_CODE {
                (&mut form.code, CODE_DIGITS)
            } else {
                return;
            };
            for digit in digits_of(key).chars() {
                if field.len() < limit {
                    field.push(digit);
                }
            }
        });
        self.publish_guesses();
    }

    fn code_backspace(&self) {
        self.edit(|form| {
            if form.finding {
                form.proof.pop();
            } else {
                form.code.pop();
            }
        });
        self.publish_guesses();
    }

    fn code_clear(&self) {
        self.edit(|form| {
            form.proof.clear();
            form.code.clear();
        });
        self.publish_guesses();
    }

    /// Opens the record with the phone number and the code or staff PIN typed.
    fn open_mine(&self) {
        let (phone, proof) = {
            let mut form = self.form.borrow_mut();
            let typed = std::mem::take(&mut form.proof);
            let proof = match form.find_step {
                FIND_CODE if typed.len() == CODE_DIGITS => Proof::Code(typed),
                FIND_STAFF if typed.len() >= 4 => Proof::StaffPin(typed),
                _ => return,
            };
            (form.lookup.clone(), proof)
        };
        let by_code = matches!(proof, Proof::Code(_));
        if by_code && self.guesses.borrow().is_locked() {
            self.publish_guesses();
            return;
        }
        self.publish();
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let opened = core.open_own_record(phone, proof).await;
            if let Some(flow) = this.upgrade() {
                flow.opened(opened, by_code);
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the record's proof to the core: {e}");
        }
    }

    fn opened(&self, opened: Result<OwnRecord, CoreError>, by_code: bool) {
        match opened {
            Ok(OwnRecord::Opened(card)) => {
                let usual = usual_in_words(&card, &self.menu().menu, &self.form.borrow().language);
                let name = card.regular.name().to_owned();
                self.form.borrow_mut().found = Some(*card);
                self.with_remember(|r| {
                    r.set_found_name(name.into());
                    r.set_found_usual(usual.into());
                    r.set_found(true);
                    r.set_problem(FormProblem::None);
                });
            }
            Ok(OwnRecord::NoMatch) if by_code => {
                self.guesses.borrow_mut().missed();
                self.run_guess_clock();
                let locked = self.guesses.borrow().is_locked();
                self.with_remember(|r| {
                    r.set_problem(if locked {
                        FormProblem::Locked
                    } else {
                        FormProblem::NoMatch
                    })
                });
                self.publish_guesses();
            }
            // A barista vouched, but no record has that number.
            Ok(OwnRecord::NoMatch) => {
                self.with_remember(|r| r.set_problem(FormProblem::NotFound));
            }
            Ok(OwnRecord::StaffRefused { .. }) => {
                self.with_remember(|r| r.set_problem(FormProblem::StaffWrong));
            }
            Err(e) => {
                tracing::warn!("cannot open a regular's record: {e}");
                self.with_remember(|r| r.set_problem(FormProblem::NotSaved));
            }
        }
    }

    /// Counts the throttle's seconds while it has a lockout or a miss to forget.
    fn run_guess_clock(&self) {
        if self.guess_tick.running() {
            return;
        }
        let this = self.this.clone();
        self.guess_tick
            .start(TimerMode::Repeated, Duration::from_secs(1), move || {
                let Some(flow) = this.upgrade() else { return };
                let (was_locked, idle) = {
                    let mut guesses = flow.guesses.borrow_mut();
                    let was_locked = guesses.is_locked();
                    guesses.second_passed();
                    (was_locked, guesses.is_idle())
                };
                if was_locked {
                    flow.publish_guesses();
                }
                if idle {
                    flow.guess_tick.stop();
                }
            });
    }

    /// Shows the lockout, and takes its message away once it ends.
    fn publish_guesses(&self) {
        let (locked, seconds) = {
            let guesses = self.guesses.borrow();
            (guesses.is_locked(), guesses.seconds_left())
        };
        let at_code = {
            let form = self.form.borrow();
            form.finding && form.find_step == FIND_CODE && form.found.is_none()
        };
        self.with_remember(|r| {
            r.set_locked(locked);
            r.set_lock_seconds(i32::try_from(seconds).unwrap_or(i32::MAX));
            if locked && at_code {
                r.set_problem(FormProblem::Locked);
            } else if r.get_problem() == FormProblem::Locked {
                r.set_problem(FormProblem::None);
            }
        });
    }

    fn count_visit(&self) {
        let Some(id) = self.form.borrow().found.as_ref().map(|c| c.regular.id()) else {
            return;
        };
        let core = self.core.clone();
        let visit = self.customer.visit_rating();
        let spawned = slint::spawn_local(async move {
            if let Err(e) = core.log_visit(id, visit).await {
                tracing::warn!("cannot log a visit: {e}");
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the visit to the core: {e}");
        }
        self.customer.thank_and_return();
    }

    fn change_mine(&self) {
        let Some(card) = self.form.borrow_mut().found.take() else {
            return;
        };
        let language = self.form.borrow().language.clone();
        *self.form.borrow_mut() = self.form_from(&card, language);
        self.publish();
        self.show(Screen::RememberForm);
    }

    fn forget(&self) {
        let Some(id) = self.form.borrow_mut().found.take().map(|c| c.regular.id()) else {
            return;
        };
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let erased = core.erase_regular(id).await;
            if let Some(flow) = this.upgrade() {
                match erased {
                    Ok(()) => {
                        flow.clear();
                        flow.customer.thank_and_return();
                    }
                    Err(e) => {
                        tracing::warn!("a regular was not erased: {e}");
                        flow.with_remember(|r| r.set_problem(FormProblem::NotSaved));
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the erasure to the core: {e}");
        }
    }

    fn cancel(&self) {
        let confirming = self
            .app
            .upgrade()
            .is_some_and(|app| app.global::<Remember>().get_confirm_forget());
        if confirming {
            self.with_remember(|r| r.set_confirm_forget(false));
            return;
        }
        self.clear();
        self.show(Screen::RememberOffer);
    }

    /// Shows the form's state on the `Remember` global.
    fn publish(&self) {
        // One look at the configuration, without copying it: this runs on every key.
        let updates = self.core.config();
        let kiosk = updates.borrow();
        let config = &kiosk.survey.remember_me;
        let fallback = kiosk.languages.default.as_str();
        let form = self.form.borrow();
        let lang = if form.language.is_empty() {
            fallback
        } else {
            form.language.as_str()
        };
        let text = |t: &countertop_protocol::LocalizedText| {
            t.get(lang)
                .or_else(|| t.get(fallback))
                .cloned()
                .unwrap_or_default()
        };
        let single = |options: &[MenuOption], at: Option<usize>| {
            choices(options, lang, fallback, |i| at == Some(i))
        };
        let menu = &config.menu;
        self.with_remember(|r| {
            r.set_step(form.step);
            r.set_existing(form.id.is_some());
            r.set_by_staff(form.by_staff);
            r.set_name(form.name.as_str().into());
            r.set_phone(form.phone.as_str().into());
            r.set_note(form.note.as_str().into());
            r.set_dietary(form.dietary.as_str().into());
            r.set_items(single(&menu.items, form.item));
            r.set_sizes(single(&menu.sizes, form.size));
            r.set_milks(single(&menu.milks, form.milk));
            r.set_extras(choices(&menu.extras, lang, fallback, |i| {
                form.extras.get(i).copied().unwrap_or(false)
            }));
            r.set_consent_text(text(&config.consent_text).into());
            r.set_dietary_consent_text(text(&config.dietary_consent_text).into());
            r.set_consent(form.consent);
            r.set_dietary_consent(form.dietary_consent);
            r.set_lookup(form.lookup.as_str().into());
            r.set_code_dots(dots(form.code.len()).into());
            r.set_has_code(form.has_code);
            r.set_find_step(form.find_step);
            r.set_proof_dots(dots(form.proof.len()).into());
            r.set_proof_length(form.proof.len() as i32);
            if form.found.is_none() {
                r.set_found(false);
                r.set_found_name(SharedString::new());
                r.set_found_usual(SharedString::new());
                r.set_confirm_forget(false);
            }
        });
    }
}

/// The menu options as chips, labelled in `lang`.
pub(crate) fn choices(
    options: &[MenuOption],
    lang: &str,
    fallback: &str,
    selected: impl Fn(usize) -> bool,
) -> ModelRc<Choice> {
    let choices: Vec<Choice> = options
        .iter()
        .enumerate()
        .map(|(i, o)| Choice {
            label: o
                .label
                .get(lang)
                .or_else(|| o.label.get(fallback))
                .map_or_else(|| o.slug.to_string(), Clone::clone)
                .into(),
            selected: selected(i),
        })
        .collect();
    ModelRc::new(VecModel::from(choices))
}

/// Between the parts of a usual order: a no-break space before the dot, so a wrapped
/// line never starts with "·".
pub(crate) const USUAL_SEPARATOR: &str = "\u{a0}· ";

/// "Latte · Medium · Oat · Extra shot": a usual order in words, in `lang`.
pub(crate) fn usual_in_words(card: &RegularCard, menu: &Menu, lang: &str) -> String {
    let usual = card.regular.usual();
    [&usual.item, &usual.size, &usual.milk]
        .into_iter()
        .flatten()
        .chain(&usual.extras)
        .map(|slug| menu.label(slug.as_str(), lang))
        .collect::<Vec<_>>()
        .join(USUAL_SEPARATOR)
}

/// A code or PIN as the screen shows it: one dot a digit.
fn dots(count: usize) -> String {
    "•".repeat(count)
}

/// Whether the form's code step may go on: 4 digits, or none when the record has a code
/// already (it stays) or staff are editing (they may leave it for the customer).
fn code_acceptable(form: &Form) -> bool {
    form.code.len() == CODE_DIGITS || (form.code.is_empty() && (form.has_code || form.by_staff))
}

/// Wrong phone numbers and codes on one kiosk: the fifth in a row locks the code pad for
/// [`FIRST_LOCKOUT`], each further one doubles it, up to [`LONGEST_LOCKOUT`]; an hour
/// without a miss forgets them. A right code does not: a stranger could otherwise clear
/// the count with their own. Time passes in whole seconds, told by [`second_passed`].
///
/// [`second_passed`]: GuessThrottle::second_passed
#[derive(Debug, Default)]
pub struct GuessThrottle {
    misses: u32,
    locked_secs: u64,
    quiet_secs: u64,
}

/// Misses allowed before the code pad locks.
const FREE_MISSES: u32 = 4;
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
const LONGEST_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Misses are forgotten after this long without one.
const FORGET_MISSES_AFTER: Duration = Duration::from_secs(60 * 60);

impl GuessThrottle {
    /// How long the pad locks after `misses` in a row.
    pub fn lockout_for(misses: u32) -> Option<Duration> {
        let beyond = misses.checked_sub(FREE_MISSES + 1)?;
        Some((FIRST_LOCKOUT * 2u32.pow(beyond.min(16))).min(LONGEST_LOCKOUT))
    }

    /// A wrong phone number or code.
    pub fn missed(&mut self) {
        self.misses = self.misses.saturating_add(1);
        self.quiet_secs = 0;
        if let Some(lockout) = Self::lockout_for(self.misses) {
            self.locked_secs = lockout.as_secs();
        }
    }

    pub fn second_passed(&mut self) {
        self.locked_secs = self.locked_secs.saturating_sub(1);
        self.quiet_secs = self.quiet_secs.saturating_add(1);
        if self.locked_secs == 0 && self.quiet_secs >= FORGET_MISSES_AFTER.as_secs() {
            self.misses = 0;
        }
    }

    pub fn is_locked(&self) -> bool {
        self.locked_secs > 0
    }

    pub fn seconds_left(&self) -> u64 {
        self.locked_secs
    }

    /// Nothing to count down or forget.
    pub fn is_idle(&self) -> bool {
        self.misses == 0 && self.locked_secs == 0
    }
}

fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_miss_locks_for_thirty_seconds_doubling_up_to_fifteen_minutes() {
        assert_eq!(GuessThrottle::lockout_for(0), None);
        assert_eq!(GuessThrottle::lockout_for(4), None);
        assert_eq!(GuessThrottle::lockout_for(5), Some(Duration::from_secs(30)));
        assert_eq!(GuessThrottle::lockout_for(6), Some(Duration::from_secs(60)));
        assert_eq!(
            GuessThrottle::lockout_for(9),
            Some(Duration::from_secs(480))
        );
        assert_eq!(
            GuessThrottle::lockout_for(10),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            GuessThrottle::lockout_for(u32::MAX),
            Some(Duration::from_secs(900))
        );
    }

    #[test]
    fn a_lockout_runs_down_and_misses_are_forgotten_after_a_quiet_hour() {
        let mut t = GuessThrottle::default();
        for _ in 0..4 {
            t.missed();
            assert!(!t.is_locked());
        }
        t.missed();
        assert_eq!(t.seconds_left(), 30);
        for _ in 0..29 {
            t.second_passed();
        }
        assert!(t.is_locked());
        t.second_passed();
        assert!(!t.is_locked());
        // The sixth miss in a row, soon after, locks for twice as long.
        t.missed();
        assert_eq!(t.seconds_left(), 60);
        for _ in 0..3600 {
            t.second_passed();
        }
        assert!(t.is_idle(), "an hour without a miss forgets them");
        t.missed();
        assert!(!t.is_locked());
    }
}
