//! Enrollment: codes are traded once for a device id and a 256-bit token; failed codes
//! all get one answer, and guessing is throttled without ever throttling a kiosk's sync.

use chrono::{Duration, Utc};
use countertop_hq::secrets;
use countertop_hq::throttle::{AttemptRules, Rule};
use serde_json::{json, Value};

use crate::common::{rating, spawn_app, spawn_app_with, Backend, TestApp};

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

async fn refusal(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON error"))
}

async fn unknown_used_and_expired_codes_get_one_and_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "UTC").await;
    let used = app.enroll_code(store).await;
    assert_eq!(app.enroll(&used).await.status(), 201);
    let expired = "ABCD-EFGH-JKMN";
    app.storage
        .create_enroll_code(
            store,
            &secrets::hash_secret(&secrets::normalize_enroll_code(expired)),
            Utc::now() - Duration::minutes(1),
        )
        .await
        .expect("code stored");
    let unknown = refusal(app.enroll("NOPE-NOPE-NOPE").await).await;
    let used = refusal(app.enroll(&used).await).await;
    let expired = refusal(app.enroll(expired).await).await;
    assert_eq!(unknown.0, 403);
    assert_eq!(unknown.1["error"], "enrollment_refused");
    assert_eq!(
        used, unknown,
        "a used code reads exactly like an unknown one"
    );
    assert_eq!(
        expired, unknown,
        "an expired code reads exactly like an unknown one"
    );
}

async fn kiosk_of_an_unknown_major_version_gets_a_clear_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "UTC").await;
    let code = app.enroll_code(store).await;
    let resp = app
        .client
        .post(app.url("/api/v1/enroll"))
        .json(&json!({"protocol": "2.0", "code": code}))
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

async fn enroll_from(app: &TestApp, code: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/enroll"))
        .json(&json!({"protocol": "1.0", "code": code}));
    if let Some(addr) = forwarded_for {
        req = req.header("x-forwarded-for", addr);
    }
    req.send().await.expect("sent")
}

async fn hammering_enrollment_gets_429_but_the_kiosk_still_syncs(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..30 {
        let resp = enroll_from(&app, &format!("GUESS-{i:04}-XXXX"), None).await;
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = resp.json().await.expect("json");
            assert_eq!(body["error"], "too_many_attempts");
            statuses.push(429);
        } else {
            statuses.push(resp.status().as_u16());
        }
    }
    // The kiosk's own enrollment counted too: 10 per address in a burst.
    assert!(statuses[..9].iter().all(|s| *s == 403), "{statuses:?}");
    assert_eq!(
        statuses[9], 429,
        "the 11th attempt is over the burst: {statuses:?}"
    );
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "Retry-After in seconds"
    );

    // Same address, valid device token: push, config pull and regulars pull all work.
    let body = app.push_ok(&kiosk.token, &[rating(5)]).await;
    assert_eq!(body["accepted"], 1);
    for path in ["config", "regulars"] {
        let resp = app
            .client
            .get(app.url(&format!("/api/v1/stores/{}/{path}", kiosk.store_id)))
            .bearer_auth(&kiosk.token)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 200, "{path} pull after the enrollment burst");
    }
}

async fn one_code_is_throttled_across_addresses_behind_a_trusted_proxy(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
        s.enroll_throttle = AttemptRules {
            per_address: Rule::new(100, std::time::Duration::from_secs(60)),
            per_subject: Rule::new(3, std::time::Duration::from_secs(60)),
        };
    })
    .await;
    let statuses: Vec<u16> = attempts_on(&app, "SAME-CODE-XXXX", 5, true).await;
    assert_eq!(
        statuses,
        [403, 403, 403, 429, 429],
        "per code, whatever the address"
    );
    // Another code from a fresh address is not held up.
    let other = enroll_from(&app, "OTHER-CODE-XX", Some("198.51.100.200")).await;
    assert_eq!(other.status(), 403);
}

async fn forwarded_for_is_ignored_from_an_untrusted_peer(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.enroll_throttle = AttemptRules {
            per_address: Rule::new(3, std::time::Duration::from_secs(60)),
            per_subject: Rule::new(100, std::time::Duration::from_secs(60)),
        };
    })
    .await;
    // Each attempt claims another address, but the peer is not a trusted proxy.
    let mut statuses = Vec::new();
    for i in 0..5 {
        let resp = enroll_from(&app, &format!("CODE-{i}"), Some(&format!("203.0.113.{i}"))).await;
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [403, 403, 403, 429, 429]);
}

async fn attempts_on(app: &TestApp, code: &str, n: usize, vary_address: bool) -> Vec<u16> {
    let mut out = Vec::new();
    for i in 0..n {
        let addr = format!("198.51.100.{}", i + 1);
        let resp = enroll_from(app, code, vary_address.then_some(addr.as_str())).await;
        out.push(resp.status().as_u16());
    }
    out
}

crate::on_both_backends!(
    enrollment_code_buys_a_device_id_and_a_256_bit_token,
    unknown_used_and_expired_codes_get_one_and_the_same_answer,
    kiosk_of_an_unknown_major_version_gets_a_clear_error,
    hammering_enrollment_gets_429_but_the_kiosk_still_syncs,
    one_code_is_throttled_across_addresses_behind_a_trusted_proxy,
    forwarded_for_is_ignored_from_an_untrusted_peer,
);
