//! Regulars: last-writer-wins profiles, visits, erasure with tombstones, the per-store
//! scope, the cursor pull, the report, and that an erased regular leaves no trace.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{spawn_app, statuses, Backend, Kiosk, TestApp};

/// A `regular_upserted` event for `regular_id` stamped (wall_ms, counter) by `node`.
pub fn profile_event(regular_id: Uuid, wall_ms: i64, node: Uuid, name: &str, phone: &str) -> Value {
    json!({
        "id": Uuid::now_v7(), "seq": 1, "device_time": Utc::now(), "utc_offset_minutes": 0,
        "kind": "regular_upserted",
        "body": {
            "regular_id": regular_id,
            "hlc": {"wall_ms": wall_ms, "counter": 0, "node": node},
            "name": name,
            "phone": phone,
            "usual": {"item": "latte", "note": "extra hot"},
            "consent": {"version": 1, "given_at": Utc::now()}
        }
    })
}

pub fn visit_event(regular_id: Uuid, unhappy: Option<bool>) -> Value {
    let mut body = json!({"regular_id": regular_id});
    if let Some(u) = unhappy {
        body["rating_id"] = json!(Uuid::now_v7());
        body["unhappy"] = json!(u);
    }
    json!({
        "id": Uuid::now_v7(), "seq": 1, "device_time": Utc::now(), "utc_offset_minutes": 0,
        "kind": "visit", "body": body
    })
}

pub fn erase_event(regular_id: Uuid) -> Value {
    json!({
        "id": Uuid::now_v7(), "seq": 1, "device_time": Utc::now(), "utc_offset_minutes": 0,
        "kind": "regular_erased",
        "body": {"regular_id": regular_id, "erased_at": Utc::now()}
    })
}

async fn pull_resp(app: &TestApp, kiosk: &Kiosk, store: Uuid, cursor: u64) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/stores/{store}/regulars?cursor={cursor}")))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent")
}

async fn pull(app: &TestApp, kiosk: &Kiosk, cursor: u64) -> Value {
    let resp = pull_resp(app, kiosk, kiosk.store_id, cursor).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

fn names(pulled: &Value) -> Vec<String> {
    pulled["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn set_scope(app: &TestApp, store: Uuid, scope: &str) {
    let token = app.api_token().await;
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/stores/{store}/regulars-scope")))
        .bearer_auth(&token)
        .json(&json!({"scope": scope}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["scope"], scope);
}

async fn edits_converge_on_the_greatest_clock_in_either_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.kiosk().await;
    let b = app.kiosk_of(a.store_id).await;
    let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
    let (na, nb) = (a.device_id, b.device_id);
    // `one`: the older edit arrives first; `two`: the newer edit arrives first.
    for (kiosk, event) in [
        (&a, profile_event(one, 1000, na, "Old One", "0901111111")),
        (&b, profile_event(one, 2000, nb, "New One", "0902222222")),
        (&b, profile_event(two, 2000, nb, "New Two", "0903333333")),
        (&a, profile_event(two, 1000, na, "Old Two", "0904444444")),
    ] {
        let resp = app.push_ok(&kiosk.token, &[event]).await;
        assert_eq!(
            statuses(&resp),
            ["accepted"],
            "a lost merge is still accepted"
        );
    }
    // Same wall time: the node id breaks the tie, the same way everywhere.
    let three = Uuid::now_v7();
    let (lo, hi) = if na < nb { (na, nb) } else { (nb, na) };
    app.push_ok(
        &a.token,
        &[profile_event(three, 5000, hi, "High Node", "0905555555")],
    )
    .await;
    app.push_ok(
        &a.token,
        &[profile_event(three, 5000, lo, "Low Node", "0906666666")],
    )
    .await;
    let mut got = names(&pull(&app, &a, 0).await);
    got.sort();
    assert_eq!(got, ["High Node", "New One", "New Two"]);
    assert_eq!(
        names(&pull(&app, &b, 0).await).len(),
        3,
        "both kiosks see the same"
    );
}

async fn re_push_is_a_duplicate_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk().await;
    let r = Uuid::now_v7();
    let batch = [
        profile_event(r, 1000, k.device_id, "Lan", "0901234567"),
        visit_event(r, Some(false)),
    ];
    assert_eq!(
        statuses(&app.push_ok(&k.token, &batch).await),
        ["accepted", "accepted"]
    );
    let first = pull(&app, &k, 0).await;
    assert_eq!(
        statuses(&app.push_ok(&k.token, &batch).await),
        ["duplicate", "duplicate"]
    );
    let again = pull(&app, &k, 0).await;
    assert_eq!(again["profiles"], first["profiles"]);
    assert_eq!(again["visits"].as_array().expect("visits").len(), 1);
    assert_eq!(again["cursor"], first["cursor"], "nothing new was written");
    let next = pull(&app, &k, first["cursor"].as_u64().expect("cursor")).await;
    assert!(next["profiles"].as_array().expect("profiles").is_empty());
}

async fn erasure_deletes_the_profile_and_refuses_later_uploads(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk().await;
    let r = Uuid::now_v7();
    app.push_ok(
        &k.token,
        &[
            profile_event(r, 1000, k.device_id, "Lan", "0901234567"),
            visit_event(r, None),
        ],
    )
    .await;
    let before = pull(&app, &k, 0).await;
    let cursor = before["cursor"].as_u64().expect("cursor");
    let erased = app.push_ok(&k.token, &[erase_event(r)]).await;
    assert_eq!(statuses(&erased), ["accepted"]);

    let after = pull(&app, &k, 0).await;
    assert!(after["profiles"].as_array().expect("profiles").is_empty());
    assert!(after["visits"].as_array().expect("visits").is_empty());
    assert_eq!(after["erased"][0]["regular_id"], r.to_string());
    let since = pull(&app, &k, cursor).await;
    assert_eq!(
        since["erased"].as_array().expect("erased").len(),
        1,
        "the tombstone is news"
    );

    // A newer edit and a visit for the erased id are refused, one by one.
    let late = app
        .push_ok(
            &k.token,
            &[
                profile_event(r, 9000, k.device_id, "Lan", "0901234567"),
                visit_event(r, Some(true)),
                crate::common::rating(5),
            ],
        )
        .await;
    assert_eq!(statuses(&late), ["rejected", "rejected", "accepted"]);
    for i in 0..2 {
        assert_eq!(late["results"][i]["code"], "regular_erased");
        assert!(late["results"][i]["reason"]
            .as_str()
            .expect("reason")
            .contains("forgotten"));
    }
    // Within one batch too: an upload after the erasure is refused.
    let r2 = Uuid::now_v7();
    let batch = app
        .push_ok(
            &k.token,
            &[
                profile_event(r2, 1000, k.device_id, "Mai", "0907654321"),
                erase_event(r2),
                visit_event(r2, None),
            ],
        )
        .await;
    assert_eq!(statuses(&batch), ["accepted", "accepted", "rejected"]);
    // Erasing an id HQ never saw is accepted, and tombstoned anyway.
    let unknown = Uuid::now_v7();
    assert_eq!(
        statuses(&app.push_ok(&k.token, &[erase_event(unknown)]).await),
        ["accepted"]
    );
    let all = pull(&app, &k, 0).await;
    let ids: Vec<&str> = all["erased"]
        .as_array()
        .expect("erased")
        .iter()
        .map(|e| e["regular_id"].as_str().expect("id"))
        .collect();
    assert!(ids.contains(&unknown.to_string().as_str()));
    assert_eq!(ids.len(), 3);
    assert!(all["profiles"].as_array().expect("profiles").is_empty());
}

async fn scope_store_keeps_profiles_home_and_chain_shares_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.kiosk().await;
    let b = app.kiosk().await;
    assert_ne!(a.store_id, b.store_id);
    let r = Uuid::now_v7();
    app.push_ok(
        &a.token,
        &[
            profile_event(r, 1000, a.device_id, "Lan", "0901234567"),
            visit_event(r, None),
        ],
    )
    .await;
    let gone = Uuid::now_v7();
    app.push_ok(&a.token, &[erase_event(gone)]).await;
    assert_eq!(names(&pull(&app, &a, 0).await), ["Lan"]);
    let seen_by_b = pull(&app, &b, 0).await;
    assert!(
        names(&seen_by_b).is_empty(),
        "store scope: B sees none of A's"
    );
    assert!(seen_by_b["visits"].as_array().expect("visits").is_empty());
    assert_eq!(
        seen_by_b["erased"].as_array().expect("erased").len(),
        1,
        "tombstones go to all"
    );

    set_scope(&app, a.store_id, "chain").await;
    assert!(
        names(&pull(&app, &b, 0).await).is_empty(),
        "B is still store scoped"
    );
    set_scope(&app, b.store_id, "chain").await;
    let shared = pull(&app, &b, 0).await;
    assert_eq!(
        names(&shared),
        ["Lan"],
        "both chain scoped: B sees A's regular"
    );
    assert_eq!(shared["visits"].as_array().expect("visits").len(), 1);

    // A device of B may not pull as A.
    let resp = pull_resp(&app, &b, a.store_id, 0).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "wrong_store");
    // No token, no pull.
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/stores/{}/regulars", a.store_id)))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
    // Only an API token may change the scope.
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/stores/{}/regulars-scope", a.store_id)))
        .bearer_auth(&a.token)
        .json(&json!({"scope": "store"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
    let token = app.api_token().await;
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/stores/{}/regulars-scope", Uuid::now_v7())))
        .bearer_auth(&token)
        .json(&json!({"scope": "store"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 404);
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/stores/{}/regulars-scope", a.store_id)))
        .bearer_auth(&token)
        .json(&json!({"scope": "galaxy"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 422, "a scope other than store or chain");
}

async fn cursor_pages_with_more(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk().await;
    let r = Uuid::now_v7();
    let mut events = vec![profile_event(r, 1000, k.device_id, "Lan", "0901234567")];
    events.extend((0..520).map(|_| visit_event(r, None)));
    let resp = app.push_ok(&k.token, &events).await;
    assert_eq!(resp["accepted"], 521);
    let first = pull(&app, &k, 0).await;
    assert_eq!(first["more"], true);
    let n = |v: &Value| {
        v["profiles"].as_array().expect("p").len() + v["visits"].as_array().expect("v").len()
    };
    assert_eq!(n(&first), 500);
    assert_eq!(
        names(&first),
        ["Lan"],
        "the profile came first, in change order"
    );
    let second = pull(&app, &k, first["cursor"].as_u64().expect("cursor")).await;
    assert_eq!(second["more"], false);
    assert_eq!(n(&second), 21);
    let cursor = second["cursor"].as_u64().expect("cursor");
    let third = pull(&app, &k, cursor).await;
    assert_eq!(n(&third), 0);
    assert_eq!(third["more"], false);
    assert_eq!(third["cursor"], cursor);
    // A newer edit moves the profile to the end: the next pull returns its latest state.
    app.push_ok(
        &k.token,
        &[profile_event(r, 2000, k.device_id, "Lan N.", "0901234567")],
    )
    .await;
    let fourth = pull(&app, &k, cursor).await;
    assert_eq!(names(&fourth), ["Lan N."]);
    assert!(fourth["cursor"].as_u64().expect("cursor") > cursor);
}

async fn malformed_profile_is_rejected_by_itself(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk().await;
    let r = Uuid::now_v7();
    let mut bad_phone = profile_event(r, 1000, k.device_id, "Lan", "12");
    let mut no_name = profile_event(Uuid::now_v7(), 1000, k.device_id, "  ", "0901234567");
    let mut dietary = profile_event(Uuid::now_v7(), 1000, k.device_id, "Mai", "0901234567");
    dietary["body"]["dietary"] = json!("nut allergy");
    // Stamps the 15-digit text form cannot hold would sort apart from their clocks.
    let far_clock = profile_event(r, 1_000_000_000_000_000, k.device_id, "Lan", "0901234567");
    let negative_clock = profile_event(r, -1, k.device_id, "Lan", "0901234567");
    for e in [&mut bad_phone, &mut no_name] {
        e["seq"] = json!(2);
    }
    let resp = app
        .push_ok(
            &k.token,
            &[
                bad_phone,
                no_name,
                dietary,
                far_clock,
                negative_clock,
                profile_event(r, 1000, k.device_id, "Lan", "0901234567"),
            ],
        )
        .await;
    assert_eq!(
        statuses(&resp),
        ["rejected", "rejected", "rejected", "rejected", "rejected", "accepted"]
    );
    for i in 0..5 {
        assert_eq!(
            resp["results"][i]["code"], "invalid_regular",
            "{}",
            resp["results"][i]
        );
    }
    assert_eq!(names(&pull(&app, &k, 0).await), ["Lan"]);
}

async fn regulars_report_counts_without_personal_data(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let other = app.kiosk_in("UTC").await;
    let (r1, r2) = (Uuid::now_v7(), Uuid::now_v7());
    app.push_ok(
        &k.token,
        &[
            profile_event(r1, 1000, k.device_id, "Lan", "0901234567"),
            profile_event(r2, 1000, k.device_id, "Mai", "0907654321"),
            visit_event(r1, Some(true)),
            visit_event(r1, Some(false)),
            visit_event(r1, None),
            erase_event(r2),
        ],
    )
    .await;
    app.push_ok(
        &other.token,
        &[profile_event(
            Uuid::now_v7(),
            1,
            other.device_id,
            "Ha",
            "0905555555",
        )],
    )
    .await;
    let token = app.api_token().await;
    let today = Utc::now().date_naive();
    let (from, to) = (today - Duration::days(1), today + Duration::days(1));
    let resp = app
        .client
        .get(app.url(&format!(
            "/api/v1/reports/regulars?store={}&from={from}&to={to}",
            k.store_id
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("text");
    assert!(!text.contains("Lan") && !text.contains("0901234567"));
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["regulars"], 1);
    assert_eq!(body["new_regulars"], 1);
    assert_eq!(body["visits"], 3);
    assert_eq!(body["unhappy_visits"], 1);
    assert_eq!(body["erasures"], 1);
    let all = app.report_ok(&format!("from={from}&to={to}")).await;
    assert!(
        all.get("total").is_some(),
        "the ratings report is unchanged"
    );
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/reports/regulars?from={from}&to={to}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["regulars"], 2, "without store: every store");
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/reports/regulars?from={from}&to={to}")))
        .bearer_auth(&k.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401, "a device token is not an API token");
}

async fn a_puller_misses_nothing_while_pushes_commit_concurrently(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let k = app.kiosk().await;
    let r = Uuid::now_v7();
    app.push_ok(
        &k.token,
        &[profile_event(r, 1000, k.device_id, "Lan", "0901234567")],
    )
    .await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pushers = Vec::new();
    for _ in 0..4 {
        let (app, token) = (std::sync::Arc::clone(&app), k.token.clone());
        pushers.push(tokio::spawn(async move {
            let mut ids = std::collections::HashSet::new();
            for _ in 0..20 {
                let batch: Vec<Value> = (0..3).map(|_| visit_event(r, None)).collect();
                let resp = app.push_ok(&token, &batch).await;
                assert_eq!(resp["accepted"], 3);
                ids.extend(
                    batch
                        .iter()
                        .map(|e| e["id"].as_str().expect("id").to_owned()),
                );
            }
            ids
        }));
    }
    let puller = {
        let (app, k, done) = (
            std::sync::Arc::clone(&app),
            k.clone(),
            std::sync::Arc::clone(&done),
        );
        tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = pull(&app, &k, cursor).await;
                cursor = page["cursor"].as_u64().expect("cursor");
                for v in page["visits"].as_array().expect("visits") {
                    seen.insert(v["id"].as_str().expect("id").to_owned());
                }
                if finished && page["more"] == false {
                    return seen;
                }
            }
        })
    };
    let mut pushed = std::collections::HashSet::new();
    for p in pushers {
        pushed.extend(p.await.expect("pusher"));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = puller.await.expect("puller");
    let missed: Vec<_> = pushed.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "a cursor puller skipped {} visits",
        missed.len()
    );
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn erased_regular_leaves_no_trace(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk().await;
    let r = Uuid::now_v7();
    let name = format!("Zq{}", &Uuid::now_v7().simple().to_string()[20..]);
    let phone = format!("84{}", &Uuid::now_v7().as_u128().to_string()[..11]);
    app.push_ok(
        &k.token,
        &[
            profile_event(r, 1000, k.device_id, &name, &phone),
            profile_event(r, 2000, k.device_id, &name, &phone),
            visit_event(r, None),
        ],
    )
    .await;
    match backend {
        Backend::Sqlite => {
            let path = app
                .database_url
                .strip_prefix("sqlite:")
                .expect("sqlite url")
                .to_owned();
            use std::os::unix::fs::PermissionsExt;
            for f in [path.clone(), format!("{path}-wal")] {
                let mode = std::fs::metadata(&f).expect("file").permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{f} is private");
            }
            let bytes = |p: &str| std::fs::read(p).unwrap_or_default();
            let before = [bytes(&path), bytes(&format!("{path}-wal"))].concat();
            assert!(
                contains(&before, &name),
                "the check can see the name before erasure"
            );
            assert_eq!(
                statuses(&app.push_ok(&k.token, &[erase_event(r)]).await),
                ["accepted"]
            );
            let conn = rusqlite_checkpoint(&path);
            drop(conn);
            for f in [
                path.clone(),
                format!("{path}-wal"),
                format!("{path}-journal"),
            ] {
                let b = bytes(&f);
                assert!(!contains(&b, &name), "{f} still holds the erased name");
                assert!(!contains(&b, &phone), "{f} still holds the erased phone");
            }
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            assert_eq!(
                tables_holding(&client, name.clone()).await,
                ["regular_profiles"]
            );
            assert_eq!(
                statuses(&app.push_ok(&k.token, &[erase_event(r)]).await),
                ["accepted"]
            );
            assert!(tables_holding(&client, name.clone()).await.is_empty());
            assert!(tables_holding(&client, phone.clone()).await.is_empty());
            // Dead tuples stay in the table's file until it is rewritten: VACUUM FULL then
            // CHECKPOINT (which unlinks the old file) leaves nothing in the data files.
            // VACUUM FULL still copies a row that a running transaction's snapshot may
            // see (other tests share this cluster), so try a few times. The WAL
            // (pg_wal) keeps the old row until its segments are recycled.
            let data = crate::common::pg::shared().data_dir();
            let mut holding = Vec::new();
            for _ in 0..40 {
                for sql in ["VACUUM FULL", "CHECKPOINT"] {
                    client.batch_execute(sql).await.expect(sql);
                }
                holding = files_under(&data)
                    .into_iter()
                    .filter(|f| !f.components().any(|c| c.as_os_str() == "pg_wal"))
                    .filter(|f| {
                        let b = std::fs::read(f).unwrap_or_default();
                        contains(&b, &name) || contains(&b, &phone)
                    })
                    .collect();
                if holding.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            assert!(
                holding.is_empty(),
                "files still hold the erased regular: {holding:?}"
            );
        }
    }
}

/// The tables of the test database with a row whose text contains `needle`.
async fn tables_holding(client: &tokio_postgres::Client, needle: String) -> Vec<String> {
    let tables: Vec<String> = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut hits = Vec::new();
    for t in tables {
        let n: i64 = client
            .query_one(
                &format!("SELECT COUNT(*) FROM \"{t}\" x WHERE x::text LIKE '%' || $1 || '%'"),
                &[&needle],
            )
            .await
            .expect("search")
            .get(0);
        if n > 0 {
            hits.push(t);
        }
    }
    hits
}

fn rusqlite_checkpoint(path: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    conn
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

crate::on_both_backends!(
    edits_converge_on_the_greatest_clock_in_either_order,
    re_push_is_a_duplicate_and_changes_nothing,
    erasure_deletes_the_profile_and_refuses_later_uploads,
    scope_store_keeps_profiles_home_and_chain_shares_them,
    cursor_pages_with_more,
    malformed_profile_is_rejected_by_itself,
    regulars_report_counts_without_personal_data,
    erased_regular_leaves_no_trace,
    a_puller_misses_nothing_while_pushes_commit_concurrently,
);
