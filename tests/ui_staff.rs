//! Remember me and staff mode, driven through the real Slint UI under the testing backend
//! with mocked time: a customer joins after rating, a barista finds them in two keystrokes
//! and sees the unhappy flag, the customer finds and erases their own record, the staff
//! door opens only on a 2-second press, the first day replaces the default PINs before
//! anything else, wrong PINs lock the pad, and staff mode closes after a minute idle.

mod common;
#[path = "common/logs.rs"]
mod logs;

use std::time::Duration;

use common::TestKiosk;
use countertop::config::KioskConfig;
use countertop::ui::{
    Barista, Kiosk, Manager, ManagerTab, PinNote, Problem, Remember, Screen, Staff, StaffRole,
};
use i_slint_backend_testing::{mock_elapsed_time, AccessibleRole, ElementHandle};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition, Model};

#[test]
fn remember_me_and_staff_mode_through_the_real_ui() {
    let logs = logs::CapturedLogs::install();
    i_slint_backend_testing::init_integration_test_with_mock_time();
    // These follow a customer who joins right after an unhappy rating, so this survey
    // offers "remember me" after every face (by default it does not after an unhappy one).
    let mut config = KioskConfig::default();
    config.survey.remember_me.offer_after_unhappy = true;
    let kiosk = TestKiosk::start(config);
    a_customer_joins_after_an_unhappy_rating(&kiosk);
    a_short_press_does_not_open_the_staff_door(&kiosk);
    the_first_day_replaces_the_default_pins_before_anything_else(&kiosk);
    a_barista_finds_the_regular_and_logs_the_usual(&kiosk);
    the_unhappy_flag_never_takes_width_from_a_long_name_in_portrait(&kiosk);
    staff_mode_closes_after_a_minute_idle(&kiosk);
    a_regular_changes_their_own_record(&kiosk);
    a_regular_finds_their_record_by_phone_and_erases_it(&kiosk);
    a_dietary_note_needs_its_own_consent_and_staff_edit_and_erase(&kiosk);
    wrong_pins_lock_the_pad_even_for_the_right_pin(&kiosk);
    let manager = TestKiosk::start(KioskConfig::default());
    the_manager_default_pin_opens_only_the_first_day_change(&manager);
    nothing_is_saved_without_consent(&manager);
    // Names, phone numbers and notes were typed, saved, searched and erased above: none of
    // them reached a log line, at any level.
    logs.assert_free_of(&[
        "Zuzanna",
        "zuz",
        "0901234567",
        "extra hot",
        "minh",
        "Quoc",
        "no nuts",
    ]);
}

fn remember(kiosk: &TestKiosk) -> Remember<'_> {
    kiosk.app.global::<Remember>()
}

fn tap_digits(kiosk: &TestKiosk, digits: &str) {
    for d in digits.chars() {
        kiosk.tap(&d.to_string());
    }
}

fn search(kiosk: &TestKiosk, query: &str) -> Vec<countertop::regulars::RegularCard> {
    let core = kiosk.core.clone();
    let query = query.to_owned();
    let found = std::rc::Rc::new(std::cell::RefCell::new(None));
    let slot = found.clone();
    slint::spawn_local(async move {
        *slot.borrow_mut() = Some(core.search_regulars(query, 10).await.expect("search"));
    })
    .expect("spawn");
    kiosk.pump_until("a search answer", |_| found.borrow().is_some());
    let cards = found.borrow_mut().take().unwrap_or_default();
    cards
}

fn a_customer_joins_after_an_unhappy_rating(kiosk: &TestKiosk) {
    kiosk.rate("Very unhappy");
    kiosk.tap("Slow service");
    kiosk.tap("Done");
    assert_eq!(kiosk.screen(), Screen::RememberOffer);
    kiosk.tap("Yes, remember me");
    assert_eq!(kiosk.screen(), Screen::RememberForm);
    // Next stays off until there is a name.
    let next = kiosk.find_control("Next").expect("a Next button");
    next.invoke_accessible_default_action();
    assert_eq!(remember(kiosk).get_step(), 0);
    kiosk.tap("Shift");
    kiosk.type_on_keyboard("Zuzanna");
    assert_eq!(remember(kiosk).get_name(), "Zuzanna");
    kiosk.tap("Next");
    // Too short a phone number is refused with a reason; a good one goes on.
    tap_digits(kiosk, "0901");
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 1);
    assert_eq!(
        remember(kiosk).get_problem(),
        countertop::ui::FormProblem::PhoneTooShort
    );
    tap_digits(kiosk, "234567");
    kiosk.tap("Next");
    // With a phone number comes the personal code that opens the record later.
    assert_eq!(remember(kiosk).get_step(), 7);
    tap_digits(kiosk, "1357");
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 2);
    kiosk.tap("Latte");
    kiosk.tap("Medium");
    kiosk.tap("Next");
    kiosk.tap("Oat");
    kiosk.tap("Extra shot");
    kiosk.tap("Next");
    kiosk.type_on_keyboard("extra hot");
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 5);
    // Save needs the consent tick.
    kiosk
        .find_control("Save")
        .expect("Save")
        .invoke_accessible_default_action();
    assert_eq!(kiosk.screen(), Screen::RememberForm);
    kiosk.tap("Yes, keep my details");
    kiosk.tap("Save");
    kiosk.pump_until("the thank-you screen", |k| k.screen() == Screen::ThankYou);

    let found = search(kiosk, "zuz");
    assert_eq!(found.len(), 1, "one regular named Zuzanna");
    let lan = &found[0];
    assert_eq!(lan.regular.name(), "Zuzanna");
    assert_eq!(lan.regular.phone(), Some("0901234567"));
    let usual = lan.regular.usual();
    assert_eq!(usual.item.as_ref().map(|s| s.as_str()), Some("latte"));
    assert_eq!(usual.size.as_ref().map(|s| s.as_str()), Some("medium"));
    assert_eq!(usual.milk.as_ref().map(|s| s.as_str()), Some("oat"));
    assert_eq!(usual.extras.len(), 1);
    assert_eq!(usual.note.as_deref(), Some("extra hot"));
    assert_eq!(
        lan.regular.consent().version,
        2,
        "the demo's current consent text"
    );
    assert!(lan.regular.consent().dietary_given_at.is_none());
    assert_eq!(lan.regular.dietary(), None);
    // Joining counted this visit, with its unhappy rating.
    assert_eq!(lan.visit_count, 1);
    assert!(lan.last_rating_unhappy);
    // The form forgets what was typed once saved.
    assert_eq!(remember(kiosk).get_name(), "");
    mock_elapsed_time(Duration::from_secs(4));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
}

/// Presses the shop's name for `hold`, then lets go.
fn press_shop_name(kiosk: &TestKiosk, hold: Duration) {
    let door = ElementHandle::find_by_element_id(&kiosk.app, "WelcomeScreen::staff-door")
        .next()
        .expect("the shop's name on the welcome screen");
    let (position, size) = (door.absolute_position(), door.size());
    let at = LogicalPosition::new(
        position.x + size.width / 2.0,
        position.y + size.height / 2.0,
    );
    let window = kiosk.app.window();
    window.dispatch_event(WindowEvent::PointerPressed {
        position: at,
        button: PointerEventButton::Left,
    });
    mock_elapsed_time(hold);
    kiosk.pump_until("the hold", |_| true);
    window.dispatch_event(WindowEvent::PointerReleased {
        position: at,
        button: PointerEventButton::Left,
    });
}

fn a_short_press_does_not_open_the_staff_door(kiosk: &TestKiosk) {
    press_shop_name(kiosk, Duration::from_millis(800));
    kiosk.pump_until("a settled screen", |_| true);
    assert_eq!(kiosk.screen(), Screen::Welcome);
}

fn enter_pin(kiosk: &TestKiosk, pin: &str) {
    tap_digits(kiosk, pin);
    kiosk.tap("Enter");
    let staff = kiosk.app.global::<Staff>();
    kiosk.pump_until("the PIN check", |_| !staff.get_pin_checking());
}

/// The PINs the first day sets in these tests.
const MANAGER_PIN: &str = "2468";
const BARISTA_PIN: &str = "1357";

/// Types a PIN on the manager's pad and taps "Next" (or "Save PIN").
fn type_new_pin(kiosk: &TestKiosk, pin: &str) {
    tap_digits(kiosk, pin);
    let step = kiosk.app.global::<Manager>().get_pin_step();
    kiosk.tap(if step == 1 { "Next" } else { "Save PIN" });
}

fn the_first_day_replaces_the_default_pins_before_anything_else(kiosk: &TestKiosk) {
    let staff = kiosk.app.global::<Staff>();
    let m = kiosk.app.global::<Manager>();
    // The barista's default opens nothing yet, and the pad says why.
    press_shop_name(kiosk, Duration::from_millis(2100));
    enter_pin(kiosk, "0000");
    assert_eq!(kiosk.screen(), Screen::StaffPin);
    assert_eq!(staff.get_pin_note(), PinNote::FirstDay);
    assert!(
        ElementHandle::find_by_accessible_label(
            &kiosk.app,
            "The barista PIN opens nothing yet: the manager must first replace the default PINs."
        )
        .next()
        .is_some(),
        "the pad says why"
    );
    // Asking again is no wrong try: the pad never locks for it.
    for _ in 0..3 {
        enter_pin(kiosk, "0000");
    }
    assert!(!staff.get_pin_locked());

    // The manager's default opens only the change.
    enter_pin(kiosk, "1234");
    assert_eq!(kiosk.screen(), Screen::Manager);
    assert!(m.get_first_day());
    assert_eq!(m.get_pin_role(), StaffRole::Manager);
    for tab in ["Today", "Sync", "Settings", "Export"] {
        assert!(
            kiosk
                .find_with_role(tab, i_slint_backend_testing::AccessibleRole::Tab)
                .is_none(),
            "no {tab} tab before the change"
        );
    }
    assert!(kiosk.find_control("Cancel").is_none(), "no way round it");
    m.invoke_show_tab(ManagerTab::Settings);
    assert_eq!(m.get_pin_role(), StaffRole::Manager, "still the change");

    // Too short, and too easy to guess, are refused at once.
    tap_digits(kiosk, "246");
    m.invoke_pin_next();
    assert_eq!(m.get_pin_problem(), Problem::PinFormat);
    type_new_pin(kiosk, "1234");
    assert_eq!(m.get_pin_problem(), Problem::PinWeak);
    type_new_pin(kiosk, "9999");
    assert_eq!(m.get_pin_problem(), Problem::PinWeak);
    assert_eq!(m.get_pin_step(), 1);
    // The manager's, twice; then the barista's, which may not be the same.
    type_new_pin(kiosk, MANAGER_PIN);
    type_new_pin(kiosk, MANAGER_PIN);
    assert_eq!(m.get_pin_role(), StaffRole::Barista);
    type_new_pin(kiosk, MANAGER_PIN);
    type_new_pin(kiosk, MANAGER_PIN);
    assert_eq!(m.get_pin_problem(), Problem::PinsEqual);
    assert!(kiosk
        .value_of("PIN problem")
        .is_some_and(|t| t == "The barista PIN must differ from the manager PIN"));
    assert_eq!(m.get_pin_role(), StaffRole::Barista);
    type_new_pin(kiosk, BARISTA_PIN);
    type_new_pin(kiosk, BARISTA_PIN);
    kiosk.pump_until("the first day's PINs saved", |_| !m.get_first_day());
    assert!(m.get_first_day_saved());
    assert_eq!(m.get_pin_role(), StaffRole::None);
    assert!(kiosk
        .find_with_role("Settings", i_slint_backend_testing::AccessibleRole::Tab)
        .is_some());
    kiosk.tap("Exit");
    assert_eq!(kiosk.screen(), Screen::Welcome);

    // After the change both new PINs work, and neither default does.
    press_shop_name(kiosk, Duration::from_millis(2100));
    enter_pin(kiosk, "0000");
    assert_eq!(staff.get_pin_note(), PinNote::Wrong);
    enter_pin(kiosk, "1234");
    assert_eq!(staff.get_pin_note(), PinNote::Wrong);
    enter_pin(kiosk, MANAGER_PIN);
    assert_eq!(kiosk.screen(), Screen::Manager);
    assert!(!m.get_first_day(), "straight to the manager's screen");
    assert!(kiosk
        .find_with_role("Today", i_slint_backend_testing::AccessibleRole::Tab)
        .is_some());
    kiosk.tap("Exit");
}

fn a_barista_finds_the_regular_and_logs_the_usual(kiosk: &TestKiosk) {
    press_shop_name(kiosk, Duration::from_millis(2100));
    assert_eq!(kiosk.screen(), Screen::StaffPin);
    enter_pin(kiosk, BARISTA_PIN);
    assert_eq!(kiosk.screen(), Screen::Barista);
    assert_eq!(kiosk.app.global::<Staff>().get_role(), StaffRole::Barista);
    let barista = kiosk.app.global::<Barista>();
    // Two keystrokes find her.
    kiosk.type_on_keyboard("zu");
    kiosk.pump_until("results for \"zu\"", |_| {
        barista.get_results().row_count() == 1
    });
    let row = barista.get_results().row_data(0).expect("a row");
    assert_eq!(row.name, "Zuzanna");
    assert_eq!(row.phone_tail, "4567");
    assert_eq!(
        row.usual,
        "Latte\u{a0}· Medium\u{a0}· Oat\u{a0}· Extra shot"
    );
    assert_eq!(row.visits, 1);
    assert!(row.unhappy, "the unhappy flag shows");
    // By the last digits of her phone, too.
    kiosk.tap("Clear");
    tap_digits(kiosk, "4567");
    kiosk.pump_until("results for 4567", |_| {
        barista.get_results().row_count() == 1 && barista.get_query() == "4567"
    });
    kiosk.tap("Zuzanna");
    assert_eq!(barista.get_selected(), 0);
    assert!(
        ElementHandle::find_by_accessible_label(&kiosk.app, "Last visit unhappy")
            .next()
            .is_some()
    );
    kiosk.tap("Served the usual");
    kiosk.pump_until("the visit logged", |_| {
        barista.get_note() == countertop::ui::BaristaNote::VisitLogged
    });
    assert_eq!(search(kiosk, "zuz")[0].visit_count, 2);
    // A visit without a rating does not clear the flag: her last rating was unhappy.
    assert!(search(kiosk, "zuz")[0].last_rating_unhappy);
}

fn the_unhappy_flag_never_takes_width_from_a_long_name_in_portrait(kiosk: &TestKiosk) {
    let window = kiosk.app.window();
    let before = window.size();
    window.set_size(slint::PhysicalSize::new(480, 800));
    // In Vietnamese, whose flag and history are the longest.
    slint::select_bundled_translation("vi").expect("Vietnamese is bundled");
    let barista = kiosk.app.global::<Barista>();
    barista.set_selected(-1);
    let long = "Tôn Nữ Hoàng Khánh Phượng";
    let row = countertop::ui::RegularRow {
        id: "".into(),
        name: long.into(),
        phone_tail: "4567".into(),
        usual: "Cà phê sữa đá · Lớn · Ít đường".into(),
        note: "".into(),
        dietary: "".into(),
        visits: 23,
        last_visit_days: 12,
        unhappy: true,
    };
    barista.set_results(slint::ModelRc::new(slint::VecModel::from(vec![row])));
    let label = long.to_owned();
    kiosk.pump_until("the long name on screen", |k| {
        ElementHandle::find_by_accessible_label(&k.app, &label)
            .next()
            .is_some()
    });
    let name = ElementHandle::find_by_accessible_label(&kiosk.app, &label)
        .find(|e| e.accessible_role() == Some(AccessibleRole::Text))
        .expect("the name's text");
    let result = kiosk.find_control(long).expect("the result row");
    let flag = ElementHandle::find_by_element_id(&kiosk.app, "UnhappyFlag::flag")
        .next()
        .expect("the flag");
    let (name_at, name_size) = (name.absolute_position(), name.size());
    // The name has the row's whole width (less its padding), and the flag sits below it.
    assert!(
        name_size.width >= result.size().width - 2.0 * 16.0 - 2.0,
        "name {name_size:?} in a row {:?}",
        result.size()
    );
    assert!(flag.absolute_position().y >= name_at.y + name_size.height - 0.5);
    // Nothing on the flag's line widens the row past the screen.
    assert!(
        result.absolute_position().x + result.size().width <= 480.0,
        "row {:?} at {:?}",
        result.size(),
        result.absolute_position()
    );
    window.set_size(before);
    slint::select_bundled_translation("").expect("back to English");
    barista.set_results(slint::ModelRc::new(slint::VecModel::default()));
    kiosk.pump_until("a settled screen", |_| true);
}

fn staff_mode_closes_after_a_minute_idle(kiosk: &TestKiosk) {
    assert_eq!(kiosk.screen(), Screen::Barista);
    mock_elapsed_time(Duration::from_secs(59));
    kiosk.pump_until("a settled screen", |_| true);
    assert_eq!(kiosk.screen(), Screen::Barista, "not before a minute");
    mock_elapsed_time(Duration::from_secs(2));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
    // Nothing of the search is left on screen.
    let barista = kiosk.app.global::<Barista>();
    assert_eq!(barista.get_query(), "");
    assert_eq!(barista.get_results().row_count(), 0);
    assert_eq!(kiosk.app.global::<Staff>().get_role(), StaffRole::None);
}

/// Rates, declines nothing, and opens "I'm already a regular" with `phone` and her code.
fn find_own_record(kiosk: &TestKiosk, phone: &str) {
    kiosk.rate("Very happy");
    kiosk.tap("Done");
    kiosk.tap("I'm already a regular");
    tap_digits(kiosk, phone);
    kiosk.tap("Next");
    tap_digits(kiosk, "1357");
    kiosk.tap("Open");
    kiosk.pump_until("the record", |k| remember(k).get_found());
}

fn a_regular_changes_their_own_record(kiosk: &TestKiosk) {
    find_own_record(kiosk, "0901234567");
    kiosk.tap("Change my details");
    assert_eq!(kiosk.screen(), Screen::RememberForm);
    assert!(remember(kiosk).get_existing());
    assert_eq!(remember(kiosk).get_name(), "Zuzanna");
    kiosk.tap("Next");
    kiosk.tap("Next");
    // An empty code keeps the one she chose.
    assert!(remember(kiosk).get_has_code());
    kiosk.tap("Next");
    // Latte was her usual; she switches to tea.
    kiosk.tap("Tea");
    kiosk.tap("Next");
    kiosk.tap("Next");
    kiosk.tap("Next");
    // Consent is asked again, for the text shown now.
    assert!(!remember(kiosk).get_consent());
    kiosk.tap("Yes, keep my details");
    kiosk.tap("Save");
    kiosk.pump_until("the thank-you screen", |k| k.screen() == Screen::ThankYou);
    let found = search(kiosk, "zuz");
    assert_eq!(found.len(), 1, "an edit, not a second regular");
    let usual = found[0].regular.usual();
    assert_eq!(usual.item.as_ref().map(|s| s.as_str()), Some("tea"));
    assert_eq!(usual.milk.as_ref().map(|s| s.as_str()), Some("oat"), "kept");
    mock_elapsed_time(Duration::from_secs(4));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
}

fn a_dietary_note_needs_its_own_consent_and_staff_edit_and_erase(kiosk: &TestKiosk) {
    kiosk.rate("Happy");
    kiosk.tap("Done");
    kiosk.tap("Yes, remember me");
    kiosk.tap("Shift");
    kiosk.type_on_keyboard("Quoc");
    kiosk.tap("Next");
    kiosk.tap("Skip");
    kiosk.tap("Next");
    kiosk.tap("Next");
    kiosk.tap("Next");
    kiosk.tap("Yes, keep my details");
    kiosk.tap(
        "Also keep my allergies and dietary needs. This is health information: it is kept \
         only with this tick, seen by the same people, and erased with the rest.",
    );
    // With the dietary tick, the last button leads to the dietary note first.
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 6);
    kiosk.type_on_keyboard("no nuts");
    kiosk.tap("Save");
    kiosk.pump_until("the thank-you screen", |k| k.screen() == Screen::ThankYou);
    let quoc = &search(kiosk, "quoc")[0];
    assert_eq!(quoc.regular.dietary(), Some("no nuts"));
    assert!(quoc.regular.consent().dietary_given_at.is_some());
    assert_eq!(quoc.regular.phone(), None);
    mock_elapsed_time(Duration::from_secs(4));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);

    // A barista renames him on request; the dietary note and its consent stay.
    press_shop_name(kiosk, Duration::from_millis(2100));
    enter_pin(kiosk, BARISTA_PIN);
    let barista = kiosk.app.global::<Barista>();
    kiosk.type_on_keyboard("quo");
    kiosk.pump_until("Quoc in the results", |_| {
        barista.get_results().row_count() == 1
    });
    assert_eq!(
        barista.get_results().row_data(0).expect("row").dietary,
        "no nuts"
    );
    kiosk.tap("Quoc");
    kiosk.tap("Edit");
    assert_eq!(kiosk.screen(), Screen::RememberForm);
    assert!(remember(kiosk).get_by_staff());
    kiosk.type_on_keyboard(" anh");
    kiosk.tap("Next");
    kiosk.tap("Skip");
    kiosk.tap("Next");
    kiosk.tap("Next");
    // Staff edits skip the consent step: the customer's consent stands.
    assert_eq!(remember(kiosk).get_step(), 4);
    kiosk.tap("Save");
    kiosk.pump_until("back on the barista screen", |k| {
        k.screen() == Screen::Barista
    });
    assert_eq!(barista.get_note(), countertop::ui::BaristaNote::Saved);
    let renamed = &search(kiosk, "quoc")[0];
    assert_eq!(renamed.regular.name(), "Quoc anh");
    assert_eq!(renamed.regular.dietary(), Some("no nuts"));
    assert_eq!(renamed.regular.consent(), quoc.regular.consent());

    // And erases him on request, after a confirmation.
    kiosk.pump_until("Quoc in the results", |_| {
        barista.get_results().row_count() == 1
    });
    kiosk.tap("Quoc anh");
    kiosk.tap("Erase");
    kiosk.tap("Keep");
    assert_eq!(search(kiosk, "quoc").len(), 1, "kept on second thoughts");
    kiosk.tap("Erase");
    kiosk.tap("Erase for good");
    kiosk.pump_until("the erasure", |_| {
        barista.get_note() == countertop::ui::BaristaNote::Erased
    });
    assert!(search(kiosk, "quoc").is_empty());
    kiosk.tap("Exit");
    assert_eq!(kiosk.screen(), Screen::Welcome);
}

fn a_regular_finds_their_record_by_phone_and_erases_it(kiosk: &TestKiosk) {
    kiosk.rate("Very happy");
    kiosk.tap("Done");
    kiosk.tap("I'm already a regular");
    assert_eq!(kiosk.screen(), Screen::RememberFind);
    tap_digits(kiosk, "0999999999");
    kiosk.tap("Next");
    tap_digits(kiosk, "1357");
    kiosk.tap("Open");
    kiosk.pump_until("no match", |k| {
        remember(k).get_problem() == countertop::ui::FormProblem::NoMatch
    });
    kiosk.tap("Back");
    kiosk.tap("Clear");
    tap_digits(kiosk, "0901234567");
    kiosk.tap("Next");
    tap_digits(kiosk, "1357");
    kiosk.tap("Open");
    kiosk.pump_until("her record", |k| remember(k).get_found());
    assert_eq!(remember(kiosk).get_found_name(), "Zuzanna");
    kiosk.tap("Forget me");
    kiosk.tap("Keep my details");
    assert!(remember(kiosk).get_found(), "changed her mind: still there");
    kiosk.tap("Forget me");
    kiosk.tap("Yes, forget me");
    kiosk.pump_until("the thank-you screen", |k| k.screen() == Screen::ThankYou);
    assert!(search(kiosk, "zuz").is_empty(), "erased");
    assert!(search(kiosk, "4567").is_empty(), "erased");
    mock_elapsed_time(Duration::from_secs(4));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
}

fn wrong_pins_lock_the_pad_even_for_the_right_pin(kiosk: &TestKiosk) {
    press_shop_name(kiosk, Duration::from_millis(2100));
    let staff = kiosk.app.global::<Staff>();
    enter_pin(kiosk, "12");
    assert_eq!(staff.get_pin_note(), PinNote::TooShort);
    enter_pin(kiosk, "1111");
    assert_eq!(staff.get_pin_note(), PinNote::Wrong);
    enter_pin(kiosk, "2222");
    assert_eq!(staff.get_pin_note(), PinNote::Wrong);
    enter_pin(kiosk, "3333");
    assert_eq!(staff.get_pin_note(), PinNote::Locked);
    assert!(staff.get_pin_locked());
    assert!((25..=30).contains(&staff.get_lock_seconds()));
    // The right PIN cannot get past the lock: the pad takes no digits.
    tap_digits(kiosk, BARISTA_PIN);
    assert_eq!(staff.get_pin_length(), 0);
    assert_eq!(kiosk.screen(), Screen::StaffPin);
    kiosk.tap("Cancel");
    assert_eq!(kiosk.screen(), Screen::Welcome);
}

fn the_manager_default_pin_opens_only_the_first_day_change(kiosk: &TestKiosk) {
    press_shop_name(kiosk, Duration::from_millis(2100));
    enter_pin(kiosk, "1234");
    assert_eq!(kiosk.screen(), Screen::Manager);
    assert_eq!(kiosk.app.global::<Staff>().get_role(), StaffRole::Manager);
    assert!(kiosk.app.global::<Manager>().get_first_day());
    // Leaving half-way keeps the defaults: the next login asks again.
    tap_digits(kiosk, "2468");
    kiosk.tap("Next");
    kiosk.tap("Exit");
    assert_eq!(kiosk.screen(), Screen::Welcome);
    press_shop_name(kiosk, Duration::from_millis(2100));
    enter_pin(kiosk, "1234");
    assert!(kiosk.app.global::<Manager>().get_first_day());
    assert_eq!(
        kiosk.app.global::<Manager>().get_pin_step(),
        1,
        "from the start"
    );
    kiosk.tap("Exit");
    assert_eq!(kiosk.screen(), Screen::Welcome);
}

fn nothing_is_saved_without_consent(kiosk: &TestKiosk) {
    kiosk.rate("Happy");
    kiosk.tap("Done");
    kiosk.tap("Yes, remember me");
    kiosk.type_on_keyboard("minh");
    kiosk.tap("Next");
    // No phone number: the button says Skip.
    kiosk.tap("Skip");
    for _ in 0..3 {
        kiosk.tap("Next");
    }
    assert_eq!(remember(kiosk).get_step(), 5);
    // The customer walks away at the consent step: nothing is kept.
    mock_elapsed_time(Duration::from_secs(21));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
    assert_eq!(remember(kiosk).get_name(), "");
    assert!(search(kiosk, "minh").is_empty());
    assert_eq!(kiosk.app.global::<Kiosk>().get_screen(), Screen::Welcome);
}
