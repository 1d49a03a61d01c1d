//! The customer flow, driven through the real Slint UI under the testing backend with
//! mocked time. The testing backend's event loop can be set up once per process, so the
//! scenarios run in order inside one test, each on a fresh kiosk and database.

mod common;

use std::time::Duration;

use common::TestKiosk;
use countertop::config::KioskConfig;
use countertop::ui::{Kiosk, Screen};
use i_slint_backend_testing::AccessibleRole;
use slint::{ComponentHandle, Model};

/// Moves Slint's mocked time and the kiosk's own monotonic clock on together, so timers
/// and the repeat filter see the same mocked time.
fn elapse(by: Duration) {
    i_slint_backend_testing::mock_elapsed_time(by);
    countertop::clock::advance_mocked(by);
}

#[test]
fn customer_flow_through_the_real_ui() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    countertop::clock::mock_monotonic();
    a_tap_becomes_a_committed_rating_before_the_screen_moves_on();
    chips_and_comment_attach_to_the_same_rating();
    thank_you_returns_to_welcome_after_its_timeout();
    idle_resets_any_screen_keeping_what_was_given();
    the_next_customer_never_sees_the_previous_choices();
    a_quick_second_rating_is_flagged_as_a_suspected_repeat();
    language_switches_and_resets_to_the_default_after_the_customer();
    four_faces_have_no_neutral_face_and_accessible_labels();
    an_nps_answer_travels_with_the_rating_s_details();
    skipping_the_nps_question_records_no_answer_and_never_blocks_done();
    the_idle_reset_keeps_the_nps_answer_given_and_clears_it_for_the_next_customer();
    a_survey_without_an_nps_question_shows_no_nps_row();
    an_unhappy_face_gets_an_apology_and_no_remember_me_offer_by_default();
    a_survey_may_offer_remember_me_after_an_unhappy_face_too();
    a_full_disk_keeps_the_customer_screen_working_and_loses_nothing_stored();
    a_disk_full_at_start_still_thanks_customers_and_shows_staff_the_red_mark();
}

fn a_tap_becomes_a_committed_rating_before_the_screen_moves_on() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    assert_eq!(kiosk.screen(), Screen::Welcome);
    assert!(kiosk.ratings().is_empty());
    kiosk.tap("Very happy");
    // The screen waits for the commit: while busy the faces ignore taps.
    assert!(kiosk.app.global::<Kiosk>().get_busy() || kiosk.screen() == Screen::FollowUp);
    kiosk.pump_until("the follow-up screen", |k| k.screen() == Screen::FollowUp);
    // By the time the follow-up shows, the rating is on disk.
    let ratings = kiosk.ratings();
    assert_eq!(ratings.len(), 1);
    assert_eq!(ratings[0].score, 5);
    assert_eq!(ratings[0].scale, 5);
    assert_eq!(ratings[0].touchpoint, "visit");
    assert_eq!(ratings[0].survey_version, 1);
    assert!(!ratings[0].suspected_repeat);
    assert!(ratings[0].reasons.is_empty());
    // A happy rating asks for praise.
    assert!(kiosk.app.global::<Kiosk>().get_happy());
    assert!(kiosk.find_control("Fast service").is_some());
    assert!(kiosk.find_control("Slow service").is_none());
}

fn chips_and_comment_attach_to_the_same_rating() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.rate("Unhappy");
    assert!(!kiosk.app.global::<Kiosk>().get_happy());
    kiosk.tap("Slow service");
    kiosk.tap("Price");
    kiosk.tap("Cleanliness");
    kiosk.tap("Cleanliness"); // changed their mind
    let chip = kiosk.find_control("Slow service").unwrap();
    assert_eq!(chip.accessible_checked(), Some(true));

    kiosk.tap("Add a comment");
    assert_eq!(kiosk.screen(), Screen::Comment);
    kiosk.type_on_keyboard("too slox");
    kiosk.tap("Delete");
    kiosk.type_on_keyboard("w");
    kiosk.tap("Shift");
    assert!(kiosk.find_control("i").is_none(), "shift shows capitals");
    kiosk.tap("I");
    assert!(kiosk.find_control("i").is_some(), "shift lasts one letter");
    assert_eq!(kiosk.app.global::<Kiosk>().get_comment(), "too slowI");
    kiosk.tap("OK");
    assert_eq!(kiosk.screen(), Screen::FollowUp);
    kiosk.done();
    assert_eq!(kiosk.screen(), Screen::ThankYou);

    kiosk.pump_until("the reasons on disk", |k| {
        !k.ratings()[0].reasons.is_empty()
    });
    let ratings = kiosk.ratings();
    assert_eq!(ratings.len(), 1, "details never make a new rating");
    assert_eq!(ratings[0].score, 2);
    assert_eq!(ratings[0].reasons, ["slow_service", "price"]);
    assert_eq!(ratings[0].comment.as_deref(), Some("too slowI"));
}

fn thank_you_returns_to_welcome_after_its_timeout() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.rate("Happy");
    kiosk.done();
    assert_eq!(kiosk.screen(), Screen::ThankYou);
    elapse(Duration::from_millis(2_900));
    assert_eq!(kiosk.screen(), Screen::ThankYou);
    elapse(Duration::from_millis(200));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    // Done with nothing picked adds nothing to the rating.
    let ratings = kiosk.ratings();
    assert_eq!(ratings.len(), 1);
    assert!(ratings[0].reasons.is_empty() && ratings[0].comment.is_none());
}

fn idle_resets_any_screen_keeping_what_was_given() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.rate("Very unhappy");
    kiosk.tap("Quality");
    // Touches keep the screen alive...
    elapse(Duration::from_secs(15));
    kiosk.tap("Add a comment");
    kiosk.type_on_keyboard("cold");
    elapse(Duration::from_secs(19));
    assert_eq!(kiosk.screen(), Screen::Comment);
    // ...and 20 s without one returns to welcome.
    elapse(Duration::from_millis(1_100));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    assert_eq!(kiosk.app.global::<Kiosk>().get_comment(), "");
    kiosk.pump_until("the reasons on disk", |k| k.ratings()[0].comment.is_some());
    let rating = &kiosk.ratings()[0];
    assert_eq!(rating.reasons, ["quality"]);
    assert_eq!(rating.comment.as_deref(), Some("cold"));

    // The follow-up screen resets too, and a rating with nothing added stays as it was.
    kiosk.rate("Neutral");
    elapse(Duration::from_secs(21));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    assert_eq!(kiosk.ratings().len(), 2);
}

fn the_next_customer_never_sees_the_previous_choices() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.rate("Very happy");
    kiosk.tap("Tasty");
    kiosk.tap("Add a comment");
    kiosk.type_on_keyboard("great");
    kiosk.tap("OK");
    kiosk.done();
    elapse(Duration::from_secs(4));
    assert_eq!(kiosk.screen(), Screen::Welcome);

    kiosk.rate("Very happy");
    let adapter = kiosk.app.global::<Kiosk>();
    assert_eq!(adapter.get_comment(), "");
    assert!(adapter.get_chips().iter().all(|chip| !chip.selected));
    assert_eq!(
        kiosk.find_control("Tasty").unwrap().accessible_checked(),
        Some(false)
    );
    kiosk.done();
    elapse(Duration::from_secs(4));
    let ratings = kiosk.wait_for_ratings(2);
    assert_eq!(ratings[0].reasons, ["tasty"]);
    assert!(ratings[1].reasons.is_empty());
    assert!(ratings[1].comment.is_none());
}

fn a_quick_second_rating_is_flagged_as_a_suspected_repeat() {
    let mut config = KioskConfig::default();
    // Longer than the thank-you screen, so a second customer can tap inside it.
    config.timeouts.repeat_secs = 6.0;
    let kiosk = TestKiosk::start(config);
    kiosk.rate("Very unhappy");
    kiosk.done();
    elapse(Duration::from_secs(4));
    kiosk.rate("Very unhappy"); // 4 s after the first tap: flagged
    kiosk.done();
    elapse(Duration::from_millis(5_900));
    kiosk.rate("Unhappy"); // 5.9 s after the latest: the window runs from it, flagged
    kiosk.done();
    elapse(Duration::from_millis(6_100));
    kiosk.rate("Happy"); // 6.1 s after the latest: a new customer
    let ratings = kiosk.wait_for_ratings(4);
    let flags: Vec<bool> = ratings.iter().map(|r| r.suspected_repeat).collect();
    assert_eq!(flags, [false, true, true, false]);
    // Flagged ratings are kept, but left out of the statistics.
    let store = countertop::store::Store::open(&kiosk.database).unwrap();
    let now = chrono::Utc::now();
    let summary = store
        .summary(
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        )
        .unwrap();
    assert_eq!(summary.count, 2);
    assert_eq!(summary.suspected_repeats, 2);
}

/// The default survey, asking the NPS question too.
fn nps_config() -> KioskConfig {
    let mut config = KioskConfig::default();
    config.survey.nps_question = Some(
        [
            (
                "en".to_owned(),
                "How likely are you to recommend us?".to_owned(),
            ),
            (
                "vi".to_owned(),
                "Bạn có sẵn lòng giới thiệu quán cho bạn bè không?".to_owned(),
            ),
        ]
        .into(),
    );
    config
}

/// The `rating_details` events queued for HQ, oldest first.
fn queued_details(kiosk: &TestKiosk) -> Vec<serde_json::Value> {
    countertop::store::Store::open(&kiosk.database)
        .unwrap()
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|(_, kind, _)| kind == "rating_details")
        .map(|(_, _, body)| body)
        .collect()
}

fn nps_answer(kiosk: &TestKiosk, answer: &str) -> Option<bool> {
    kiosk
        .find_control(answer)
        .and_then(|a| a.accessible_checked())
}

fn an_nps_answer_travels_with_the_rating_s_details() {
    let kiosk = TestKiosk::start(nps_config());
    kiosk.rate("Very happy");
    assert!(
        kiosk
            .find_with_role("How likely are you to recommend us?", AccessibleRole::Text)
            .is_some(),
        "the question shows on the follow-up"
    );
    for end in ["Not at all likely", "Extremely likely"] {
        assert!(kiosk.find_with_role(end, AccessibleRole::Text).is_some());
    }
    for answer in 0..=10 {
        let target = kiosk.find_control(&answer.to_string()).unwrap();
        let size = target.size();
        assert!(
            size.width >= 48.0 && size.height >= 48.0,
            "{answer} is a {size:?} target"
        );
    }
    kiosk.tap("9");
    assert_eq!(nps_answer(&kiosk, "9"), Some(true));
    kiosk.tap("7"); // changed their mind: one answer only
    assert_eq!(nps_answer(&kiosk, "9"), Some(false));
    assert_eq!(nps_answer(&kiosk, "7"), Some(true));
    kiosk.tap("Tasty");
    kiosk.done();
    assert_eq!(kiosk.screen(), Screen::ThankYou);
    kiosk.pump_until("the details queued", |k| !queued_details(k).is_empty());
    let details = queued_details(&kiosk);
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["nps"], 7);
    assert_eq!(details[0]["reasons"], serde_json::json!(["tasty"]));
    assert_eq!(
        details[0]["rating_id"],
        kiosk.ratings()[0].id.to_string(),
        "the answer names the rating"
    );
    assert_eq!(kiosk.ratings().len(), 1, "an answer is no new rating");
}

fn skipping_the_nps_question_records_no_answer_and_never_blocks_done() {
    let kiosk = TestKiosk::start(nps_config());
    kiosk.rate("Happy");
    kiosk.tap("8");
    kiosk.tap("8"); // taken back
    assert_eq!(nps_answer(&kiosk, "8"), Some(false));
    kiosk.tap("Fast service");
    kiosk.done();
    assert_eq!(
        kiosk.screen(),
        Screen::ThankYou,
        "Done never waits for an answer"
    );
    kiosk.pump_until("the details queued", |k| !queued_details(k).is_empty());
    assert!(queued_details(&kiosk)[0].get("nps").is_none());
    elapse(Duration::from_secs(4));
    // Nothing at all given: nothing queued beside the rating.
    kiosk.rate("Very happy");
    kiosk.done();
    elapse(Duration::from_secs(4));
    kiosk.wait_for_ratings(2);
    assert_eq!(queued_details(&kiosk).len(), 1);
}

fn the_idle_reset_keeps_the_nps_answer_given_and_clears_it_for_the_next_customer() {
    let kiosk = TestKiosk::start(nps_config());
    kiosk.rate("Neutral");
    kiosk.tap("3");
    elapse(Duration::from_secs(21));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    assert_eq!(kiosk.app.global::<Kiosk>().get_nps(), -1);
    kiosk.pump_until("the walked-away answer queued", |k| {
        !queued_details(k).is_empty()
    });
    assert_eq!(queued_details(&kiosk)[0]["nps"], 3);
    kiosk.rate("Very happy");
    assert_eq!(
        nps_answer(&kiosk, "3"),
        Some(false),
        "the next customer starts blank"
    );
    kiosk.done();
    elapse(Duration::from_secs(4));
    kiosk.wait_for_ratings(2);
    assert_eq!(queued_details(&kiosk).len(), 1);
}

fn a_survey_without_an_nps_question_shows_no_nps_row() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    kiosk.rate("Very happy");
    assert!(kiosk.find_control("10").is_none());
    assert!(kiosk
        .find_with_role("Not at all likely", AccessibleRole::Text)
        .is_none());
}

fn an_unhappy_face_gets_an_apology_and_no_remember_me_offer_by_default() {
    let config = KioskConfig::default();
    assert!(config.survey.remember_me.enabled);
    assert!(!config.survey.remember_me.offer_after_unhappy);
    let kiosk = TestKiosk::start(config);
    for face in ["Very unhappy", "Unhappy"] {
        kiosk.rate(face);
        kiosk.tap("Done");
        assert_eq!(kiosk.screen(), Screen::ThankYou, "no offer after {face}");
        assert!(kiosk
            .find_with_role("We're sorry we let you down.", AccessibleRole::Text)
            .is_some());
        elapse(Duration::from_secs(4));
    }
    // The neutral face and the happy ones are asked as before, and thanked, not pitied.
    for face in ["Neutral", "Very happy"] {
        kiosk.rate(face);
        kiosk.tap("Done");
        assert_eq!(kiosk.screen(), Screen::RememberOffer, "offer after {face}");
        kiosk.tap("No, thanks");
        assert!(kiosk
            .find_with_role("We're sorry we let you down.", AccessibleRole::Text)
            .is_none());
        elapse(Duration::from_secs(4));
    }
}

fn a_survey_may_offer_remember_me_after_an_unhappy_face_too() {
    let mut config = KioskConfig::default();
    config.survey.remember_me.offer_after_unhappy = true;
    let kiosk = TestKiosk::start(config);
    kiosk.rate("Very unhappy");
    kiosk.tap("Done");
    assert_eq!(kiosk.screen(), Screen::RememberOffer);
    kiosk.tap("No, thanks");
    assert_eq!(kiosk.screen(), Screen::ThankYou);
    assert!(kiosk
        .find_with_role("We're sorry we let you down.", AccessibleRole::Text)
        .is_some());
    elapse(Duration::from_secs(4));
}

fn language_switches_and_resets_to_the_default_after_the_customer() {
    let kiosk = TestKiosk::start(KioskConfig::default());
    let adapter = kiosk.app.global::<Kiosk>();
    assert_eq!(adapter.get_question(), "How was your visit today?");
    kiosk.tap("Language: Tiếng Việt");
    assert_eq!(kiosk.flow.language(), "vi");
    assert_eq!(adapter.get_question(), "Hôm nay bạn thấy quán thế nào?");
    assert!(kiosk.find_control("Very happy").is_none());
    kiosk.rate("Rất hài lòng");
    // Both the UI's strings and the survey's own chips are in Vietnamese.
    kiosk.tap("Phục vụ nhanh");
    assert!(kiosk.find_control("Xong").is_some());
    kiosk.tap("Xong");
    // The "remember me" offer is in Vietnamese too.
    kiosk.tap("Không, cảm ơn");
    assert_eq!(kiosk.ratings()[0].score, 5);
    elapse(Duration::from_secs(3));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    assert_eq!(kiosk.flow.language(), "en");
    assert_eq!(adapter.get_question(), "How was your visit today?");
    assert!(kiosk.find_control("Very happy").is_some());
    assert!(kiosk.find_control("Language: Tiếng Việt").is_some());

    // A customer who switches language and walks away leaves English for the next one.
    kiosk.tap("Language: Tiếng Việt");
    elapse(Duration::from_secs(21));
    assert_eq!(kiosk.flow.language(), "en");
    assert!(kiosk.find_control("Very happy").is_some());
    kiosk.pump_until("the details of the first rating", |k| {
        k.ratings()[0].reasons == ["fast_service"]
    });
}

fn four_faces_have_no_neutral_face_and_accessible_labels() {
    let mut config = KioskConfig::default();
    config.survey.scale = countertop::feedback::Scale::FOUR;
    let kiosk = TestKiosk::start(config);
    for label in ["Very unhappy", "Unhappy", "Happy", "Very happy"] {
        let face = kiosk
            .find_control(label)
            .unwrap_or_else(|| panic!("no {label} face"));
        let size = face.size();
        assert!(
            size.width >= 96.0 && size.height >= 96.0,
            "{label} face is {size:?}"
        );
    }
    assert!(kiosk.find_control("Neutral").is_none());
    kiosk.rate("Happy");
    let rating = &kiosk.ratings()[0];
    assert_eq!((rating.score, rating.scale), (3, 4));
    assert!(
        kiosk.app.global::<Kiosk>().get_happy(),
        "3 of 4 is a top-two score"
    );
}

fn a_full_disk_keeps_the_customer_screen_working_and_loses_nothing_stored() {
    let mut config = KioskConfig::default();
    config.timeouts.repeat_secs = 0.0;
    // A cap a few pages above the empty schema: the "disk" fills after some taps.
    config.store.max_size_mb = 0.07;
    let kiosk = TestKiosk::start(config);
    let adapter = kiosk.app.global::<Kiosk>();
    let mut stored: u64 = 0;
    for _ in 0..500 {
        kiosk.tap("Very happy");
        kiosk.pump_until("the tap to settle", |k| !k.app.global::<Kiosk>().get_busy());
        if adapter.get_save_failed() {
            break;
        }
        stored += 1;
        kiosk.done();
        elapse(Duration::from_secs(4));
    }
    assert!(
        adapter.get_save_failed(),
        "the capped database never filled"
    );
    assert!(stored > 0);
    // The customer is thanked, never stuck; staff see the red mark.
    assert_eq!(kiosk.screen(), Screen::ThankYou);
    assert!(kiosk.app.global::<Kiosk>().get_save_failed());
    elapse(Duration::from_secs(4));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    kiosk.tap("Unhappy");
    kiosk.pump_until("the second failed tap to settle", |k| {
        !k.app.global::<Kiosk>().get_busy()
    });
    assert_eq!(kiosk.screen(), Screen::ThankYou, "still answering taps");
    // Everything stored before the disk filled is intact.
    let store = countertop::store::Store::open(&kiosk.database).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.rating_count().unwrap(), stored);
    assert_eq!(store.outbox().unwrap().len() as u64, stored);
}

fn a_disk_full_at_start_still_thanks_customers_and_shows_staff_the_red_mark() {
    use countertop::store::{NewRating, Store};

    let mut config = KioskConfig::default();
    config.timeouts.repeat_secs = 0.0;
    config.store.max_size_mb = 0.07;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("countertop.db");
    // The capped database is already full when the kiosk starts.
    let stored = {
        let mut store = Store::open_capped(&database, config.store.max_size_mb).unwrap();
        let mut stored = 0;
        while store.record_rating(&NewRating::now_for_test(5)).is_ok() {
            stored += 1;
        }
        stored
    };
    assert!(stored > 0);
    let kiosk = TestKiosk::start_with_database(dir, database.clone(), config);
    let mark = "Storage problem; staff, please check the kiosk";
    kiosk.pump_until("the red mark", |k| {
        k.find_with_role(mark, AccessibleRole::Text).is_some()
    });
    assert_eq!(kiosk.screen(), Screen::Welcome, "customers are welcomed");
    let alert = kiosk
        .core
        .store_alert()
        .borrow()
        .message()
        .unwrap_or_default();
    assert!(alert.contains("storage is full"), "{alert}");
    kiosk.tap("Very happy");
    kiosk.pump_until("the tap to settle", |k| !k.app.global::<Kiosk>().get_busy());
    assert_eq!(kiosk.screen(), Screen::ThankYou, "thanked all the same");
    assert!(kiosk.app.global::<Kiosk>().get_save_failed());
    elapse(Duration::from_secs(4));
    assert_eq!(kiosk.screen(), Screen::Welcome);
    let store = Store::open(&kiosk.database).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.rating_count().unwrap(), stored);
}
