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
fn survey_changes_from_hq_apply_live_and_answers_reach_hq() {
    i_slint_backend_testing::init_integration_test_with_mock_time();
    a_new_question_and_scale_from_hq_apply_live();
    an_nps_question_from_hq_is_asked_and_its_answer_reaches_hq_s_report();
}

/// A real HQ with one store, and a kiosk data directory enrolled to it (the temporary
/// directories live as long as the returned handles).
fn enrolled_kiosk() -> (tempfile::TempDir, hq::Hq, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut hq = hq::Hq::sqlite(dir.path());
    hq.start();
    let (store_id, code) = hq.store_and_code();
    let kiosk_dir = tempfile::tempdir().unwrap();
    hq::Kiosk::new(kiosk_dir.path(), 25).enroll(&hq.url(), &code);
    (dir, hq, store_id, kiosk_dir)
}

fn a_new_question_and_scale_from_hq_apply_live() {
    let (_dir, hq, store_id, kiosk_dir) = enrolled_kiosk();

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

/// HQ's report for today (UTC, the test store's time zone), as JSON.
fn report_today(hq: &hq::Hq) -> serde_json::Value {
    let token = hq.cli(&["token", "add", "--name", "report"]);
    let today = chrono::Utc::now().date_naive();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/reports?from={today}&to={today}",
                hq.url()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("report answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("report is JSON")
    })
}

fn an_nps_question_from_hq_is_asked_and_its_answer_reaches_hq_s_report() {
    let (_dir, hq, store_id, kiosk_dir) = enrolled_kiosk();
    let mut survey = countertop_protocol::SurveyConfig {
        version: 2,
        ..Default::default()
    };
    // Two customers a moment apart, neither a suspected repeat.
    survey.timeouts.repeat_window_seconds = 0;
    survey.nps_question = Some(
        [
            ("en".to_owned(), "Would you recommend us?".to_owned()),
            (
                "vi".to_owned(),
                "Bạn có giới thiệu quán cho bạn bè không?".to_owned(),
            ),
        ]
        .into(),
    );
    hq.put_survey(&store_id, &survey);

    let mut config = KioskConfig::default();
    config.sync.interval_secs = 0.2;
    let database = kiosk_dir.path().join("countertop.db");
    let kiosk = TestKiosk::start_with_database(kiosk_dir, database, config);
    kiosk.core.sync_now();
    kiosk.pump_until("HQ's NPS question on the kiosk", |k| {
        k.app.global::<Kiosk>().get_nps_question() == "Would you recommend us?"
    });
    kiosk.rate("Very happy");
    kiosk.tap("10");
    kiosk.done();
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(4));
    kiosk.rate("Unhappy");
    kiosk.tap("Slow service"); // no NPS answer: skipped
    kiosk.done();
    kiosk.core.sync_now();
    kiosk.pump_until("both ratings and their details at HQ", |k| {
        k.core.sync_status().borrow().pending == 0
            && hq.query("SELECT count(*) FROM rating_reasons") == ["1"]
    });
    let report = report_today(&hq);
    let total = &report["total"];
    assert_eq!(total["count"], 2, "{report}");
    assert_eq!(total["nps_responses"], 1, "only the answered one counts");
    assert_eq!(total["nps"], 100.0, "one promoter");
}
