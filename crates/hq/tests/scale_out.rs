//! Scale-out: two HQ processes on one PostgreSQL take overlapping batches at the same
//! time, and every event is stored exactly once. This is how HQ grows past one machine:
//! stateless HQ processes behind a load balancer, sharing PostgreSQL.

mod common;

use std::collections::HashMap;

use common::process::Server;
use countertop_hq::{admin, open_storage};
use futures::future::join_all;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hq_processes_on_one_postgres_store_every_event_exactly_once() {
    let db = common::pg::shared().fresh_database().await;
    let storage = open_storage(&db).await.expect("open");
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Server::start(dir.path(), &["--database", &db]);
    let b = Server::start(dir.path(), &["--database", &db]);
    let client = reqwest::Client::new();

    // Four kiosks, enrolled alternately through either process.
    let mut tokens = Vec::new();
    for i in 0..4 {
        let store = admin::add_store(storage.as_ref(), &format!("Shop {i}"), "UTC")
            .await
            .expect("store");
        let code = admin::issue_enroll_code(storage.as_ref(), store, chrono::Duration::hours(1))
            .await
            .expect("code");
        let via = if i % 2 == 0 { &a } else { &b };
        let body: Value = client
            .post(format!("{}/api/v1/enroll", via.address))
            .json(&json!({"protocol": "1.0", "code": code}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        tokens.push(body["device_token"].as_str().expect("token").to_owned());
    }

    // Each kiosk has 1,000 events, sent in batches of 200 that overlap by half, each
    // batch to both processes at once.
    let mut pushes = Vec::new();
    let mut unique = 0;
    for token in &tokens {
        let events: Vec<Value> = (0..1000)
            .map(|i| common::rating(1 + (i % 5) as u8))
            .collect();
        unique += events.len();
        for start in (0..=800).step_by(100) {
            let batch = events[start..start + 200].to_vec();
            for server in [&a, &b] {
                let (client, url, token, batch) = (
                    client.clone(),
                    format!("{}/api/v1/events", server.address),
                    token.clone(),
                    batch.clone(),
                );
                pushes.push(async move {
                    let resp = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"protocol": "1.0", "events": batch}))
                        .send()
                        .await
                        .expect("sent");
                    assert_eq!(resp.status(), 200);
                    resp.json::<Value>().await.expect("json")
                });
            }
        }
    }
    let responses = join_all(pushes).await;
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for r in &responses {
        assert_eq!(r["rejected"], 0, "{r}");
        for res in r["results"].as_array().expect("results") {
            if res["status"] == "accepted" {
                *accepted
                    .entry(res["id"].as_str().expect("id").to_owned())
                    .or_default() += 1;
            }
        }
    }
    assert_eq!(
        accepted.len(),
        unique,
        "every event accepted by some process"
    );
    assert!(
        accepted.values().all(|n| *n == 1),
        "no event accepted by both processes"
    );
    assert_eq!(storage.count_events().await.expect("count"), unique as u64);
    let report = client
        .get(format!(
            "{}/api/v1/reports?from={}&to={}",
            b.address,
            chrono::Utc::now().date_naive() - chrono::Duration::days(1),
            chrono::Utc::now().date_naive() + chrono::Duration::days(1)
        ))
        .bearer_auth(
            admin::issue_api_token(storage.as_ref(), "ops")
                .await
                .expect("token")
                .1,
        )
        .send()
        .await
        .expect("sent")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(report["total"]["count"], unique);
}
