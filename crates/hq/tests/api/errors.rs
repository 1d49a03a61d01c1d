//! The HTTP contract's error side: whatever goes wrong, the answer is JSON
//! `{"error", "message"}` with a status the OpenAPI document lists, and unknown ids are
//! 404 with `unknown_store` / `unknown_device`.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{spawn_app, spawn_app_with, Backend, TestApp};

/// Send and return the status, the headers and the JSON body (which must parse).
async fn call(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text:?}"));
    assert!(ct.starts_with("application/json"), "content type {ct:?}");
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
    (status, headers, body)
}

/// The statuses the generated document lists for `method path`.
async fn documented(app: &TestApp, method: &str, path: &str) -> Vec<u16> {
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
        .keys()
        .map(|k| k.parse().expect("numeric status"))
        .collect()
}

async fn malformed_ids_in_paths_get_a_json_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let api = app.api_token().await;
    let (status, _, body) = call(
        app.client
            .get(app.url("/api/v1/stores/not-a-uuid/config"))
            .bearer_auth(&kiosk.token),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_path")));
    assert!(documented(&app, "get", "/stores/{store_id}/config")
        .await
        .contains(&400));
    let (status, _, body) = call(
        app.client
            .post(app.url("/api/v1/devices/xyz/revoke"))
            .bearer_auth(&api),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_path")));
    assert!(documented(&app, "post", "/devices/{device_id}/revoke")
        .await
        .contains(&400));
}

async fn bad_and_repeated_query_values_get_a_json_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    for query in [
        "cursor=abc",
        "cursor=1&cursor=2",
        "cursor=-1",
        "cursor=9223372036854775808",
    ] {
        for resource in ["config", "regulars"] {
            let url = app.url(&format!(
                "/api/v1/stores/{}/{resource}?{query}",
                kiosk.store_id
            ));
            let (status, _, body) = call(app.client.get(url).bearer_auth(&kiosk.token)).await;
            assert_eq!(status, 400, "{resource}?{query}");
            assert_eq!(body["error"], "bad_query", "{resource}?{query}");
        }
    }
    let api = app.api_token().await;
    let (status, _, body) = call(
        app.client
            .get(app.url("/api/v1/reports?from=2026-11-01&to=2026-11-02&include_repeats=maybe"))
            .bearer_auth(&api),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_query")));
}

async fn unknown_routes_and_wrong_methods_get_json_with_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, _, body) = call(app.client.get(app.url("/api/v1/nothing"))).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, headers, body) = call(app.client.delete(app.url("/api/v1/enroll"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    assert_eq!(headers["allow"], "POST");
    let store = Uuid::now_v7();
    let (status, headers, _) = call(app.client.request(
        Method::PATCH,
        app.url(&format!("/api/v1/stores/{store}/config")),
    ))
    .await;
    assert_eq!(status, 405);
    let allow = headers["allow"].to_str().expect("ascii");
    assert!(allow.contains("GET") && allow.contains("PUT"), "{allow}");
    let (status, headers, _) = call(app.client.post(app.url("/healthz"))).await;
    assert_eq!(status, 405);
    assert!(headers["allow"].to_str().expect("ascii").contains("GET"));
}

async fn missing_or_wrong_content_types_get_415_as_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let api = app.api_token().await;
    let body = json!({"protocol": "1.0", "events": []}).to_string();
    let (status, _, err) = call(
        app.client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&kiosk.token)
            .body(body.clone()),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    assert!(documented(&app, "post", "/events").await.contains(&415));
    let (status, _, _) = call(
        app.client
            .put(app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id)))
            .bearer_auth(&api)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(status, 415);
    assert!(documented(&app, "put", "/stores/{store_id}/config")
        .await
        .contains(&415));
    let (status, _, _) = call(app.client.post(app.url("/api/v1/enroll")).body("{}")).await;
    assert_eq!(status, 415);
}

async fn unknown_ids_are_404_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let api = app.api_token().await;
    let nobody = Uuid::now_v7();
    let cases = [
        (
            Method::GET,
            format!("/api/v1/reports?from=2026-11-01&to=2026-11-30&store={nobody}"),
            None,
            "unknown_store",
        ),
        (
            Method::GET,
            format!("/api/v1/reports/regulars?from=2026-11-01&to=2026-11-30&store={nobody}"),
            None,
            "unknown_store",
        ),
        (
            Method::POST,
            format!("/api/v1/devices/{nobody}/revoke"),
            None,
            "unknown_device",
        ),
        (
            Method::PUT,
            format!("/api/v1/stores/{nobody}/config"),
            Some(serde_json::to_value(countertop_protocol::SurveyConfig::default()).expect("json")),
            "unknown_store",
        ),
        (
            Method::PUT,
            format!("/api/v1/stores/{nobody}/regulars-scope"),
            Some(json!({"scope": "chain"})),
            "unknown_store",
        ),
    ];
    for (method, path, body, code) in cases {
        let mut req = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&api);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, _, err) = call(req).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (404, Some(code)),
            "{method} {path}"
        );
    }
    // A kiosk asking for a store that does not exist (not merely another store's).
    let kiosk = app.kiosk().await;
    for resource in ["config", "regulars"] {
        let (status, _, err) = call(
            app.client
                .get(app.url(&format!("/api/v1/stores/{nobody}/{resource}")))
                .bearer_auth(&kiosk.token),
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (404, Some("unknown_store")),
            "{resource}"
        );
    }
    // And a known store still reports zeros.
    let resp = app
        .report(
            &api,
            &format!("from=2026-11-01&to=2026-11-30&store={}", kiosk.store_id),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

/// A request that waits on the database past the time limit gets a JSON 503, and the
/// kiosk's retry of the same push afterwards is stored once. The wait is made certain by
/// another session holding an exclusive lock on the devices table, which every push reads
/// to authenticate the kiosk; a tiny limit against a quick query would race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_gets_a_json_503() {
    let app = spawn_app_with(Backend::Postgres, |s| {
        s.request_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let kiosk = app.kiosk().await;
    let (locker, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE devices IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let event = crate::common::rating(2);
    let (status, _, body) = call(
        app.client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&kiosk.token)
            .timeout(std::time::Duration::from_secs(30))
            .json(&json!({"protocol": "1.0", "events": [event.clone()]})),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (503, Some("timeout")));

    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let resp = app.push_ok(&kiosk.token, &[event]).await;
    assert_eq!(crate::common::statuses(&resp), ["accepted"]);
    let today = chrono::Utc::now().date_naive();
    let week = today + chrono::Days::new(7);
    let report = app
        .report_ok(&format!("from={}&to={week}", today - chrono::Days::new(7)))
        .await;
    assert_eq!(report["total"]["count"], 1);
}

async fn every_documented_operation_is_routed(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let store = Uuid::now_v7();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            let Ok(m) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let url = app.url(&format!(
                "/api/v1{}",
                path.replace("{store_id}", &store.to_string())
                    .replace("{device_id}", &store.to_string())
            ));
            let resp = app.client.request(m, url).send().await.expect("sent");
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(
                status != 405 && body["error"] != "not_found",
                "{method} {path} is documented but not routed ({status} {body})"
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} operations documented");
}

crate::on_both_backends!(
    malformed_ids_in_paths_get_a_json_400,
    bad_and_repeated_query_values_get_a_json_400,
    unknown_routes_and_wrong_methods_get_json_with_allow,
    missing_or_wrong_content_types_get_415_as_documented,
    unknown_ids_are_404_everywhere,
    every_documented_operation_is_routed,
);
