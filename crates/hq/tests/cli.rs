//! The operator's CLI, run as a real process: each command prints only its value, and
//! `--database` works anywhere on the line or from `COUNTERTOP_HQ_DATABASE`. Also the
//! graceful shutdown on SIGTERM.

mod common;

use std::collections::HashSet;

use common::process::{run, value, Server};
use countertop_hq::{admin, open_storage};
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn each_command_prints_only_its_value_and_database_goes_anywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    // --database after the subcommand's own flags.
    let store = value(&run(
        &[
            "store",
            "add",
            "--name",
            "Corner Coffee",
            "--timezone",
            "Asia/Ho_Chi_Minh",
            "--database",
            &db,
        ],
        dir.path(),
        &[],
    ));
    let store: Uuid = store.parse().expect("store add prints a UUID alone");
    // --database before the subcommand.
    let code = value(&run(
        &[
            "--database",
            &db,
            "enroll-code",
            "--store",
            &store.to_string(),
        ],
        dir.path(),
        &[],
    ));
    assert_eq!(
        code.len(),
        14,
        "a code such as K7QX-M2RA-9TWC, got {code:?}"
    );
    assert_eq!(code.matches('-').count(), 2);
    // From the environment.
    let token = value(&run(
        &["token", "add", "--name", "ops"],
        dir.path(),
        &[("COUNTERTOP_HQ_DATABASE", &db)],
    ));
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // All three landed in the same database.
    let storage = open_storage(&db).await.expect("open");
    assert!(storage.store(store).await.expect("query").is_some());
}

#[tokio::test]
async fn bad_time_zone_is_refused_with_advice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    let out = run(
        &[
            "store",
            "add",
            "--name",
            "X",
            "--timezone",
            "Mars/Olympus",
            "--database",
            &db,
        ],
        dir.path(),
        &[],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("IANA"));
}

#[tokio::test]
async fn serve_defaults_to_a_sqlite_file_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(dir.path(), &[]);
    let body: Value = reqwest::get(format!("{}/healthz", server.address))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(body["storage"], "sqlite");
    assert!(dir.path().join("countertop-hq.db").exists());
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_loses_no_accepted_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, storage, _store, code) = sqlite_store_with_code(dir.path()).await;
    let mut server = Server::start(dir.path(), &["--database", &db]);
    let client = reqwest::Client::new();
    let enrolled: Value = client
        .post(format!("{}/api/v1/enroll", server.address))
        .json(&json!({"protocol": "1.0", "code": code}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token = enrolled["device_token"].as_str().expect("token").to_owned();

    // Kiosks keep pushing while the server is told to stop.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, url, token) = (
            client.clone(),
            format!("{}/api/v1/events", server.address),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            for _ in 0..200 {
                let events: Vec<Value> = (0..50).map(|_| common::rating(4)).collect();
                let Ok(resp) = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"protocol": "1.0", "events": events}))
                    .send()
                    .await
                else {
                    break;
                };
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                for (r, e) in body["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .zip(&events)
                {
                    if r["status"] == "accepted" {
                        accepted.push(e.clone());
                    }
                }
            }
            accepted
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("join");
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
    let mut acknowledged: Vec<Value> = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("task"));
    }
    assert!(!acknowledged.is_empty(), "some pushes were acknowledged");
    assert!(
        acknowledged.len() < 4 * 200 * 50,
        "the server stopped while kiosks were still pushing"
    );
    let ids: HashSet<&str> = acknowledged
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        ids.len(),
        acknowledged.len(),
        "each event acknowledged once"
    );
    let stored = storage.count_events().await.expect("count");
    assert!(stored >= acknowledged.len() as u64);

    // Restarted, HQ knows every acknowledged event already: none was lost.
    let server = Server::start(dir.path(), &["--database", &db]);
    for chunk in acknowledged.chunks(500) {
        let body: Value = client
            .post(format!("{}/api/v1/events", server.address))
            .bearer_auth(&token)
            .json(&json!({"protocol": "1.0", "events": chunk}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(body["duplicates"], chunk.len(), "{body}");
    }
}

#[tokio::test]
async fn revoke_commands_revoke_and_name_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    let out = run(
        &["token", "add", "--name", "ops", "--database", &db],
        dir.path(),
        &[],
    );
    let token = value(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = stderr
        .split_whitespace()
        .find_map(|w| w.parse::<Uuid>().ok())
        .expect("token add names the token id on stderr");
    value(&run(
        &["token", "revoke", &id.to_string(), "--database", &db],
        dir.path(),
        &[],
    ));
    let storage = open_storage(&db).await.expect("open");
    assert_eq!(
        storage
            .api_token_state(&countertop_hq::secrets::hash_secret(&token))
            .await
            .expect("query"),
        countertop_hq::storage::TokenState::Revoked
    );
    let missing = Uuid::now_v7().to_string();
    let out = run(
        &["device", "revoke", &missing, "--database", &db],
        dir.path(),
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no device"));
}

#[tokio::test]
async fn set_regulars_scope_changes_the_store_and_refuses_nonsense() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", dir.path().join("ops.db").display());
    let store = value(&run(
        &[
            "store",
            "add",
            "--name",
            "A",
            "--timezone",
            "UTC",
            "--database",
            &db,
        ],
        dir.path(),
        &[],
    ));
    let out = run(
        &["store", "set-regulars-scope", &store, "chain"],
        dir.path(),
        &[("COUNTERTOP_HQ_DATABASE", &db)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let storage = open_storage(&db).await.expect("open");
    let id: Uuid = store.parse().expect("uuid");
    let record = storage.store(id).await.expect("query").expect("store");
    assert_eq!(
        record.regulars_scope,
        countertop_hq::storage::RegularsScope::Chain
    );
    let bad = run(
        &[
            "--database",
            &db,
            "store",
            "set-regulars-scope",
            &store,
            "galaxy",
        ],
        dir.path(),
        &[],
    );
    assert!(!bad.status.success());
    let unknown = run(
        &[
            "--database",
            &db,
            "store",
            "set-regulars-scope",
            &Uuid::now_v7().to_string(),
            "store",
        ],
        dir.path(),
        &[],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no store"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_never_logs_a_regulars_personal_fields() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, _storage, store, code) = sqlite_store_with_code(dir.path()).await;
    let (mut server, output) = Server::start_captured(dir.path(), &["--database", &db]);
    let client = reqwest::Client::new();
    let enrolled: Value = client
        .post(format!("{}/api/v1/enroll", server.address))
        .json(&json!({"protocol": "1.0", "code": code}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token = enrolled["device_token"].as_str().expect("token").to_owned();
    let name = "Xylophona Quentwhistle";
    let phone = "84987123654";
    let note = "oat milk, scalding";
    let regular = Uuid::now_v7();
    let profile = |wall: i64, name: &str, phone: &str| {
        json!({
            "id": Uuid::now_v7(), "seq": 1, "device_time": chrono::Utc::now(),
            "utc_offset_minutes": 0, "kind": "regular_upserted",
            "body": {
                "regular_id": regular,
                "hlc": {"wall_ms": wall, "counter": 0, "node": Uuid::now_v7()},
                "name": name, "phone": phone, "usual": {"note": note},
                "dietary": "peanut allergy",
                "consent": {"version": 1, "given_at": chrono::Utc::now(),
                    "dietary_given_at": chrono::Utc::now()}
            }
        })
    };
    let events = vec![
        profile(1000, name, phone),
        // Invalid (a 3-digit phone), so rejected: its fields must not be logged either.
        profile(2000, name, "849"),
        json!({"id": Uuid::now_v7(), "seq": 2, "device_time": chrono::Utc::now(),
            "utc_offset_minutes": 0, "kind": "regular_erased",
            "body": {"regular_id": regular, "erased_at": chrono::Utc::now()}}),
        profile(3000, name, phone),
    ];
    let pushed: Value = client
        .post(format!("{}/api/v1/events", server.address))
        .bearer_auth(&token)
        .json(&json!({"protocol": "1.0", "events": events}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let statuses: Vec<&str> = pushed["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["accepted", "rejected", "accepted", "rejected"]);
    let pulled = client
        .get(format!("{}/api/v1/stores/{store}/regulars", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(pulled.status(), 200);
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("join");
    assert!(status.success());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logged = String::from_utf8_lossy(&output.lock().expect("lock")).into_owned();
    assert!(logged.contains("push"), "the capture works: {logged}");
    for secret in [name, "Xylophona", phone, note, "peanut"] {
        assert!(!logged.contains(secret), "HQ logged {secret:?}:\n{logged}");
    }
}

/// An HQ SQLite database in `dir` with one store and an enrollment code for it.
async fn sqlite_store_with_code(
    dir: &std::path::Path,
) -> (
    String,
    std::sync::Arc<dyn countertop_hq::storage::Storage>,
    uuid::Uuid,
    String,
) {
    let db = format!("sqlite:{}", dir.join("hq.db").display());
    let storage = open_storage(&db).await.expect("open");
    let store = admin::add_store(storage.as_ref(), "Corner Coffee", "UTC")
        .await
        .expect("store");
    let code = admin::issue_enroll_code(storage.as_ref(), store, chrono::Duration::hours(1))
        .await
        .expect("code");
    (db, storage, store, code)
}
