//! The barista's screen: search as you type over the store's regulars, by name or by the
//! last digits of a phone; each result shows the usual order, notes, visits, and a flag
//! when the last rating was unhappy. "Served the usual" logs a visit; staff can edit or
//! erase a record on the customer's request.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use chrono::Utc;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::remember::{usual_in_words, RememberFlow};
use super::{App, Barista, BaristaNote, Kiosk, RegularRow, Screen, Staff};
use crate::core::Core;
use crate::regulars::RegularCard;

/// Results shown per search: more than fit on screen, few enough to stay fast.
const RESULTS: usize = 30;

/// Drives the barista's screen of one [`App`].
pub struct BaristaPanel {
    app: slint::Weak<App>,
    core: Core,
    remember: Rc<RememberFlow>,
    query: RefCell<String>,
    results: RefCell<Vec<RegularCard>>,
    /// Bumped on every search, so a slow answer to an older query never replaces a newer.
    generation: Cell<u64>,
    this: Weak<BaristaPanel>,
}

impl BaristaPanel {
    pub fn install(app: &App, core: Core, remember: Rc<RememberFlow>) -> Rc<BaristaPanel> {
        let panel = Rc::new_cyclic(|this| BaristaPanel {
            app: app.as_weak(),
            core,
            remember,
            query: RefCell::default(),
            results: RefCell::default(),
            generation: Cell::new(0),
            this: this.clone(),
        });
        let b = app.global::<Barista>();
        let with = |f: fn(&BaristaPanel)| super::while_alive(&panel, f);
        b.on_backspace(with(|p| {
            p.typed(|q| {
                q.pop();
            })
        }));
        b.on_clear_query(with(|p| p.typed(String::clear)));
        b.on_back_to_search(with(|p| p.select(-1)));
        b.on_served_usual(with(BaristaPanel::served_usual));
        b.on_edit(with(BaristaPanel::edit));
        b.on_erase(with(|p| p.with_barista(|b| b.set_confirm_erase(true))));
        b.on_erase_cancelled(with(|p| p.with_barista(|b| b.set_confirm_erase(false))));
        b.on_erase_confirmed(with(BaristaPanel::erase));
        let weak = Rc::downgrade(&panel);
        b.on_type_key(move |key| {
            if let Some(panel) = weak.upgrade() {
                panel.typed(|q| {
                    if q.chars().count() < 40 {
                        q.push_str(&key);
                    }
                });
            }
        });
        let weak = Rc::downgrade(&panel);
        b.on_select(move |index| {
            if let Some(panel) = weak.upgrade() {
                panel.select(index);
            }
        });
        panel
    }

    fn with_barista(&self, f: impl FnOnce(Barista<'_>)) {
        if let Some(app) = self.app.upgrade() {
            f(app.global::<Barista>());
        }
    }

    /// Staff mode opened the screen: an empty search, the most recent regulars first.
    pub fn open(&self) {
        self.with_barista(|b| b.set_note(BaristaNote::None));
        self.change_query(String::clear);
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            if let Ok(total) = core.regular_count().await {
                if let Some(panel) = this.upgrade() {
                    panel.with_barista(|b| b.set_total(total.try_into().unwrap_or(i32::MAX)));
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot count regulars: {e}");
        }
    }

    /// Staff mode closed: nothing of the last search stays on screen or in memory.
    pub fn close(&self) {
        self.query.borrow_mut().clear();
        self.results.borrow_mut().clear();
        self.generation.set(self.generation.get() + 1);
        self.with_barista(|b| {
            b.set_query(SharedString::new());
            b.set_results(ModelRc::default());
            b.set_selected(-1);
            b.set_confirm_erase(false);
            b.set_note(BaristaNote::None);
            b.set_note_name(SharedString::new());
        });
    }

    /// Staff typed: the last action's note gives way to the new search.
    fn typed(&self, change: impl FnOnce(&mut String)) {
        self.with_barista(|b| b.set_note(BaristaNote::None));
        self.change_query(change);
    }

    fn change_query(&self, change: impl FnOnce(&mut String)) {
        let query = {
            let mut query = self.query.borrow_mut();
            change(&mut query);
            query.clone()
        };
        self.with_barista(|b| {
            b.set_query(query.as_str().into());
            b.set_selected(-1);
            b.set_confirm_erase(false);
        });
        self.search(query);
    }

    /// Searches on the core thread; only the newest query's answer is shown.
    fn search(&self, query: String) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let found = core.search_regulars(query, RESULTS).await;
            let Some(panel) = this.upgrade() else { return };
            if panel.generation.get() != generation {
                return;
            }
            match found {
                Ok(cards) => panel.show_results(cards),
                Err(e) => {
                    tracing::warn!("regulars search failed: {e}");
                    panel.with_barista(|b| b.set_note(BaristaNote::Failed));
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the search to the core: {e}");
        }
    }

    fn show_results(&self, cards: Vec<RegularCard>) {
        let rows: Vec<RegularRow> = {
            // Borrowed, not copied: this runs on every keystroke.
            let updates = self.core.config();
            let config = updates.borrow();
            let menu = &config.survey.remember_me.menu;
            let lang = &config.languages.default;
            cards.iter().map(|c| row(c, menu, lang)).collect()
        };
        *self.results.borrow_mut() = cards;
        self.with_barista(|b| b.set_results(ModelRc::new(VecModel::from(rows))));
    }

    fn select(&self, index: i32) {
        self.with_barista(|b| {
            b.set_selected(index);
            b.set_confirm_erase(false);
        });
    }

    fn selected(&self) -> Option<RegularCard> {
        let index = self.app.upgrade()?.global::<Barista>().get_selected();
        let index = usize::try_from(index).ok()?;
        self.results.borrow().get(index).cloned()
    }

    fn served_usual(&self) {
        let Some(card) = self.selected() else { return };
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let logged = core.log_visit(card.regular.id(), None).await;
            let Some(panel) = this.upgrade() else { return };
            match logged {
                Ok(()) => {
                    panel.note(BaristaNote::VisitLogged, card.regular.name());
                    // Back to an empty search, ready for the next customer.
                    panel.change_query(String::clear);
                }
                Err(e) => {
                    tracing::warn!("cannot log a visit: {e}");
                    panel.note(BaristaNote::Failed, "");
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the visit to the core: {e}");
        }
    }

    fn note(&self, note: BaristaNote, name: &str) {
        self.with_barista(|b| {
            b.set_note(note);
            b.set_note_name(name.into());
        });
    }

    fn edit(&self) {
        let Some(card) = self.selected() else { return };
        let Some(app) = self.app.upgrade() else {
            return;
        };
        let lang = self.core.config().borrow().languages.default.clone();
        let staff = app.as_weak();
        let touch = move || {
            if let Some(app) = staff.upgrade() {
                app.global::<Staff>().invoke_activity();
            }
        };
        let this = self.this.clone();
        let done = move |saved: Option<RegularCard>| {
            let Some(panel) = this.upgrade() else { return };
            if let Some(app) = panel.app.upgrade() {
                app.global::<Kiosk>().set_screen(Screen::Barista);
            }
            if let Some(card) = saved {
                panel.note(BaristaNote::Saved, card.regular.name());
            }
            let query = panel.query.borrow().clone();
            panel.search(query);
            panel.select(-1);
        };
        self.remember.edit_for_staff(&card, lang, touch, done);
    }

    fn erase(&self) {
        let Some(card) = self.selected() else { return };
        let core = self.core.clone();
        let this = self.this.clone();
        let spawned = slint::spawn_local(async move {
            let erased = core.erase_regular(card.regular.id()).await;
            let Some(panel) = this.upgrade() else { return };
            match erased {
                Ok(()) => {
                    panel.note(BaristaNote::Erased, card.regular.name());
                    panel.open_after_erase();
                }
                Err(e) => {
                    tracing::warn!("a regular was not erased: {e}");
                    panel.note(BaristaNote::Failed, "");
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot hand the erasure to the core: {e}");
        }
    }

    /// After an erasure: the search again, without the erased regular.
    fn open_after_erase(&self) {
        self.change_query(String::clear);
        let core = self.core.clone();
        let this = self.this.clone();
        let _ = slint::spawn_local(async move {
            if let (Ok(total), Some(panel)) = (core.regular_count().await, this.upgrade()) {
                panel.with_barista(|b| b.set_total(total.try_into().unwrap_or(i32::MAX)));
            }
        });
    }
}

/// A regular as a result row, worded in `lang`.
pub(crate) fn row(card: &RegularCard, menu: &countertop_protocol::Menu, lang: &str) -> RegularRow {
    let regular = &card.regular;
    let phone = regular.phone().unwrap_or_default();
    RegularRow {
        id: regular.id().to_string().into(),
        name: regular.name().into(),
        phone_tail: phone[phone.len().saturating_sub(4)..].into(),
        usual: usual_in_words(card, menu, lang).into(),
        note: regular.usual().note.clone().unwrap_or_default().into(),
        dietary: regular.dietary().unwrap_or_default().into(),
        visits: card.visit_count.try_into().unwrap_or(i32::MAX),
        last_visit_days: card
            .last_visit
            .map_or(-1, |at| (Utc::now() - at).num_days().max(0) as i32),
        unhappy: card.last_rating_unhappy,
    }
}
