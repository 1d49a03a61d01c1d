//! The privacy page: an admin finds a regular by phone or id, sees no personal data,
//! erases them through the ingest path (the tombstone a kiosk's pull returns), and the
//! audit log says an erasure happened without a phone or a name. Lookups are throttled.

use countertop_hq::storage::accounts::Role;
use serde_json::Value;
use uuid::Uuid;

use super::ops_support::audit_lines;
use crate::common::{spawn_app, Backend, Kiosk, TestApp};

const NAME: &str = "Quillon Marchetti";
const PHONE: &str = "0901234567";

fn profile_event(regular_id: Uuid, node: Uuid) -> Value {
    serde_json::json!({
        "id": Uuid::now_v7(), "seq": 1, "device_time": chrono::Utc::now(), "utc_offset_minutes": 0,
        "kind": "regular_upserted",
        "body": {
            "regular_id": regular_id,
            "hlc": {"wall_ms": 1_700_000_000_000i64, "counter": 0, "node": node},
            "name": NAME,
            "phone": PHONE,
            "usual": {"item": "latte"},
            "consent": {"version": 1, "given_at": chrono::Utc::now()}
        }
    })
}

async fn pull(app: &TestApp, kiosk: &Kiosk) -> Value {
    let resp = app
        .client
        .get(app.url(&format!(
            "/api/v1/stores/{}/regulars?cursor=0",
            kiosk.store_id
        )))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

async fn an_admin_erases_a_regular_found_by_phone_and_kiosks_pull_the_tombstone(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let regular = Uuid::now_v7();
    app.push_ok(&kiosk.token, &[profile_event(regular, kiosk.device_id)])
        .await;
    assert_eq!(
        pull(&app, &kiosk).await["profiles"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let (admin, mut web) = app.signed_in(Role::Admin, &[]).await;
    let (status, _) = web.get("/privacy").await;
    assert_eq!(status, 200);
    // Typed as people type it: spaces and a dash.
    let resp = web
        .post("/privacy/find", &[("query", "090 123-4567")])
        .await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("page");
    assert!(page.contains("A record exists"), "{page}");
    assert!(page.contains("Corner Coffee"), "the home store");
    assert!(!page.contains(NAME) && !page.contains("Quillon"), "no name");
    assert!(!page.contains(PHONE), "no phone");
    // Without the confirm box, nothing happens.
    let resp = web
        .post("/privacy/erase", &[("regular_id", &regular.to_string())])
        .await;
    assert!(resp.text().await.expect("page").contains("Tick the box"));
    assert!(pull(&app, &kiosk).await["erased"]
        .as_array()
        .is_some_and(Vec::is_empty));
    let resp = web
        .post(
            "/privacy/erase",
            &[("regular_id", &regular.to_string()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("page").contains("Erased."));
    let pulled = pull(&app, &kiosk).await;
    assert_eq!(pulled["erased"][0]["regular_id"], regular.to_string());
    assert!(pulled["profiles"].as_array().is_some_and(Vec::is_empty));
    // A later upload about the regular is refused, as for a kiosk's erasure.
    let again = app
        .push_ok(&kiosk.token, &[profile_event(regular, kiosk.device_id)])
        .await;
    assert_eq!(again["results"][0]["status"], "rejected");
    // The audit line: who, where, that an erasure happened; no phone, name or id.
    let lines = audit_lines(&app, "regular_erased").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].actor, Some(admin));
    assert_eq!(lines[0].store_id, Some(kiosk.store_id));
    let text = format!("{:?} {}", lines[0].target, lines[0].detail);
    for secret in [PHONE, "Quillon", &regular.to_string()] {
        assert!(!text.contains(secret), "{text}");
    }
    // By id now: only the fact of the erasure; by phone: nothing.
    let resp = web
        .post("/privacy/find", &[("query", &regular.to_string())])
        .await;
    assert!(resp.text().await.expect("page").contains("was erased on"));
    let resp = web.post("/privacy/find", &[("query", PHONE)]).await;
    assert!(resp
        .text()
        .await
        .expect("page")
        .contains("HQ holds no regular"));
}

async fn only_admins_reach_the_privacy_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let regular = Uuid::now_v7();
    app.push_ok(&kiosk.token, &[profile_event(regular, kiosk.device_id)])
        .await;
    for role in [Role::Manager, Role::Viewer] {
        let (_, mut web) = app.signed_in(role, &[kiosk.store_id]).await;
        assert_eq!(web.get("/privacy").await.0, 403, "{role}");
        let r = web.post("/privacy/find", &[("query", PHONE)]).await;
        assert_eq!(r.status(), 403);
        let r = web
            .post(
                "/privacy/erase",
                &[("regular_id", &regular.to_string()), ("confirm", "yes")],
            )
            .await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(
        pull(&app, &kiosk).await["profiles"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn lookups_are_throttled_and_junk_is_refused_with_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, mut web) = app.signed_in(Role::Admin, &[]).await;
    web.get("/privacy").await;
    let resp = web.post("/privacy/find", &[("query", "Nguyen")]).await;
    assert!(resp
        .text()
        .await
        .expect("page")
        .contains("Type the full phone number"));
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = web
            .post("/privacy/find", &[("query", &format!("0900000{i:03}"))])
            .await;
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 200);
}

crate::on_both_backends!(
    an_admin_erases_a_regular_found_by_phone_and_kiosks_pull_the_tombstone,
    only_admins_reach_the_privacy_page,
    lookups_are_throttled_and_junk_is_refused_with_a_reason,
);
