//! A survey change at head office reaches a running kiosk's screen with no restart: the
//! real UI under Slint's testing backend, a real HQ process, and the real sync loop.

mod common;
#[path = "common/hq.rs"]
mod hq;

use common::TestKiosk;
use countertop::config::KioskConfig;
use countertop::ui::{Kiosk, Screen};
use slint::{ComponentHandle, Model};

#[test]
fn a_new_question_and_scale_from_hq_apply_live() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    let dir = tempfile::tempdir().unwrap();
    let mut hq = hq::Hq::sqlite(dir.path());
    hq.start();
    let (store_id, code) = hq.store_and_code();
    let kiosk_dir = tempfile::tempdir().unwrap();
    hq::Kiosk::new(kiosk_dir.path(), 25).enroll(&hq.url(), &code);

    let mut config = KioskConfig::default();
    config.sync.interval_secs = 0.2;
    let database = kiosk_dir.path().join("countertop.db");
    let kiosk = TestKiosk::start_with_database(kiosk_dir, database, config);
    let adapter = kiosk.app.global::<Kiosk>();
    assert_eq!(adapter.get_question(), "How was your visit today?");
    assert_eq!(adapter.get_faces().row_count(), 5);

    let mut survey = countertop_protocol::SurveyConfig {
        version: 2,
        scale: countertop_protocol::Scale::FOUR,
        ..Default::default()
    };
    survey
        .question
        .insert("en".into(), "How was the wait?".into());
    survey
        .question
        .insert("vi".into(), "Bạn chờ có lâu không?".into());
    hq.put_survey(&store_id, &survey);
    kiosk.core.sync_now();

    kiosk.pump_until("HQ's question on screen", |k| {
        k.app.global::<Kiosk>().get_question() == "How was the wait?"
    });
    assert_eq!(kiosk.screen(), Screen::Welcome);
    assert_eq!(adapter.get_faces().row_count(), 4, "four faces now");
    assert!(kiosk.find_control("Neutral").is_none());
    kiosk.tap("Language: Tiếng Việt");
    assert_eq!(adapter.get_question(), "Bạn chờ có lâu không?");
    kiosk.rate("Hài lòng");
    let rating = &kiosk.ratings()[0];
    assert_eq!((rating.score, rating.scale), (3, 4));
    assert_ne!(
        rating.survey_version, 1,
        "answers carry the new survey's version"
    );
}
