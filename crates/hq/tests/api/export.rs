//! The JSON export for BI tools (`GET /api/v1/export/ratings`): an API token pages
//! through every rating of the range exactly once, a store filter keeps to that store,
//! and bad tokens, stores, dates and limits get their documented errors.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::{rating_at, spawn_app, Backend, TestApp};

fn range() -> String {
    let today = Utc::now().date_naive();
    format!(
        "from={}&to={}",
        today - Duration::days(2),
        today + Duration::days(1)
    )
}

async fn export(app: &TestApp, token: Option<&str>, query: &str) -> reqwest::Response {
    let mut req = app
        .client
        .get(app.url(&format!("/api/v1/export/ratings?{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("sent")
}

/// Every page of `query`, `limit` rows at a time: the rating ids in page order.
async fn page_through(app: &TestApp, token: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut after = String::new();
    for _ in 0..100 {
        let resp = export(app, Some(token), &format!("{query}&limit={limit}{after}")).await;
        assert_eq!(resp.status(), 200);
        let page: Value = resp.json().await.expect("json");
        let got = page["rows"].as_array().expect("rows");
        assert!(got.len() <= limit, "a page holds at most limit rows");
        rows.extend(got.iter().cloned());
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => return rows,
        }
    }
    panic!("the paging never ended");
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["rating_id"].as_str().expect("id").to_owned())
        .collect()
}

async fn an_api_token_pages_through_every_rating_once_and_a_store_filter_keeps_to_it(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let a = app.kiosk().await;
    let b = app.kiosk_in("UTC").await;
    let now = Utc::now() - Duration::minutes(5);
    let mut of_a: Vec<Value> = (0..12).map(|i| rating_at(now, 1 + i % 5)).collect();
    of_a[0]["body"]["comment"] = json!("=cold <b>coffee</b>");
    of_a[0]["body"]["reasons"] = json!(["slow_service"]);
    let of_b: Vec<Value> = (0..3).map(|_| rating_at(now, 5)).collect();
    app.push_ok(&a.token, &of_a).await;
    app.push_ok(&b.token, &of_b).await;
    let token = app.api_token().await;

    let all = page_through(&app, &token, &range(), 4).await;
    let mut want: Vec<String> = of_a
        .iter()
        .chain(&of_b)
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    want.sort();
    let got = ids(&all);
    assert_eq!(got, want, "every rating once, in rating id order");

    let only_a = page_through(
        &app,
        &token,
        &format!("{}&store={}", range(), a.store_id),
        5,
    )
    .await;
    assert_eq!(only_a.len(), of_a.len());
    assert!(only_a
        .iter()
        .all(|r| r["store_id"] == a.store_id.to_string() && r["store"] == "Corner Coffee"));
    let first = only_a
        .iter()
        .find(|r| r["rating_id"] == of_a[0]["id"])
        .expect("the commented rating");
    // JSON carries the text as it was typed: no CSV formula guard, no HTML escaping.
    assert_eq!(first["comment"], "=cold <b>coffee</b>");
    assert_eq!(first["reasons"], json!(["slow_service"]));
    assert_eq!(first["faces"], 5);
    assert_eq!(first["score"], 1);

    // The default page is 1,000 rows: all of them, and no next page.
    let resp = export(&app, Some(&token), &range()).await;
    let page: Value = resp.json().await.expect("json");
    assert_eq!(page["rows"].as_array().expect("rows").len(), 15);
    assert!(page["next"].is_null());
}

async fn the_export_refuses_bad_tokens_stores_dates_and_limits_with_their_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    app.push_ok(&kiosk.token, &[rating_at(Utc::now(), 4)]).await;
    let token = app.api_token().await;
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (None, range(), 401, "missing_token"),
        (Some("not-a-token"), range(), 401, "unknown_token"),
        (
            Some(&token),
            format!("{}&store={}", range(), uuid::Uuid::new_v4()),
            404,
            "unknown_store",
        ),
        (
            Some(&token),
            format!("{}&limit=0", range()),
            400,
            "bad_query",
        ),
        (
            Some(&token),
            format!("{}&limit=5001", range()),
            400,
            "bad_query",
        ),
        (
            Some(&token),
            format!("{}&limit=lots", range()),
            400,
            "bad_query",
        ),
        (
            Some(&token),
            format!("{}&after=nope", range()),
            400,
            "bad_query",
        ),
        (
            Some(&token),
            format!("{}&colour=red", range()),
            400,
            "bad_query",
        ),
        (Some(&token), "from=2026-12-01".into(), 400, "bad_query"),
        (
            Some(&token),
            "from=2026-13-01&to=2026-12-01".into(),
            400,
            "bad_date",
        ),
        (
            Some(&token),
            "from=2026-12-02&to=2026-12-01".into(),
            400,
            "bad_date_range",
        ),
    ];
    for (token, query, status, code) in cases {
        let resp = export(&app, token, &query).await;
        assert_eq!(resp.status().as_u16(), status, "{query}");
        let body: Value = resp.json().await.expect("json error");
        assert_eq!(body["error"], code, "{query}");
    }
    // Nothing already accepted is lost: the rating is still there.
    let resp = export(&app, Some(&token), &range()).await;
    let page: Value = resp.json().await.expect("json");
    assert_eq!(page["rows"].as_array().expect("rows").len(), 1);
}

async fn the_export_is_documented_with_its_parameters_and_errors(backend: Backend) {
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
    let op = &doc["paths"]["/export/ratings"]["get"];
    assert_eq!(op["security"][0]["api_token"], json!([]));
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(params, ["from", "to", "store", "after", "limit"]);
    let limit = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit");
    assert_eq!(limit["schema"]["maximum"], 5000);
    for status in ["200", "400", "401", "404", "503"] {
        assert!(op["responses"].get(status).is_some(), "{status}");
    }
    let page = &doc["components"]["schemas"]["JsonPage"]["properties"];
    assert!(page.get("next").is_some() && page.get("rows").is_some());
}

crate::on_both_backends!(
    an_api_token_pages_through_every_rating_once_and_a_store_filter_keeps_to_it,
    the_export_refuses_bad_tokens_stores_dates_and_limits_with_their_codes,
    the_export_is_documented_with_its_parameters_and_errors,
);
