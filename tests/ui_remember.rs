//! "I'm already a regular" through the real Slint UI, under the testing backend with mocked
//! time: a phone number alone opens nothing (a stranger sees no name, no note, and can
//! neither change nor erase); the owner's personal code opens her record to change or
//! erase it; wrong codes lock the pad for a while, shown on screen; a regular who joined
//! before codes is opened by a barista's PIN and chooses a code; and a new consent text is
//! a new version while old records keep the version they were given under.

mod common;
#[path = "common/logs.rs"]
mod logs;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use common::TestKiosk;
use countertop::config::KioskConfig;
use countertop::core::{OwnRecord, Proof, RegularEdit};
use countertop::regulars::RegularCard;
use countertop::ui::{FormProblem, Remember, Screen};
use i_slint_backend_testing::{mock_elapsed_time, ElementHandle};
use slint::ComponentHandle;

const HOA_PHONE: &str = "0912000111";
const HOA_CODE: &str = "2580";
const ZUZ_PHONE: &str = "0901234567";
const ZUZ_CODE: &str = "1357";
const BINH_PHONE: &str = "0933444555";
const BARISTA_PIN: &str = "2468";
const MANAGER_PIN: &str = "1357";

#[test]
fn a_phone_number_alone_opens_no_record_through_the_real_ui() {
    let logs = logs::CapturedLogs::install();
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("countertop.db");

    // Hoa joins while the shop still shows its first consent text.
    let mut first_text = KioskConfig::default();
    first_text.survey.remember_me.consent_version = 1;
    {
        let kiosk = start(&database, first_text);
        join(&kiosk, "Hoa", HOA_PHONE, HOA_CODE);
        assert_eq!(only(&kiosk, "hoa").regular.consent().version, 1);
    }

    let kiosk = start(&database, KioskConfig::default());
    // The first day's change: until the manager replaces the default PINs, no barista
    // PIN opens anything.
    ask(&kiosk, "the first day's PINs", {
        let core = kiosk.core.clone();
        async move {
            core.complete_first_day(MANAGER_PIN.into(), BARISTA_PIN.into())
                .await
        }
    })
    .expect("PINs set");
    a_new_consent_version_leaves_old_records_at_theirs(&kiosk);
    a_stranger_with_the_phone_number_sees_nothing_and_changes_nothing(&kiosk);
    the_owner_changes_her_details_with_her_code(&kiosk);
    repeated_wrong_codes_lock_the_pad_for_a_while_shown_on_screen(&kiosk);
    a_regular_without_a_code_is_opened_by_a_barista_and_chooses_one(&kiosk);
    the_owner_erases_her_record_with_her_code_in_fewer_steps_than_joining(&kiosk);

    logs.assert_free_of(&["Hoa", "Zuzanna", "Binh", HOA_PHONE, ZUZ_PHONE, BINH_PHONE]);
}

fn start(database: &std::path::Path, config: KioskConfig) -> TestKiosk {
    let own_dir = tempfile::tempdir().expect("temp dir");
    TestKiosk::start_with_database(own_dir, database.to_path_buf(), config)
}

fn remember(kiosk: &TestKiosk) -> Remember<'_> {
    kiosk.app.global::<Remember>()
}

fn tap_digits(kiosk: &TestKiosk, digits: &str) {
    for d in digits.chars() {
        kiosk.tap(&d.to_string());
    }
}

/// Runs `work` on the UI thread's executor and pumps the event loop until it answers.
fn ask<T: 'static>(kiosk: &TestKiosk, what: &str, work: impl Future<Output = T> + 'static) -> T {
    let slot = Rc::new(RefCell::new(None));
    let filled = slot.clone();
    slint::spawn_local(async move {
        *filled.borrow_mut() = Some(work.await);
    })
    .expect("spawn");
    kiosk.pump_until(what, |_| slot.borrow().is_some());
    let answer = slot.borrow_mut().take();
    answer.expect("an answer")
}

fn search(kiosk: &TestKiosk, query: &str) -> Vec<RegularCard> {
    let core = kiosk.core.clone();
    let query = query.to_owned();
    ask(kiosk, "a search answer", async move {
        core.search_regulars(query, 10).await.expect("search")
    })
}

fn only(kiosk: &TestKiosk, query: &str) -> RegularCard {
    let mut found = search(kiosk, query);
    assert_eq!(found.len(), 1, "one regular matches {query:?}");
    found.remove(0)
}

fn opens_with_code(kiosk: &TestKiosk, phone: &str, code: &str) -> bool {
    let core = kiosk.core.clone();
    let (phone, code) = (phone.to_owned(), code.to_owned());
    let opened = ask(kiosk, "the code check", async move {
        core.open_own_record(phone, Proof::Code(code)).await
    });
    matches!(opened, Ok(OwnRecord::Opened(_)))
}

fn back_to_welcome(kiosk: &TestKiosk) {
    kiosk.pump_until("the thank-you screen", |k| k.screen() == Screen::ThankYou);
    mock_elapsed_time(Duration::from_secs(4));
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
}

/// Joins through the form: name, phone, code, no usual, consent; counts the taps.
fn join(kiosk: &TestKiosk, name: &str, phone: &str, code: &str) -> usize {
    kiosk.rate("Happy");
    kiosk.tap("Done");
    kiosk.tap("Yes, remember me");
    kiosk.tap("Shift");
    kiosk.type_on_keyboard(name);
    kiosk.tap("Next");
    tap_digits(kiosk, phone);
    kiosk.tap("Next");
    assert_eq!(
        remember(kiosk).get_step(),
        7,
        "a phone number asks for a code"
    );
    // The code is needed: without it the form does not go on.
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 7);
    assert_eq!(remember(kiosk).get_problem(), FormProblem::CodeTooShort);
    tap_digits(kiosk, code);
    // The screen shows dots, never the digits.
    assert_eq!(remember(kiosk).get_code_dots(), "••••");
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 2);
    for _ in 0..3 {
        kiosk.tap("Next");
    }
    assert_eq!(remember(kiosk).get_step(), 5);
    kiosk.tap("Yes, keep my details");
    kiosk.tap("Save");
    back_to_welcome(kiosk);
    // "Yes, remember me", the name's letters (and Shift), each Next, the phone's and the
    // code's digits, the tick and Save.
    1 + 1 + name.chars().count() + 6 + phone.len() + code.len() + 2
}

fn a_new_consent_version_leaves_old_records_at_theirs(kiosk: &TestKiosk) {
    let text = kiosk
        .core
        .config()
        .borrow()
        .survey
        .remember_me
        .consent_text
        .get("en")
        .cloned()
        .unwrap_or_default();
    for says in ["head office", "12 months", "Saying no changes nothing"] {
        assert!(text.contains(says), "the consent text says {says:?}");
    }
    join(kiosk, "Zuzanna", ZUZ_PHONE, ZUZ_CODE);
    assert_eq!(only(kiosk, "zuzanna").regular.consent().version, 2);
    assert_eq!(
        only(kiosk, "hoa").regular.consent().version,
        1,
        "Hoa agreed to the first text, and her record says so"
    );
}

/// Rates and opens "I'm already a regular" with `phone` typed and Next tapped.
fn to_the_code(kiosk: &TestKiosk, phone: &str) {
    kiosk.rate("Very happy");
    kiosk.tap("Done");
    kiosk.tap("I'm already a regular");
    assert_eq!(kiosk.screen(), Screen::RememberFind);
    tap_digits(kiosk, phone);
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_find_step(), 1);
}

fn try_code(kiosk: &TestKiosk, code: &str) {
    tap_digits(kiosk, code);
    kiosk.tap("Open");
    kiosk.pump_until("the answer", |k| {
        remember(k).get_found() || remember(k).get_problem() != FormProblem::None
    });
}

fn nothing_of_the_record_shows(kiosk: &TestKiosk, name: &str) {
    let r = remember(kiosk);
    assert!(!r.get_found());
    assert_eq!(r.get_found_name(), "");
    assert_eq!(r.get_found_usual(), "");
    for control in ["Change my details", "Forget me", "That's me"] {
        assert!(
            kiosk.find_control(control).is_none(),
            "{control} is offered"
        );
    }
    let shown =
        ElementHandle::find_by_accessible_label(&kiosk.app, &format!("Welcome back, {name}!"))
            .count();
    assert_eq!(shown, 0, "the name shows");
}

fn a_stranger_with_the_phone_number_sees_nothing_and_changes_nothing(kiosk: &TestKiosk) {
    to_the_code(kiosk, ZUZ_PHONE);
    // Only the phone number: nothing of her record, not even whether it exists.
    nothing_of_the_record_shows(kiosk, "Zuzanna");
    try_code(kiosk, "0000");
    assert_eq!(remember(kiosk).get_problem(), FormProblem::NoMatch);
    nothing_of_the_record_shows(kiosk, "Zuzanna");
    // A number no one has gets the very same answer.
    kiosk.tap("Back");
    kiosk.tap("Clear");
    tap_digits(kiosk, "0999888777");
    kiosk.tap("Next");
    try_code(kiosk, "0000");
    assert_eq!(remember(kiosk).get_problem(), FormProblem::NoMatch);
    kiosk.tap("Back");
    kiosk.tap("Back");
    assert_eq!(kiosk.screen(), Screen::RememberOffer);
    kiosk.tap("No, thanks");
    back_to_welcome(kiosk);
    let zuzanna = only(kiosk, "zuzanna");
    assert_eq!(zuzanna.visit_count, 1, "no visit was counted for her");
}

fn the_owner_changes_her_details_with_her_code(kiosk: &TestKiosk) {
    to_the_code(kiosk, ZUZ_PHONE);
    try_code(kiosk, ZUZ_CODE);
    assert!(remember(kiosk).get_found());
    assert_eq!(remember(kiosk).get_found_name(), "Zuzanna");
    kiosk.tap("Change my details");
    assert_eq!(kiosk.screen(), Screen::RememberForm);
    kiosk.tap("Next");
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 7);
    assert!(remember(kiosk).get_has_code());
    // An empty code keeps hers.
    kiosk.tap("Next");
    kiosk.tap("Tea");
    for _ in 0..3 {
        kiosk.tap("Next");
    }
    assert!(!remember(kiosk).get_consent(), "consent is asked again");
    kiosk.tap("Yes, keep my details");
    kiosk.tap("Save");
    back_to_welcome(kiosk);
    let zuzanna = only(kiosk, "zuzanna");
    assert_eq!(
        zuzanna.regular.usual().item.as_ref().map(|s| s.as_str()),
        Some("tea")
    );
    assert!(
        opens_with_code(kiosk, ZUZ_PHONE, ZUZ_CODE),
        "her code still works"
    );
}

fn repeated_wrong_codes_lock_the_pad_for_a_while_shown_on_screen(kiosk: &TestKiosk) {
    // Two misses so far on this kiosk (the stranger's); three more make five.
    to_the_code(kiosk, ZUZ_PHONE);
    try_code(kiosk, "1111");
    assert_eq!(remember(kiosk).get_problem(), FormProblem::NoMatch);
    kiosk.tap("Clear");
    try_code(kiosk, "2222");
    assert_eq!(remember(kiosk).get_problem(), FormProblem::NoMatch);
    try_code(kiosk, "3333");
    let r = remember(kiosk);
    assert_eq!(r.get_problem(), FormProblem::Locked);
    assert!(r.get_locked());
    assert_eq!(r.get_lock_seconds(), 30);
    let message = "Too many wrong tries. Please wait 30 s, or ask our staff.";
    assert_eq!(
        ElementHandle::find_by_accessible_label(&kiosk.app, message).count(),
        1,
        "the wait is on screen"
    );
    // Locked, the pad takes no digits and the right code cannot be tried.
    tap_digits(kiosk, ZUZ_CODE);
    assert_eq!(r.get_proof_length(), 0);
    kiosk.tap("Open");
    assert!(!r.get_found());
    for _ in 0..10 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    kiosk.pump_until("the count down", |k| remember(k).get_lock_seconds() == 20);
    let message = "Too many wrong tries. Please wait 20 s, or ask our staff.";
    assert_eq!(
        ElementHandle::find_by_accessible_label(&kiosk.app, message).count(),
        1
    );
    // The customer leaves; the screens reset, the lock stays with the kiosk.
    for _ in 0..11 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    kiosk.pump_until("the welcome screen", |k| k.screen() == Screen::Welcome);
    to_the_code(kiosk, ZUZ_PHONE);
    assert!(
        remember(kiosk).get_locked(),
        "a new customer finds it locked"
    );
    tap_digits(kiosk, ZUZ_CODE);
    assert_eq!(remember(kiosk).get_proof_length(), 0);
    for _ in 0..10 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    kiosk.pump_until("the end of the lockout", |k| !remember(k).get_locked());
    assert_eq!(remember(kiosk).get_problem(), FormProblem::None);
    try_code(kiosk, ZUZ_CODE);
    assert!(
        remember(kiosk).get_found(),
        "the right code opens it afterwards"
    );
    kiosk.tap("That's me");
    back_to_welcome(kiosk);
}

fn a_regular_without_a_code_is_opened_by_a_barista_and_chooses_one(kiosk: &TestKiosk) {
    // Binh joined before personal codes existed.
    let core = kiosk.core.clone();
    ask(kiosk, "Binh saved", async move {
        core.save_regular(RegularEdit {
            id: None,
            name: "Binh".into(),
            phone: Some(BINH_PHONE.into()),
            usual: Default::default(),
            dietary: None,
            consent_version: 1,
            dietary_consent: false,
            code: None,
        })
        .await
    })
    .expect("saved");
    to_the_code(kiosk, BINH_PHONE);
    kiosk.tap("Ask our staff");
    assert_eq!(remember(kiosk).get_find_step(), 2);
    try_code(kiosk, "9999");
    assert_eq!(remember(kiosk).get_problem(), FormProblem::StaffWrong);
    nothing_of_the_record_shows(kiosk, "Binh");
    try_code(kiosk, BARISTA_PIN);
    assert!(remember(kiosk).get_found());
    assert_eq!(remember(kiosk).get_found_name(), "Binh");
    kiosk.tap("Change my details");
    kiosk.tap("Next");
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_step(), 7);
    assert!(!remember(kiosk).get_has_code());
    // He has no code yet: now he chooses one.
    kiosk.tap("Next");
    assert_eq!(remember(kiosk).get_problem(), FormProblem::CodeTooShort);
    tap_digits(kiosk, "8642");
    kiosk.tap("Next");
    for _ in 0..3 {
        kiosk.tap("Next");
    }
    kiosk.tap("Yes, keep my details");
    kiosk.tap("Save");
    back_to_welcome(kiosk);
    let binh = only(kiosk, "binh");
    assert_eq!(
        binh.regular.consent().version,
        2,
        "he agreed to today's text"
    );
    let hash = binh.regular.code_hash().expect("a code hash");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("8642"));
    assert!(opens_with_code(kiosk, BINH_PHONE, "8642"));
}

fn the_owner_erases_her_record_with_her_code_in_fewer_steps_than_joining(kiosk: &TestKiosk) {
    let joining = 1 + 1 + "Zuzanna".len() + 6 + ZUZ_PHONE.len() + ZUZ_CODE.len() + 2;
    to_the_code(kiosk, ZUZ_PHONE);
    try_code(kiosk, ZUZ_CODE);
    kiosk.tap("Forget me");
    kiosk.tap("Yes, forget me");
    back_to_welcome(kiosk);
    // "I'm already a regular", the phone's digits, Next, the code's digits, Open, and
    // the two taps of "Forget me".
    let erasing = 1 + ZUZ_PHONE.len() + 1 + ZUZ_CODE.len() + 1 + 2;
    assert!(
        erasing < joining,
        "{erasing} taps to erase, {joining} to join"
    );
    assert!(search(kiosk, "zuzanna").is_empty(), "erased");
    assert!(!opens_with_code(kiosk, ZUZ_PHONE, ZUZ_CODE));
    assert_eq!(
        only(kiosk, "hoa").regular.consent().version,
        1,
        "others stay"
    );
}
