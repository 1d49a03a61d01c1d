//! The export: the CSV escapes hostile comments and names and makes formulas text, names
//! its file, covers only the scope; the JSON pages are complete and stable.

use chrono::{Duration, Utc};
use countertop_hq::storage::accounts::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use super::ops_support::parse_csv;
use crate::common::web::WebClient;
use crate::common::{rating_at, spawn_app, Backend, TestApp};

fn rating_with(comment: &str, reasons: &[&str]) -> Value {
    let mut e = rating_at(Utc::now() - Duration::minutes(5), 2);
    e["body"]["comment"] = json!(comment);
    e["body"]["reasons"] = json!(reasons);
    e
}

async fn get(web: &WebClient, path: &str) -> reqwest::Response {
    web.http.get(web.url(path)).send().await.expect("sent")
}

fn range() -> String {
    let today = Utc::now().date_naive();
    format!(
        "from={}&to={}",
        today - Duration::days(2),
        today + Duration::days(1)
    )
}

const HOSTILE: [&str; 8] = [
    "<script>alert(1)</script>",
    "say \"hi\", then leave",
    "two\nlines\r\nthree",
    "=HYPERLINK(\"http://evil.example\",\"x\")",
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\tindented",
];

async fn the_csv_escapes_hostile_text_makes_formulas_safe_and_names_the_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("=Evil \"Store\", <b>", "Asia/Ho_Chi_Minh").await;
    let kiosk = app.kiosk_of(store).await;
    let events: Vec<Value> = HOSTILE
        .iter()
        .map(|c| rating_with(c, &["slow_service", "cold_drink"]))
        .collect();
    app.push_ok(&kiosk.token, &events).await;
    let (_, web) = app.signed_in(Role::Viewer, &[store]).await;
    let resp = get(&web, &format!("/export.csv?store={store}&{}", range())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let today = Utc::now().date_naive();
    assert_eq!(
        disposition,
        format!(
            "attachment; filename=\"countertop-ratings-evil-store-b-{}-{}.csv\"",
            today - Duration::days(2),
            today + Duration::days(1)
        )
    );
    let text = resp.text().await.expect("csv");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let rows = parse_csv(text);
    assert_eq!(rows[0][0], "rating_id");
    assert_eq!(rows.len(), 1 + HOSTILE.len(), "{rows:?}");
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let mut comments: Vec<String> = rows[1..]
        .iter()
        .map(|r| r[col("comment")].clone())
        .collect();
    comments.sort();
    let mut want: Vec<String> = HOSTILE
        .iter()
        .map(|c| {
            let c = c.replace('\r', "");
            if c.starts_with(['=', '+', '-', '@', '\t']) {
                format!("'{c}")
            } else {
                c
            }
        })
        .collect();
    want.sort();
    for r in &rows[1..] {
        assert_eq!(r.len(), header.len(), "every row has every column: {r:?}");
        assert_eq!(r[col("store")], "'=Evil \"Store\", <b>");
        assert_eq!(r[col("reasons")], "cold_drink;slow_service");
        assert_eq!(r[col("score")], "2");
    }
    // The CSV reader drops carriage returns outside quotes only: compare without them.
    let comments: Vec<String> = comments.iter().map(|c| c.replace('\r', "")).collect();
    assert_eq!(comments, want);
}

async fn page_through(app: &TestApp, web: &WebClient, query: &str, limit: usize) -> Vec<String> {
    let _ = app;
    let mut ids = Vec::new();
    let mut after = String::new();
    for _ in 0..100 {
        let resp = get(
            web,
            &format!("/export.json?{query}&limit={limit}&after={after}"),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let page: Value = resp.json().await.expect("json");
        let rows = page["rows"].as_array().expect("rows");
        assert!(rows.len() <= limit);
        ids.extend(
            rows.iter()
                .map(|r| r["rating_id"].as_str().expect("id").to_owned()),
        );
        match page["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => return ids,
        }
    }
    panic!("the paging never ended");
}

async fn json_pages_are_complete_stable_and_scoped(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.kiosk().await;
    let b = app.kiosk().await;
    let mut pushed: Vec<String> = Vec::new();
    let events: Vec<Value> = (0..23)
        .map(|i| rating_with(&format!("comment {i}"), &[]))
        .collect();
    pushed.extend(
        events
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned()),
    );
    app.push_ok(&a.token, &events).await;
    app.push_ok(&b.token, &[rating_with("other store", &[])])
        .await;
    let (_, web) = app.signed_in(Role::Manager, &[a.store_id]).await;
    let first = page_through(&app, &web, &range(), 5).await;
    let mut want = pushed.clone();
    want.sort();
    assert_eq!(
        first, want,
        "every rating once, in id order, none of store B"
    );
    let again = page_through(&app, &web, &range(), 7).await;
    assert_eq!(again, first, "the same rows whatever the page size");
    // The other store, named: 404, like every route outside the scope.
    let resp = get(
        &web,
        &format!("/export.json?store={}&{}", b.store_id, range()),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let resp = get(
        &web,
        &format!("/export.csv?store={}&{}", b.store_id, range()),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let resp = get(&web, &format!("/export.json?limit=0&{}", range())).await;
    assert_eq!(resp.status(), 400);
    let resp = get(&web, "/export.json?from=yesterday").await;
    assert_eq!(resp.status(), 400);
    let resp = get(
        &web,
        &format!("/export.csv?store={}&{}", Uuid::now_v7(), range()),
    )
    .await;
    assert_eq!(resp.status(), 404);
}

crate::on_both_backends!(
    the_csv_escapes_hostile_text_makes_formulas_safe_and_names_the_file,
    json_pages_are_complete_stable_and_scoped,
);
