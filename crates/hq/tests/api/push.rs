//! Pushing events: per-event outcomes, idempotency, gzip, exactly once under concurrency.

use chrono::{Duration, Utc};
use futures::future::join_all;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{gzip, rating, rating_at, spawn_app, statuses, Backend};

/// A report query from two days ago to two days ahead, whatever the store's zone.
fn around_today(extra: &str) -> String {
    let today = Utc::now().date_naive();
    format!(
        "from={}&to={}{extra}",
        today - Duration::days(2),
        today + Duration::days(2)
    )
}

async fn push_accepts_each_event_and_returns_server_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let events = vec![rating(5), rating(4), rating(1)];
    let before = Utc::now() - Duration::seconds(1);
    let body = app.push_ok(&kiosk.token, &events).await;
    assert_eq!(statuses(&body), ["accepted", "accepted", "accepted"]);
    assert_eq!(body["accepted"], 3);
    assert_eq!(body["results"][1]["id"], events[1]["id"]);
    let server_time: chrono::DateTime<Utc> = body["server_time"]
        .as_str()
        .expect("time")
        .parse()
        .expect("rfc3339");
    assert!(server_time >= before);
    assert_eq!(app.storage.count_events().await.expect("count"), 3);
}

async fn pushing_the_same_batch_twice_stores_each_event_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let events: Vec<Value> = (0..20).map(|i| rating(1 + (i % 5) as u8)).collect();
    let first = app.push_ok(&kiosk.token, &events).await;
    assert_eq!(first["accepted"], 20);
    let second = app.push_ok(&kiosk.token, &events).await;
    assert_eq!(second["duplicates"], 20);
    assert!(statuses(&second).iter().all(|s| s == "duplicate"));
    // The same id twice within one batch: the second copy is a duplicate.
    let fresh = rating(3);
    let third = app.push_ok(&kiosk.token, &[fresh.clone(), fresh]).await;
    assert_eq!(statuses(&third), ["accepted", "duplicate"]);
    assert_eq!(app.storage.count_events().await.expect("count"), 21);
    let report = app.report_ok(&around_today("")).await;
    assert_eq!(report["total"]["count"], 21);
}

async fn gzip_compressed_push_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let body = json!({"protocol": "1.0", "events": [rating(5), rating(2)]});
    let resp = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&kiosk.token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(body.to_string().as_bytes()))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(statuses(&body), ["accepted", "accepted"]);
}

async fn one_bad_event_never_fails_the_batch(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let good = rating(5);
    let mut bad_score = rating(5);
    bad_score["body"]["score"] = json!(9);
    let mut unknown_kind = rating(5);
    unknown_kind["kind"] = json!("loyalty_stamp");
    let no_id = json!({"seq": 1, "kind": "rating"});
    let also_good = rating(4);
    let body = app
        .push_ok(
            &kiosk.token,
            &[good, bad_score, unknown_kind, no_id, also_good],
        )
        .await;
    assert_eq!(
        statuses(&body),
        ["accepted", "rejected", "rejected", "rejected", "accepted"]
    );
    assert_eq!(body["results"][1]["code"], "score_out_of_range");
    assert_eq!(body["results"][2]["code"], "unknown_kind");
    assert!(body["results"][2]["reason"]
        .as_str()
        .expect("reason")
        .contains("unknown kind"));
    assert_eq!(body["results"][3]["code"], "malformed_event");
    assert!(body["results"][3].get("id").is_none());
    assert_eq!(app.storage.count_events().await.expect("count"), 2);
}

async fn far_future_device_time_is_accepted_but_flagged(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let future = rating_at(Utc::now() + Duration::days(400), 5);
    let body = app.push_ok(&kiosk.token, &[future]).await;
    assert_eq!(statuses(&body), ["accepted"]);
    assert_eq!(
        body["results"][0]["flags"],
        json!(["device_time_in_future"])
    );
    // Counted on the day it was received, not the impossible device day.
    let today = Utc::now().date_naive();
    let report = app.report_ok(&format!("from={today}&to={today}")).await;
    assert_eq!(report["total"]["count"], 1);
}

async fn rating_details_attach_to_the_earlier_rating(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let r = rating(2);
    let details = json!({
        "id": Uuid::now_v7(), "seq": 2, "device_time": Utc::now(), "utc_offset_minutes": 0,
        "kind": "rating_details",
        "body": {"rating_id": r["id"], "reasons": ["slow_service"], "comment": "long queue"}
    });
    let body = app.push_ok(&kiosk.token, &[r]).await;
    assert_eq!(statuses(&body), ["accepted"]);
    let body = app.push_ok(&kiosk.token, &[details]).await;
    assert_eq!(statuses(&body), ["accepted"]);
    let report = app.report_ok(&around_today("&group_by=reason")).await;
    assert_eq!(report["groups"][0]["key"], "slow_service");
    assert_eq!(report["groups"][0]["count"], 1);
    assert_eq!(report["groups"][0]["distribution"], json!([0, 1, 0, 0, 0]));
}

async fn rating_details_for_another_stores_rating_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.kiosk().await;
    let b = app.kiosk().await;
    let r = rating(5);
    app.push_ok(&a.token, std::slice::from_ref(&r)).await;
    let details = json!({
        "id": Uuid::now_v7(), "seq": 2, "device_time": Utc::now(), "utc_offset_minutes": 0,
        "kind": "rating_details",
        "body": {"rating_id": r["id"], "reasons": ["price"]}
    });
    let body = app.push_ok(&b.token, &[details]).await;
    assert_eq!(statuses(&body), ["rejected"]);
    assert_eq!(body["results"][0]["code"], "rating_of_another_store");
}

async fn device_health_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let health = json!({
        "id": Uuid::now_v7(), "seq": 3, "device_time": Utc::now(), "utc_offset_minutes": 420,
        "kind": "device_health",
        "body": {"queue_depth": 12, "oldest_unsent_age_seconds": 30, "app_version": "0.1.0",
                 "last_error": "timeout"}
    });
    let body = app.push_ok(&kiosk.token, &[health]).await;
    assert_eq!(statuses(&body), ["accepted"]);
}

async fn overlapping_concurrent_pushes_store_every_event_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let events: Vec<Value> = (0..300).map(|i| rating(1 + (i % 5) as u8)).collect();
    // Eight pushes of overlapping windows, all at once.
    let pushes = (0..8).map(|i| {
        let start = i * 25;
        let batch = events[start..start + 100].to_vec();
        let app = &app;
        let token = kiosk.token.clone();
        async move { app.push_ok(&token, &batch).await }
    });
    let responses = join_all(pushes).await;
    let mut accepted = std::collections::HashMap::<String, usize>::new();
    for r in &responses {
        for res in r["results"].as_array().expect("results") {
            if res["status"] == "accepted" {
                *accepted
                    .entry(res["id"].as_str().expect("id").to_owned())
                    .or_default() += 1;
            }
        }
    }
    let covered = 7 * 25 + 100;
    assert_eq!(accepted.len(), covered, "every event accepted once");
    assert!(
        accepted.values().all(|n| *n == 1),
        "no event accepted twice"
    );
    assert_eq!(
        app.storage.count_events().await.expect("count"),
        covered as u64
    );
}

crate::on_both_backends!(
    push_accepts_each_event_and_returns_server_time,
    pushing_the_same_batch_twice_stores_each_event_once,
    gzip_compressed_push_is_accepted,
    one_bad_event_never_fails_the_batch,
    far_future_device_time_is_accepted_but_flagged,
    rating_details_attach_to_the_earlier_rating,
    rating_details_for_another_stores_rating_are_rejected,
    device_health_is_accepted,
    overlapping_concurrent_pushes_store_every_event_exactly_once,
);
