//! Reports: CSAT, average, distribution and NPS, by store, day, hour, touchpoint and
//! reason, in each store's own time zone, with suspected repeats left out.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::{rating_at, spawn_app, Backend};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

async fn report_gives_count_csat_average_and_distribution(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let events: Vec<Value> = [5, 5, 4, 3, 1].iter().map(|s| rating_at(t, *s)).collect();
    app.push_ok(&kiosk.token, &events).await;
    let report = app
        .report_ok(&format!(
            "from=2026-11-20&to=2026-11-20&store={}",
            kiosk.store_id
        ))
        .await;
    let total = &report["total"];
    assert_eq!(total["count"], 5);
    assert_eq!(total["csat_percent"], 60.0);
    assert_eq!(total["average"], 3.6);
    assert_eq!(total["distribution"], json!([1, 0, 1, 1, 2]));
    assert!(total.get("nps").is_none(), "no NPS when nobody was asked");
}

async fn csat_on_a_four_face_scale_counts_three_and_four(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let events: Vec<Value> = [4, 3, 2, 1]
        .iter()
        .map(|s| {
            let mut e = rating_at(t, *s);
            e["body"]["scale"] = json!(4);
            e
        })
        .collect();
    app.push_ok(&kiosk.token, &events).await;
    let report = app.report_ok("from=2026-11-20&to=2026-11-20").await;
    assert_eq!(report["total"]["csat_percent"], 50.0);
}

async fn days_and_hours_follow_the_stores_time_zone(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("Asia/Ho_Chi_Minh").await;
    // 18:30 UTC on the 20th is 01:30 on the 21st in Ho Chi Minh City (UTC+7).
    let events = vec![
        rating_at(at("2026-11-20T18:30:00Z"), 5),
        rating_at(at("2026-11-20T03:10:00Z"), 4),
    ];
    app.push_ok(&kiosk.token, &events).await;
    let by_day = app
        .report_ok("from=2026-11-20&to=2026-11-21&group_by=day")
        .await;
    assert_eq!(by_day["groups"][0]["key"], "2026-11-20");
    assert_eq!(by_day["groups"][0]["count"], 1);
    assert_eq!(by_day["groups"][1]["key"], "2026-11-21");
    assert_eq!(by_day["groups"][1]["count"], 1);
    let by_hour = app
        .report_ok("from=2026-11-20&to=2026-11-21&group_by=hour")
        .await;
    let keys: Vec<&str> = by_hour["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["1", "10"]);
}

async fn suspected_repeats_are_left_out_unless_asked_for(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let mut repeat = rating_at(t, 1);
    repeat["body"]["suspected_repeat"] = json!(true);
    app.push_ok(&kiosk.token, &[rating_at(t, 5), repeat]).await;
    let report = app.report_ok("from=2026-11-20&to=2026-11-20").await;
    assert_eq!(report["total"]["count"], 1);
    assert_eq!(report["total"]["csat_percent"], 100.0);
    let with = app
        .report_ok("from=2026-11-20&to=2026-11-20&include_repeats=true")
        .await;
    assert_eq!(with["total"]["count"], 2);
}

async fn report_groups_by_store_touchpoint_and_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.kiosk_in("UTC").await;
    let b = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let mut wait = rating_at(t, 2);
    wait["body"]["touchpoint"] = json!("wait");
    wait["body"]["reasons"] = json!(["slow_service", "price"]);
    let mut visit = rating_at(t, 5);
    visit["body"]["reasons"] = json!(["fast_service"]);
    app.push_ok(&a.token, &[wait, visit]).await;
    app.push_ok(&b.token, &[rating_at(t, 4)]).await;

    let by_store = app
        .report_ok("from=2026-11-20&to=2026-11-20&group_by=store")
        .await;
    let groups = by_store["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    let count_of = |id: &str| {
        groups
            .iter()
            .find(|g| g["key"] == id)
            .map(|g| g["count"].clone())
    };
    assert_eq!(count_of(&a.store_id.to_string()), Some(json!(2)));
    assert_eq!(count_of(&b.store_id.to_string()), Some(json!(1)));

    let by_tp = app
        .report_ok("from=2026-11-20&to=2026-11-20&group_by=touchpoint")
        .await;
    assert_eq!(by_tp["groups"][0]["key"], "visit");
    assert_eq!(by_tp["groups"][0]["count"], 2);
    assert_eq!(by_tp["groups"][1]["key"], "wait");

    let by_reason = app
        .report_ok(&format!(
            "from=2026-11-20&to=2026-11-20&group_by=reason&store={}",
            a.store_id
        ))
        .await;
    let keys: Vec<&str> = by_reason["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["fast_service", "price", "slow_service"]);
    assert_eq!(by_reason["total"]["count"], 2);
}

async fn nps_is_reported_when_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let events: Vec<Value> = [10, 9, 7, 3]
        .iter()
        .map(|n| {
            let mut e = rating_at(t, 5);
            e["body"]["nps"] = json!(n);
            e
        })
        .collect();
    app.push_ok(&kiosk.token, &events).await;
    let report = app.report_ok("from=2026-11-20&to=2026-11-20").await;
    assert_eq!(report["total"]["nps"], 25.0);
    assert_eq!(report["total"]["nps_responses"], 4);
}

async fn nps_answered_after_the_tap_in_details_is_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let ratings: Vec<Value> = (0..3).map(|_| rating_at(t, 5)).collect();
    let details = |rating: &Value, nps: Option<u8>| {
        let mut body = json!({"rating_id": rating["id"], "reasons": []});
        if let Some(n) = nps {
            body["nps"] = json!(n);
        }
        json!({
            "id": uuid::Uuid::now_v7(), "seq": 2, "device_time": t,
            "utc_offset_minutes": 0, "kind": "rating_details", "body": body
        })
    };
    // The first rating and its answer in one batch, the second's answer in a later one;
    // the third customer skipped the question.
    app.push_ok(
        &kiosk.token,
        &[
            ratings[0].clone(),
            details(&ratings[0], Some(10)),
            ratings[1].clone(),
        ],
    )
    .await;
    app.push_ok(
        &kiosk.token,
        &[
            details(&ratings[1], Some(3)),
            ratings[2].clone(),
            details(&ratings[2], None),
        ],
    )
    .await;
    let report = app.report_ok("from=2026-11-20&to=2026-11-20").await;
    assert_eq!(report["total"]["count"], 3, "details are no new ratings");
    assert_eq!(report["total"]["nps_responses"], 2);
    assert_eq!(report["total"]["nps"], 0.0, "one promoter, one detractor");
}

async fn report_needs_a_valid_api_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let q = "from=2026-11-20&to=2026-11-20";
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/reports?{q}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "missing_token");
    // A device token is not an API token.
    let resp = app.report(&kiosk.token, q).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unknown_token");
}

async fn revoked_api_token_gets_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, token) = countertop_hq::admin::issue_api_token(app.storage.as_ref(), "ops")
        .await
        .expect("token");
    assert_eq!(
        app.report(&token, "from=2026-11-20&to=2026-11-20")
            .await
            .status(),
        200
    );
    assert!(app.storage.revoke_api_token(id).await.expect("revoke"));
    let resp = app.report(&token, "from=2026-11-20&to=2026-11-20").await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "revoked_token");
}

async fn bad_report_dates_get_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.api_token().await;
    for q in [
        "from=2026-13-01&to=2026-12-01",
        "from=2026-12-02&to=2026-12-01",
        "to=2026-12-01",
    ] {
        let resp = app.report(&token, q).await;
        assert_eq!(resp.status(), 400, "{q}");
        let body: Value = resp.json().await.expect("json");
        assert!(body["error"].is_string());
    }
}

async fn report_for_a_store_that_does_not_exist_is_404_unknown_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.api_token().await;
    let missing = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/reports?from=2026-11-20&to=2026-11-20&store={missing}"),
        format!("/api/v1/reports?from=2026-11-20&to=2026-11-20&store={missing}&group_by=day"),
        format!("/api/v1/reports/regulars?from=2026-11-20&to=2026-11-20&store={missing}"),
    ] {
        let resp = app
            .client
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "unknown_store", "{path}");
    }
    // A store that exists but has no ratings yet still reads as zeros.
    let store = app.store("Quiet Corner", "UTC").await;
    let report = app
        .report_ok(&format!("from=2026-11-20&to=2026-11-20&store={store}"))
        .await;
    assert_eq!(report["total"]["count"], 0);
}

crate::on_both_backends!(
    report_for_a_store_that_does_not_exist_is_404_unknown_store,
    report_gives_count_csat_average_and_distribution,
    csat_on_a_four_face_scale_counts_three_and_four,
    days_and_hours_follow_the_stores_time_zone,
    suspected_repeats_are_left_out_unless_asked_for,
    report_groups_by_store_touchpoint_and_reason,
    nps_is_reported_when_answered,
    nps_answered_after_the_tap_in_details_is_reported,
    report_needs_a_valid_api_token,
    revoked_api_token_gets_401,
    bad_report_dates_get_400,
);
