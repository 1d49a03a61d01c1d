//! Bad input: each kind gets its own clear JSON error, and loses nothing already stored.

use serde_json::{json, Value};

use crate::common::{gzip, rating, spawn_app, statuses, Backend, TestApp};

async fn raw_push(
    app: &TestApp,
    token: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON error body"))
}

async fn malformed_json_gets_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (status, body) = raw_push(
        &app,
        &kiosk.token,
        "application/json",
        None,
        b"{\"protocol\": \"1.0\", \"events\": [".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "malformed_json");
    assert!(body["message"].as_str().expect("message").contains("line"));
}

async fn wrong_content_type_gets_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let payload = json!({"protocol": "1.0", "events": [rating(5)]}).to_string();
    let (status, body) =
        raw_push(&app, &kiosk.token, "text/plain", None, payload.into_bytes()).await;
    assert_eq!(status, 415);
    assert_eq!(body["error"], "unsupported_media_type");
}

async fn body_over_the_size_limit_gets_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let big = vec![b' '; 3 * 1024 * 1024];
    let (status, body) = raw_push(&app, &kiosk.token, "application/json", None, big).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "body_too_large");
}

async fn gzip_bomb_is_stopped_at_the_decoded_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    // 10 MiB of spaces compress to a few KiB: small on the wire, over the 8 MiB limit.
    let bomb = gzip(&vec![b' '; 10 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024);
    let (status, body) = raw_push(&app, &kiosk.token, "application/json", Some("gzip"), bomb).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "decoded_body_too_large");
}

async fn corrupt_gzip_gets_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (status, body) = raw_push(
        &app,
        &kiosk.token,
        "application/json",
        Some("gzip"),
        b"not gzip at all".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_gzip");
}

async fn batch_over_the_event_limit_gets_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let events: Vec<Value> = (0..1001).map(|_| rating(5)).collect();
    let resp = app.push(&kiosk.token, &events).await;
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "too_many_events");
    assert_eq!(app.storage.count_events().await.expect("count"), 0);
}

async fn out_of_range_scores_are_rejected_per_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let mut zero = rating(5);
    zero["body"]["score"] = json!(0);
    let mut six = rating(5);
    six["body"]["score"] = json!(6);
    let mut nps = rating(5);
    nps["body"]["nps"] = json!(11);
    let body = app
        .push_ok(&kiosk.token, &[zero, six, nps, rating(3)])
        .await;
    assert_eq!(
        statuses(&body),
        ["rejected", "rejected", "rejected", "accepted"]
    );
    assert_eq!(body["results"][0]["code"], "score_out_of_range");
    assert_eq!(body["results"][1]["code"], "score_out_of_range");
    assert_eq!(body["results"][2]["code"], "nps_out_of_range");
}

async fn oversized_comment_is_rejected_per_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let mut long = rating(2);
    long["body"]["comment"] = json!("x".repeat(501));
    let mut ok = rating(2);
    ok["body"]["comment"] = json!("x".repeat(500));
    let body = app.push_ok(&kiosk.token, &[long, ok]).await;
    assert_eq!(statuses(&body), ["rejected", "accepted"]);
    assert_eq!(body["results"][0]["code"], "comment_too_long");
}

async fn push_without_a_token_gets_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .post(app.url("/api/v1/events"))
        .json(&json!({"protocol": "1.0", "events": [rating(5)]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "missing_token");
}

async fn push_with_an_unknown_token_gets_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app.push(&"ab".repeat(32), &[rating(5)]).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unknown_token");
}

async fn push_with_a_revoked_token_gets_401_and_keeps_what_was_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    app.push_ok(&kiosk.token, &[rating(5)]).await;
    let admin = app.api_token().await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/devices/{}/revoke", kiosk.device_id)))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 204);
    let resp = app.push(&kiosk.token, &[rating(4)]).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "revoked_token");
    assert_eq!(app.storage.count_events().await.expect("count"), 1);
}

async fn push_of_an_unknown_major_version_gets_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let payload = json!({"protocol": "2.0", "events": [rating(5)]}).to_string();
    let (status, body) = raw_push(
        &app,
        &kiosk.token,
        "application/json",
        None,
        payload.into_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "unsupported_protocol_version");
}

crate::on_both_backends!(
    malformed_json_gets_400,
    wrong_content_type_gets_415,
    body_over_the_size_limit_gets_413,
    gzip_bomb_is_stopped_at_the_decoded_limit,
    corrupt_gzip_gets_400,
    batch_over_the_event_limit_gets_413,
    out_of_range_scores_are_rejected_per_event,
    oversized_comment_is_rejected_per_event,
    push_without_a_token_gets_401,
    push_with_an_unknown_token_gets_401,
    push_with_a_revoked_token_gets_401_and_keeps_what_was_stored,
    push_of_an_unknown_major_version_gets_400,
);
