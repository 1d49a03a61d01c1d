//! Enrollment: codes are traded once for a device id and a 256-bit token.

use chrono::{Duration, Utc};
use countertop_hq::secrets;
use serde_json::Value;

use crate::common::{spawn_app, Backend};

async fn enrollment_code_buys_a_device_id_and_a_256_bit_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let code = app.enroll_code(store).await;
    let resp = app.enroll(&code.to_lowercase()).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["store_id"], store.to_string());
    let token = body["device_token"].as_str().expect("token");
    assert_eq!(token.len(), 64, "256 bits, hex");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(body["server_time"].is_string());
    // Only the hash is kept: looking the token up by its hash finds the device.
    let device = app
        .storage
        .device_by_token(&secrets::hash_secret(token))
        .await
        .expect("query")
        .expect("device stored under the hash");
    assert_eq!(device.store_id, store);
    assert!(app
        .storage
        .device_by_token(token)
        .await
        .expect("query")
        .is_none());
}

async fn used_enrollment_code_is_refused_with_410(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "UTC").await;
    let code = app.enroll_code(store).await;
    assert_eq!(app.enroll(&code).await.status(), 201);
    let resp = app.enroll(&code).await;
    assert_eq!(resp.status(), 410);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "enrollment_code_used");
}

async fn expired_enrollment_code_is_refused_with_410(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "UTC").await;
    let code = "ABCD-EFGH-JKMN";
    app.storage
        .create_enroll_code(
            store,
            &secrets::hash_secret(&secrets::normalize_enroll_code(code)),
            Utc::now() - Duration::minutes(1),
        )
        .await
        .expect("code stored");
    let resp = app.enroll(code).await;
    assert_eq!(resp.status(), 410);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "enrollment_code_expired");
}

async fn unknown_enrollment_code_is_refused_with_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app.enroll("NOPE-NOPE-NOPE").await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unknown_enrollment_code");
}

async fn kiosk_of_an_unknown_major_version_gets_a_clear_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "UTC").await;
    let code = app.enroll_code(store).await;
    let resp = app
        .client
        .post(app.url("/api/v1/enroll"))
        .json(&serde_json::json!({"protocol": "2.0", "code": code}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unsupported_protocol_version");
    assert!(body["message"].as_str().expect("message").contains("2.0"));
    // The code was not spent by the refused request.
    assert_eq!(app.enroll(&code).await.status(), 201);
}

crate::on_both_backends!(
    enrollment_code_buys_a_device_id_and_a_256_bit_token,
    used_enrollment_code_is_refused_with_410,
    expired_enrollment_code_is_refused_with_410,
    unknown_enrollment_code_is_refused_with_404,
    kiosk_of_an_unknown_major_version_gets_a_clear_error,
);
