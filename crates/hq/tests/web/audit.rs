//! The audit log page: admins see every entry; managers and viewers only the entries
//! about their stores, on /audit and on a store's own log.

use countertop_hq::storage::accounts::{AuditEntry, Role};
use uuid::Uuid;

use crate::common::{spawn_app, Backend, TestApp};

async fn entry(app: &TestApp, store: Uuid, target: &str) {
    app.storage
        .record_audit(&AuditEntry {
            actor: None,
            action: "survey_changed".into(),
            store_id: Some(store),
            target: Some(target.into()),
            detail: "version=2".into(),
        })
        .await
        .expect("recorded");
}

async fn managers_see_the_entries_of_their_stores_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.store("Store A", "Asia/Ho_Chi_Minh").await;
    let b = app.store("Store B", "Asia/Ho_Chi_Minh").await;
    entry(&app, a, "target-of-a").await;
    entry(&app, b, "target-of-b").await;
    let (_, mut manager) = app.signed_in(Role::Viewer, &[a]).await;
    let (status, body) = manager.get("/audit").await;
    assert_eq!(status, 200);
    assert!(body.contains("target-of-a") && body.contains("Survey changed"));
    assert!(!body.contains("target-of-b"), "{body}");
    assert!(
        !body.contains("Signed in"),
        "chain-wide entries are for admins"
    );
    let (status, body) = manager.get(&format!("/stores/{a}/audit")).await;
    assert_eq!(status, 200);
    assert!(body.contains("target-of-a") && !body.contains("target-of-b"));
    let (status, _) = manager.get(&format!("/stores/{b}/audit")).await;
    assert_eq!(status, 404);
    let (_, mut admin) = app.signed_in(Role::Admin, &[]).await;
    let (_, body) = admin.get("/audit").await;
    assert!(body.contains("target-of-a") && body.contains("target-of-b"));
    assert!(body.contains("Signed in"));
}

async fn the_audit_log_pages_back_through_older_entries(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.store("Store A", "Asia/Ho_Chi_Minh").await;
    for i in 0..105 {
        entry(&app, a, &format!("t{i:03}x")).await;
    }
    let (_, mut admin) = app.signed_in(Role::Admin, &[]).await;
    let (_, first) = admin.get("/audit").await;
    assert!(first.contains("t104x"), "newest first");
    assert!(!first.contains("t000x"));
    let i = first
        .find("/audit?before=")
        .expect("a link to older entries");
    let href: String = first[i..].chars().take_while(|c| *c != '"').collect();
    let (_, older) = admin.get(&href).await;
    assert!(older.contains("t000x"), "{older}");
    assert!(!older.contains("t104x"));
}

crate::on_both_backends!(
    managers_see_the_entries_of_their_stores_only,
    the_audit_log_pages_back_through_older_entries,
);
