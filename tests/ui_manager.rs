//! The manager's screen, driven through the real Slint UI under the testing backend:
//! today's numbers from ratings recorded through the core (and live, from a rating tapped
//! while the manager watches), sync now, settings that are saved, PINs, a slow USB stick
//! that does not freeze the screen, the CSV export, and no English in the Vietnamese
//! screen's messages. One test function, as the backend is set up once per process.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::TestKiosk;
use countertop::config::KioskConfig;
use countertop::core::{Core, Tap};
use countertop::feedback::{Comment, Details, ReasonSlug, Scale, Score};
use countertop::store::{PinCheck, StaffRole};
use countertop::ui::{App, Kiosk, Manager, ManagerPanel, ManagerTab, Outcome, Screen};
use i_slint_backend_testing::{mock_elapsed_time, AccessibleRole, ElementHandle};
use slint::{ComponentHandle, Model};

/// Staff mode closes after this long without a touch.
const STAFF_IDLE: Duration = Duration::from_secs(60);

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// Records a rating of `score` through the core, with optional details.
fn record(core: &Core, score: i64, details: Option<Details>) {
    block_on(async {
        let rated = core
            .rate(Tap {
                score: Score::new(score, Scale::FIVE).unwrap(),
                touchpoint: countertop_protocol::Touchpoint::new("visit").unwrap(),
                survey_version: 1,
            })
            .await
            .expect("rating recorded");
        if let Some(details) = details {
            core.attach_details(rated.recorded.id, details)
                .await
                .expect("details attached");
        }
    });
}

/// Runs the event loop `turns` times, so whatever was answered meanwhile is shown.
fn pump(kiosk: &TestKiosk, turns: usize) {
    let mut turn = 0;
    kiosk.pump_until("some turns of the event loop", |_| {
        turn += 1;
        turn > turns
    });
}

fn manager(kiosk: &TestKiosk) -> Manager<'_> {
    kiosk.app.global::<Manager>()
}

fn tap_tab(kiosk: &TestKiosk, label: &str) {
    kiosk.tap_with_role(label, AccessibleRole::Tab);
}

/// Empties the field the keyboard types into, then types `text` (lower case, digits,
/// and the address keys).
fn retype(kiosk: &TestKiosk, current: &str, text: &str) {
    for _ in current.chars() {
        kiosk.tap("Delete");
    }
    for c in text.chars() {
        kiosk.tap(&c.to_string());
    }
}

#[test]
fn manager_screen_through_the_real_ui() {
    i_slint_backend_testing::init_integration_test_with_mock_time();

    let data = tempfile::tempdir().unwrap();
    let mut config = KioskConfig::default();
    config.timeouts.repeat_secs = 0.0;
    config.data_dir = data.path().to_owned();
    let kiosk = TestKiosk::start(config);
    // The first day is ui_staff.rs's; here the defaults are already replaced.
    block_on(kiosk.core.complete_first_day("2468".into(), "1357".into())).unwrap();
    // Entering by PIN is staff mode's; here its panel is driven directly.
    let panel = kiosk.flows.staff.manager().clone();

    todays_numbers_match_the_recorded_ratings(&kiosk, &panel);
    today_follows_a_rating_tapped_while_the_manager_watches(&kiosk);
    sync_now_wakes_sync_and_the_sync_tab_shows_its_state(&kiosk);
    settings_changed_on_screen_are_saved(&kiosk);
    a_new_pin_typed_twice_replaces_the_old_one(&kiosk);
    enrolment_refused_says_why(&kiosk);
    a_slow_usb_stick_does_not_freeze_the_screen(&kiosk, &panel);
    export_writes_todays_ratings_or_says_why_not(&kiosk, data.path());
    in_vietnamese_no_english_reaches_the_manager(&kiosk);
    touches_keep_staff_mode_open_and_exit_leaves(&kiosk, &panel);
}

fn today_follows_a_rating_tapped_while_the_manager_watches(kiosk: &TestKiosk) {
    tap_tab(kiosk, "Today");
    kiosk.pump_until("today's numbers", |k| {
        k.value_of("Ratings today").as_deref() == Some("5")
    });
    // The customer's screen of a second window on the same core, tapped while the
    // manager's stays on Today.
    let customer = App::new().expect("a second window");
    customer.show().expect("it shows");
    let _flows = countertop::ui::install(&customer, kiosk.core.clone());
    ElementHandle::find_by_accessible_label(&customer, "Very happy")
        .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .expect("the faces")
        .invoke_accessible_default_action();
    kiosk.pump_until("the new rating on Today", |k| {
        k.value_of("Ratings today").as_deref() == Some("6")
    });
    assert_eq!(
        manager(kiosk).get_tab(),
        ManagerTab::Today,
        "never reopened"
    );
    assert_eq!(kiosk.value_of("Score 5").as_deref(), Some("3"));
    // Not while the manager looks at another tab.
    tap_tab(kiosk, "Sync");
    record(&kiosk.core, 1, None);
    pump(kiosk, 50);
    assert_eq!(manager(kiosk).get_count(), 6);
    tap_tab(kiosk, "Today");
    kiosk.pump_until("today's numbers", |k| {
        k.value_of("Ratings today").as_deref() == Some("7")
    });
    customer.hide().expect("hides");
}

fn a_slow_usb_stick_does_not_freeze_the_screen(kiosk: &TestKiosk, panel: &ManagerPanel) {
    let media = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(media.path().join("pi/SLOWSTICK")).unwrap();
    panel.set_media(media.path().to_owned());
    // The core is busy as it would be on a stick that takes seconds to answer.
    let (release, stalled) = std::sync::mpsc::channel::<()>();
    kiosk.core.stall_until(stalled);
    tap_tab(kiosk, "Export");
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Export);
    assert!(manager(kiosk).get_looking_for_usb());
    // The screen keeps answering while the core looks.
    pump(kiosk, 50);
    tap_tab(kiosk, "Sync");
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Sync);
    tap_tab(kiosk, "Export");
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Export);
    assert!(manager(kiosk).get_looking_for_usb(), "still looking");
    assert!(!manager(kiosk).get_export_path().contains("SLOWSTICK"));
    release.send(()).unwrap();
    kiosk.pump_until("the stick found", |k| {
        manager(k).get_export_path().contains("SLOWSTICK")
    });
    kiosk.pump_until("the lookups done", |k| !manager(k).get_looking_for_usb());
    let path = manager(kiosk).get_export_path().to_string();
    assert!(
        path.starts_with(&media.path().join("pi/SLOWSTICK").display().to_string()),
        "{path}"
    );
    // Without a stick again, for the export test.
    let empty = tempfile::tempdir().unwrap();
    panel.set_media(empty.path().to_owned());
    tap_tab(kiosk, "Today");
    tap_tab(kiosk, "Export");
    kiosk.pump_until("no stick", |k| {
        !manager(k).get_looking_for_usb() && !manager(k).get_export_path().contains("SLOWSTICK")
    });
}

/// The Vietnamese of `english` in the kiosk's own `.po` file.
fn vietnamese(english: &str) -> String {
    let po = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/lang/vi/LC_MESSAGES/countertop.po"
    ))
    .expect("the Vietnamese .po");
    let mut lines = po.lines();
    let quoted = format!("msgid \"{}\"", english.replace('"', "\\\""));
    while let Some(line) = lines.next() {
        if line == quoted {
            let msgstr = lines.next().expect("a msgstr");
            let text = msgstr
                .strip_prefix("msgstr \"")
                .and_then(|t| t.strip_suffix('"'))
                .expect("a one-line msgstr");
            assert!(!text.is_empty(), "{english:?} has no Vietnamese");
            return text.replace("\\\"", "\"");
        }
    }
    panic!("{english:?} is not in the Vietnamese .po");
}

/// Fails if a word of any of `sources` (the English texts) shows in `shown`.
fn assert_no_english(shown: &str, sources: &[&str]) {
    let lower = shown.to_lowercase();
    for word in sources
        .iter()
        .flat_map(|s| s.split(|c: char| !c.is_ascii_alphabetic()))
        .filter(|w| w.len() > 3 && !w.starts_with("http"))
    {
        assert!(
            !lower.contains(&word.to_lowercase()),
            "English {word:?} in {shown:?}"
        );
    }
}

fn in_vietnamese_no_english_reaches_the_manager(kiosk: &TestKiosk) {
    countertop::ui::language::select("vi");
    let m = manager(kiosk);

    // A settings error: a language this kiosk does not offer.
    m.invoke_show_tab(ManagerTab::Settings);
    m.invoke_set_default_language("fr".into());
    kiosk.pump_until("the setting refused", |k| {
        manager(k).get_settings_outcome() == Outcome::Failed
    });
    let (prefix, problem) = (
        "Could not save the setting: {}",
        "This kiosk does not offer that language",
    );
    let shown = kiosk
        .value_of(&vietnamese("Settings result"))
        .expect("the settings result, labelled in Vietnamese");
    assert_eq!(
        shown,
        vietnamese(prefix).replacen("{}", &vietnamese(problem), 1)
    );
    assert_no_english(
        &shown,
        &[prefix, problem, "the language \"fr\" is not offered"],
    );

    // An enrolment failure: an address that is not HQ's.
    m.invoke_open_enroll();
    for c in "nonsense".chars() {
        m.invoke_type_key(c.to_string().into());
    }
    m.invoke_edit(countertop::ui::ManagerField::EnrollCode);
    for c in "abc123".chars() {
        m.invoke_type_key(c.to_string().into());
    }
    m.invoke_enroll();
    kiosk.pump_until("the enrolment refused", |k| {
        manager(k).get_enroll_outcome() == Outcome::Failed
    });
    let (prefix, problem) = (
        "Enrolment failed: {}",
        "That is not a head office address; it starts with https:// or http://",
    );
    let shown = kiosk
        .value_of(&vietnamese("Enrolment result"))
        .expect("the enrolment result, labelled in Vietnamese");
    assert_eq!(
        shown,
        vietnamese(prefix).replacen("{}", &vietnamese(problem), 1)
    );
    assert_no_english(&shown, &[prefix, problem, "is not an HQ address (expected"]);
    m.invoke_close_enroll();

    // A PIN refused as too easy to guess.
    m.invoke_change_pin(countertop::ui::StaffRole::Barista);
    for _ in 0..4 {
        m.invoke_pin_digit("7".into());
    }
    m.invoke_pin_next();
    let problem =
        "Too easy to guess: not 1234 or 0000, not one digit repeated, not a run such as 2345";
    let shown = kiosk
        .value_of(&vietnamese("PIN problem"))
        .expect("the PIN problem, labelled in Vietnamese");
    assert_eq!(shown, vietnamese(problem));
    assert_no_english(&shown, &[problem]);
    m.invoke_pin_cancel();
    countertop::ui::language::select("en");
}

fn touches_keep_staff_mode_open_and_exit_leaves(kiosk: &TestKiosk, panel: &ManagerPanel) {
    let almost = STAFF_IDLE - Duration::from_secs(5);
    tap_tab(kiosk, "Today");
    mock_elapsed_time(almost);
    tap_tab(kiosk, "Settings");
    mock_elapsed_time(almost);
    kiosk.tap("Longer idle timeout");
    mock_elapsed_time(almost);
    assert_eq!(kiosk.screen(), Screen::Manager, "every touch counts");
    mock_elapsed_time(Duration::from_secs(6));
    assert_eq!(
        kiosk.screen(),
        Screen::Welcome,
        "a minute without one closes it"
    );

    kiosk.app.global::<Kiosk>().set_screen(Screen::Manager);
    panel.open(false);
    kiosk.tap("Exit");
    assert_eq!(kiosk.screen(), Screen::Welcome);
}

fn enrolment_refused_says_why(kiosk: &TestKiosk) {
    tap_tab(kiosk, "Settings");
    kiosk.tap("Enroll…");
    // The address field takes the keyboard first.
    for c in "nonsense".chars() {
        kiosk.tap(&c.to_string());
    }
    kiosk.tap_with_role("Code", AccessibleRole::TextInput);
    for c in "abc123".chars() {
        kiosk.tap(&c.to_string());
    }
    assert_eq!(manager(kiosk).get_enroll_url(), "nonsense");
    assert_eq!(manager(kiosk).get_enroll_code(), "abc123");
    kiosk.tap("Enroll");
    kiosk.pump_until("the enrolment to be refused", |k| {
        manager(k).get_enroll_outcome() == Outcome::Failed
    });
    let result = kiosk.value_of("Enrolment result").unwrap();
    assert!(result.starts_with("Enrolment failed: "), "{result}");
    kiosk.tap("Cancel");
    assert!(kiosk.find_control("q").is_none(), "the keyboard closed");
    assert_eq!(manager(kiosk).get_enroll_code(), "", "the code is not kept");
}

fn todays_numbers_match_the_recorded_ratings(kiosk: &TestKiosk, panel: &ManagerPanel) {
    let tasty = Details {
        reasons: vec![ReasonSlug::new("tasty").unwrap()],
        comment: Comment::typed("Lovely flat white"),
        nps: None,
    };
    record(&kiosk.core, 5, Some(tasty));
    record(&kiosk.core, 5, None);
    record(&kiosk.core, 4, None);
    record(&kiosk.core, 2, None);
    record(&kiosk.core, 1, None);

    kiosk.app.global::<Kiosk>().set_screen(Screen::Manager);
    panel.open(false);
    kiosk.pump_until("today's numbers", |k| {
        k.value_of("Ratings today").as_deref() == Some("5")
    });
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Today);
    assert_eq!(kiosk.value_of("CSAT").as_deref(), Some("60%"));
    assert_eq!(kiosk.value_of("Average").as_deref(), Some("3.4"));
    for (score, count) in [(5, "2"), (4, "1"), (3, "0"), (2, "1"), (1, "1")] {
        assert_eq!(
            kiosk.value_of(&format!("Score {score}")).as_deref(),
            Some(count),
            "score {score}"
        );
    }
    // The reason by its label, the comment, and the hour it came in.
    assert_eq!(kiosk.value_of("Tasty").as_deref(), Some("1"));
    let comments = manager(kiosk).get_latest_comments();
    assert_eq!(comments.row_count(), 1);
    assert_eq!(comments.row_data(0).unwrap().text, "Lovely flat white");
    let by_hour: Vec<i32> = manager(kiosk).get_by_hour().iter().collect();
    assert_eq!(by_hour.len(), 24);
    assert_eq!(by_hour.iter().sum::<i32>(), 5);
}

fn sync_now_wakes_sync_and_the_sync_tab_shows_its_state(kiosk: &TestKiosk) {
    tap_tab(kiosk, "Sync");
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Sync);
    kiosk.tap("Sync now");
    assert!(manager(kiosk).get_syncing());
    // Not enrolled: the round ends at once and reports back.
    kiosk.pump_until("sync to report", |k| !manager(k).get_syncing());
    assert_eq!(
        kiosk.value_of("Head office").as_deref(),
        Some("Not enrolled")
    );
    kiosk.pump_until("the outbox count", |k| {
        k.value_of("Waiting to send")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n >= 5)
    });
    assert_eq!(kiosk.value_of("Quarantined").as_deref(), Some("0"));
}

fn settings_changed_on_screen_are_saved(kiosk: &TestKiosk) {
    tap_tab(kiosk, "Settings");
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Settings);
    assert_eq!(manager(kiosk).get_idle_secs(), 20);
    kiosk.tap("Longer idle timeout");
    kiosk.tap("Longer idle timeout");
    assert_eq!(manager(kiosk).get_idle_secs(), 30);
    kiosk.tap("Shorter idle timeout");
    assert_eq!(manager(kiosk).get_idle_secs(), 25);

    let remember = kiosk.find_control("Offer “remember me”").unwrap();
    assert_eq!(remember.accessible_checked(), Some(true));
    kiosk.tap("Offer “remember me”");
    assert_eq!(remember.accessible_checked(), Some(false));

    kiosk.tap("Tiếng Việt");
    kiosk.pump_until("the settings saved", |k| {
        manager(k).get_settings_outcome() == Outcome::Done
    });
    let saved = block_on(kiosk.core.settings()).unwrap();
    assert_eq!(saved.idle_secs, Some(25.0));
    assert_eq!(saved.remember_me, Some(false));
    assert_eq!(saved.default_language.as_deref(), Some("vi"));
    // ...and they are in force at once.
    let in_force = kiosk.core.config().borrow().clone();
    assert_eq!(in_force.timeouts.idle_secs, 25.0);
    assert!(!in_force.survey.remember_me.enabled);
    assert_eq!(in_force.languages.default, "vi");
    assert_eq!(
        kiosk
            .find_control("Tiếng Việt")
            .unwrap()
            .accessible_checked(),
        Some(true)
    );
    kiosk.tap("English");
    kiosk.pump_until("English again", |k| {
        k.core.config().borrow().languages.default == "en"
    });
}

fn a_new_pin_typed_twice_replaces_the_old_one(kiosk: &TestKiosk) {
    kiosk.tap("Change manager PIN");
    // A PIN too easy to guess is refused at once.
    for d in ["5", "6", "7", "8"] {
        kiosk.tap(d);
    }
    kiosk.tap("Next");
    assert_eq!(manager(kiosk).get_pin_step(), 1);
    assert_eq!(
        manager(kiosk).get_pin_problem(),
        countertop::ui::Problem::PinWeak
    );
    assert!(kiosk
        .value_of("PIN problem")
        .is_some_and(|t| t.starts_with("Too easy to guess")));
    // Two entries that differ are refused, and the pad starts over.
    for d in ["5", "8", "2", "9"] {
        kiosk.tap(d);
    }
    assert_eq!(manager(kiosk).get_pin_length(), 4);
    kiosk.tap("Next");
    assert_eq!(manager(kiosk).get_pin_step(), 2);
    for d in ["5", "8", "2", "8"] {
        kiosk.tap(d);
    }
    kiosk.tap("Save PIN");
    assert_eq!(manager(kiosk).get_pin_step(), 1);
    assert_eq!(manager(kiosk).get_pin_length(), 0);

    for _ in 0..2 {
        for d in ["5", "8", "2", "9"] {
            kiosk.tap(d);
        }
        kiosk.tap(if manager(kiosk).get_pin_step() == 1 {
            "Next"
        } else {
            "Save PIN"
        });
    }
    kiosk.pump_until("the PIN saved", |k| {
        manager(k).get_pin_changed() == countertop::ui::StaffRole::Manager
    });
    assert!(kiosk.find_control("Save PIN").is_none(), "the pad closed");
    assert_eq!(
        block_on(kiosk.core.check_pin("5829".into())).unwrap(),
        PinCheck::Granted(StaffRole::Manager)
    );
}

fn export_writes_todays_ratings_or_says_why_not(kiosk: &TestKiosk, data_dir: &Path) {
    tap_tab(kiosk, "Export");
    assert_eq!(manager(kiosk).get_tab(), ManagerTab::Export);
    kiosk.pump_until("the default path", |k| !manager(k).get_looking_for_usb());
    let default_path = manager(kiosk).get_export_path().to_string();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert!(
        default_path.ends_with(&format!("ratings-{today}.csv")),
        "{default_path}"
    );
    // Without a USB stick, into the kiosk's own exports folder, made on first use.
    let no_stick = default_path.starts_with(&data_dir.display().to_string());
    if no_stick {
        kiosk.tap("Export");
        kiosk.pump_until("the export", |k| {
            manager(k).get_export_outcome() != Outcome::Working
        });
        assert_eq!(manager(kiosk).get_export_outcome(), Outcome::Done);
        assert!(Path::new(&default_path).is_file());
    }

    // A path typed on the keyboard.
    let folder = PathBuf::from(format!("/tmp/ctm{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let target = folder.join("today.csv");
    let _ = std::fs::remove_file(&target);
    kiosk.tap_with_role("File", AccessibleRole::TextInput);
    assert!(kiosk.find_control("q").is_some(), "the keyboard is up");
    retype(kiosk, &default_path, &target.display().to_string());
    assert_eq!(
        manager(kiosk).get_export_path(),
        target.display().to_string()
    );
    kiosk.tap("Done");
    kiosk.tap("Export");
    kiosk.pump_until("the export", |k| {
        manager(k).get_export_outcome() != Outcome::Working
    });
    assert_eq!(manager(kiosk).get_export_outcome(), Outcome::Done);
    let result = kiosk.value_of("Export result").unwrap();
    assert!(result.starts_with("Saved 7 ratings to "), "{result}");
    let csv = std::fs::read_to_string(&target).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 8, "{csv}");
    assert!(lines[0].starts_with("local_time,"));
    let scores: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    assert_eq!(scores, ["5", "5", "4", "2", "1", "5", "1"]);
    assert!(lines[1].contains("tasty") && lines[1].contains("Lovely flat white"));

    // Into a "folder" that is a file: refused, with the reason on screen.
    kiosk.tap_with_role("File", AccessibleRole::TextInput);
    for c in "/x.csv".chars() {
        kiosk.tap(&c.to_string());
    }
    kiosk.tap("Done");
    kiosk.tap("Export");
    kiosk.pump_until("the failed export", |k| {
        manager(k).get_export_outcome() != Outcome::Working
    });
    assert_eq!(manager(kiosk).get_export_outcome(), Outcome::Failed);
    let result = kiosk.value_of("Export result").unwrap();
    assert!(result.starts_with("Export failed: "), "{result}");
    assert!(result.contains("today.csv"), "{result}");
    let _ = std::fs::remove_dir_all(&folder);
}
