//! Operations: health, Prometheus metrics, the OpenAPI document, JSON 404s.

use serde_json::Value;

use crate::common::{rating, spawn_app, Backend};

async fn healthz_reports_ok_and_the_backend(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["storage"], expected);
}

async fn metrics_count_ingest_and_rejections_with_latency_histograms(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let mut bad = rating(5);
    bad["body"]["score"] = serde_json::json!(7);
    let ok = rating(5);
    app.push_ok(&kiosk.token, &[ok.clone(), bad]).await;
    app.push_ok(&kiosk.token, &[ok]).await;
    let resp = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("text");
    assert!(
        text.contains("countertop_events_total{outcome=\"accepted\"} 1"),
        "{text}"
    );
    assert!(text.contains("countertop_events_total{outcome=\"duplicate\"} 1"));
    assert!(text.contains("countertop_events_rejected_total{code=\"score_out_of_range\"} 1"));
    assert!(text.contains("countertop_push_duration_seconds_count 2"));
    assert!(text.contains("# TYPE countertop_push_duration_seconds histogram"));
    assert!(text.contains(
        "countertop_http_requests_total{method=\"POST\",route=\"/api/v1/events\",status=\"200\"} 2"
    ));
}

async fn openapi_document_describes_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/enroll",
        "/events",
        "/stores/{store_id}/config",
        "/devices/{device_id}/revoke",
        "/reports",
        "/stores/{store_id}/regulars",
        "/stores/{store_id}/regulars-scope",
        "/reports/regulars",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["device_token"]["scheme"], "bearer");
    assert_eq!(schemes["api_token"]["scheme"], "bearer");
    // Every operation: every error answer has the error schema; every body is described.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for (status, answer) in op["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            if method == "put" || (method == "post" && !path.ends_with("/revoke")) {
                assert!(
                    op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                    "{method} {path} has no request body"
                );
            }
        }
    }
    let push = &doc["paths"]["/events"]["post"];
    for status in ["200", "400", "401", "413", "415", "422", "503"] {
        assert!(push["responses"].get(status).is_some(), "push {status}");
    }
    assert!(push["description"]
        .as_str()
        .expect("text")
        .contains("rejected"));
    let enroll = &doc["paths"]["/enroll"]["post"]["responses"];
    assert!(enroll["429"]["headers"].get("Retry-After").is_some());
    let header = doc["paths"]["/stores/{store_id}/config"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "X-Countertop-Protocol")
        .expect("protocol header documented")
        .clone();
    assert_eq!(header["in"], "header");
    assert_eq!(header["schema"]["pattern"], "^1\\.[0-9]{1,4}$");
    assert_eq!(
        doc["components"]["schemas"]["ProtocolVersion"]["pattern"],
        "^1\\.[0-9]{1,4}$"
    );
}

async fn unknown_route_gets_a_json_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .get(app.url("/api/v1/nothing"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "not_found");
}

crate::on_both_backends!(
    healthz_reports_ok_and_the_backend,
    metrics_count_ingest_and_rejections_with_latency_histograms,
    openapi_document_describes_every_route,
    unknown_route_gets_a_json_404,
);
