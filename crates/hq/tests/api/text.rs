//! Text no backend can store (a NUL, a lone surrogate escape) is refused for the one
//! event that holds it, with `unstorable_text`, identically on SQLite and PostgreSQL;
//! the rest of the batch is stored, and a resend never turns into a 5xx.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{rating, spawn_app, statuses, Backend};
use crate::regulars::profile_event;

async fn a_nul_comment_refuses_its_event_alone_and_a_resend_settles(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let mut nul = rating(2);
    nul["body"]["comment"] = json!("cold \u{0} coffee");
    let events = vec![rating(5), nul, rating(4)];
    let body = app.push_ok(&kiosk.token, &events).await;
    assert_eq!(statuses(&body), ["accepted", "rejected", "accepted"]);
    assert_eq!(body["results"][1]["code"], "unstorable_text");
    assert_eq!(body["results"][1]["id"], events[1]["id"]);
    let reason = body["results"][1]["reason"].as_str().expect("reason");
    assert!(reason.contains("body.comment"), "names the field: {reason}");
    assert_eq!(app.storage.count_events().await.expect("count"), 2);
    // The kiosk resends the same batch (say its acknowledgement was lost).
    let again = app.push_ok(&kiosk.token, &events).await;
    assert_eq!(statuses(&again), ["duplicate", "rejected", "duplicate"]);
    assert_eq!(again["results"][1]["code"], "unstorable_text");
    assert_eq!(app.storage.count_events().await.expect("count"), 2);
}

async fn a_nul_in_any_stored_text_field_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let mut reason = rating(1);
    reason["body"]["reasons"] = json!(["slow\u{0}service"]);
    let mut touchpoint = rating(1);
    touchpoint["body"]["touchpoint"] = json!("wait\u{0}");
    let health = |app_version: &str, last_error: Option<&str>| {
        json!({
            "id": Uuid::now_v7(), "seq": 9, "device_time": chrono::Utc::now(),
            "utc_offset_minutes": 0, "kind": "device_health",
            "body": {"queue_depth": 3, "app_version": app_version, "last_error": last_error}
        })
    };
    let details = json!({
        "id": Uuid::now_v7(), "seq": 10, "device_time": chrono::Utc::now(),
        "utc_offset_minutes": 0, "kind": "rating_details",
        "body": {"rating_id": Uuid::now_v7(), "comment": "\u{0}"}
    });
    let mut profile = profile_event(Uuid::now_v7(), 5, Uuid::now_v7(), "Quillon", "0901234567");
    profile["body"]["usual"]["note"] = json!("extra \u{0} hot");
    let mut unknown_kind = rating(3);
    unknown_kind["kind"] = json!("loyalty_stamp");
    unknown_kind["body"]["stamp"] = json!("\u{0}");
    let events = vec![
        reason,
        touchpoint,
        health("1.0\u{0}", None),
        health("1.0", Some("disk\u{0}full")),
        details,
        profile,
        unknown_kind,
        rating(5),
    ];
    let body = app.push_ok(&kiosk.token, &events).await;
    let codes: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        codes,
        [
            "unstorable_text",
            "unstorable_text",
            "unstorable_text",
            "unstorable_text",
            "unstorable_text",
            "unstorable_text",
            "unstorable_text",
            "-"
        ]
    );
    for (r, field) in body["results"].as_array().expect("results").iter().zip([
        "body.reasons[0]",
        "body.touchpoint",
        "body.app_version",
        "body.last_error",
        "body.comment",
        "body.usual.note",
        "body.stamp",
    ]) {
        let reason = r["reason"].as_str().expect("reason");
        assert!(reason.contains(field), "{reason} should name {field}");
    }
    assert_eq!(body["accepted"], 1);
}

async fn a_lone_surrogate_refuses_its_event_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (a, b) = (rating(5), rating(4));
    let bad_id = Uuid::now_v7();
    // Written by hand: no JSON library writes a lone surrogate.
    let bad = format!(
        r#"{{"id": "{bad_id}", "seq": 2, "device_time": "2026-11-23T08:15:00Z",
            "utc_offset_minutes": 0, "kind": "rating",
            "body": {{"survey_version": 1, "touchpoint": "visit", "scale": 5, "score": 3,
                     "comment": "half \ud83d a smile"}}}}"#
    );
    let payload = format!(r#"{{"protocol": "1.0", "events": [{a}, {bad}, {b}]}}"#);
    let resp = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&kiosk.token)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(statuses(&body), ["accepted", "rejected", "accepted"]);
    assert_eq!(body["results"][1]["code"], "unstorable_text");
    assert_eq!(body["results"][1]["id"], json!(bad_id));
    assert_eq!(app.storage.count_events().await.expect("count"), 2);
}

async fn enrollment_with_a_nul_device_name_gets_400_and_keeps_the_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "UTC").await;
    let code = app.enroll_code(store).await;
    let resp = app
        .client
        .post(app.url("/api/v1/enroll"))
        .json(&json!({"protocol": "1.0", "code": code, "device_name": "till\u{0}1"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unstorable_text");
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("device_name"));
    // The refused request did not spend the code.
    assert_eq!(app.enroll(&code).await.status(), 201);
}

async fn a_survey_with_a_nul_is_refused_with_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let token = app.api_token().await;
    let mut config =
        serde_json::to_value(countertop_protocol::SurveyConfig::default()).expect("config json");
    config["shop_name"] = json!("Corner\u{0}Coffee");
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id)))
        .bearer_auth(&token)
        .json(&config)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("shop_name"),
        "{body}"
    );
}

crate::on_both_backends!(
    a_nul_comment_refuses_its_event_alone_and_a_resend_settles,
    a_nul_in_any_stored_text_field_is_refused,
    a_lone_surrogate_refuses_its_event_alone,
    enrollment_with_a_nul_device_name_gets_400_and_keeps_the_code,
    a_survey_with_a_nul_is_refused_with_422,
);
