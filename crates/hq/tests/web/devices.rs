//! The devices page: health of every kiosk in scope, the offline flag, opening hours,
//! enrollment codes and revoking, each audited; viewers read only.

use std::time::Duration;

use countertop_hq::storage::accounts::Role;
use countertop_hq::storage::hours::OpeningHours;

use super::ops_support::{audit_lines, kiosk_pull_status};
use crate::common::{spawn_app, spawn_app_with, Backend};

/// The code in the page's `enroll-code` paragraph.
fn code_on(html: &str) -> String {
    let i = html
        .find("class=\"secret enroll-code\">")
        .expect("a code on the page");
    let rest = &html[i + "class=\"secret enroll-code\">".len()..];
    rest[..rest.find('<').expect("code end")].trim().to_owned()
}

async fn a_manager_enrolls_a_kiosk_with_a_code_shown_once_on_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let (user, mut web) = app.signed_in(Role::Manager, &[store]).await;
    let (status, page) = web.get(&format!("/stores/{store}/devices")).await;
    assert_eq!(status, 200);
    assert!(page.contains("No kiosks yet."), "{page}");
    let resp = web
        .post(&format!("/stores/{store}/devices/enroll"), &[])
        .await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.expect("page");
    let code = code_on(&page);
    assert!(page.contains("Valid until"), "the expiry is shown");
    let enrolled = app.enroll(&code).await;
    assert_eq!(enrolled.status(), 201, "the page's code enrolls a kiosk");
    assert_eq!(app.enroll(&code).await.status(), 403, "once only");
    let (_, page) = web.get(&format!("/stores/{store}/devices")).await;
    assert!(page.contains("counter"), "the new kiosk is listed");
    assert!(!page.contains(&code), "the code is not shown again");
    let lines = audit_lines(&app, "device_enrolled").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].actor, Some(user));
    assert_eq!(lines[0].store_id, Some(store));
    assert!(!lines[0].detail.contains(&code) && lines[0].target.is_none());
}

async fn revoking_asks_first_then_cuts_the_kiosk_off_and_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Manager, &[kiosk.store_id]).await;
    let confirm = format!(
        "/stores/{}/devices/{}/revoke",
        kiosk.store_id, kiosk.device_id
    );
    let (status, page) = web.get(&confirm).await;
    assert_eq!(status, 200);
    assert!(page.contains("Revoke this kiosk"), "{page}");
    assert!(
        kiosk_pull_status(&app, &kiosk).await == 200,
        "the confirm page alone revokes nothing"
    );
    let resp = web.post(&confirm, &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(kiosk_pull_status(&app, &kiosk).await, 401);
    let (_, page) = web
        .get(&format!("/stores/{}/devices", kiosk.store_id))
        .await;
    assert!(page.contains("Revoked"), "{page}");
    let lines = audit_lines(&app, "device_revoked").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].target.as_deref(),
        Some(kiosk.device_id.to_string().as_str())
    );
    // A device of another store through this store's path: 404.
    let other = app.kiosk().await;
    let (_, mut admin) = app.signed_in(Role::Admin, &[]).await;
    admin.get("/devices").await;
    let resp = admin
        .post(
            &format!(
                "/stores/{}/devices/{}/revoke",
                kiosk.store_id, other.device_id
            ),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert!(kiosk_pull_status(&app, &other).await == 200);
}

async fn opening_hours_are_validated_and_the_typed_values_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Corner Coffee", "Asia/Ho_Chi_Minh").await;
    let (_, mut web) = app.signed_in(Role::Manager, &[store]).await;
    web.get(&format!("/stores/{store}/devices")).await;
    let path = format!("/stores/{store}/hours");
    let mut days = vec![
        ("day0", "07:30-19:00"),
        ("day1", "07:30-19:00"),
        ("day2", "19:00-07:00"),
        ("day3", "07:30-19:00"),
        ("day4", "07:30-22:00"),
        ("day5", "\"><script>alert(1)</script>"),
        ("day6", "closed"),
    ];
    let resp = web.post(&path, &days).await;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.expect("page");
    assert!(page.contains("value=\"19:00-07:00\""), "typed values kept");
    assert!(page.contains("closes before it opens"), "{page}");
    assert!(!page.contains("<script>alert(1)"), "escaped");
    assert!(
        app.storage
            .opening_hours(store)
            .await
            .expect("hours")
            .always_open(),
        "nothing saved"
    );
    days[2] = ("day2", "07:30-19:00");
    days[5] = ("day5", "09:00-24:00");
    let resp = web.post(&path, &days).await;
    assert_eq!(resp.status(), 303);
    let want = OpeningHours::parse_days(&[
        "07:30-19:00",
        "07:30-19:00",
        "07:30-19:00",
        "07:30-19:00",
        "07:30-22:00",
        "09:00-24:00",
        "closed",
    ])
    .expect("hours");
    assert_eq!(app.storage.opening_hours(store).await.expect("hours"), want);
    let (_, page) = web.get(&format!("/stores/{store}/devices?saved=1")).await;
    assert!(page.contains("value=\"09:00-24:00\""), "{page}");
    assert_eq!(audit_lines(&app, "store_hours_changed").await.len(), 1);
}

async fn a_kiosk_silent_during_opening_hours_is_flagged_offline(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.web.offline_after = Duration::from_secs(1);
    })
    .await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Viewer, &[kiosk.store_id]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, page) = web.get("/devices").await;
    assert!(page.contains("tag-offline"), "silent while open: {page}");
    // Closed every day: silence does not count.
    let closed = OpeningHours::parse_days(&["closed"; 7]).expect("hours");
    app.storage
        .set_opening_hours(kiosk.store_id, &closed)
        .await
        .expect("set");
    let (_, page) = web.get("/devices").await;
    assert!(!page.contains("tag-offline"), "closed: {page}");
    assert!(page.contains("Online"));
}

async fn viewers_see_kiosks_but_cannot_act(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Viewer, &[kiosk.store_id]).await;
    let (status, page) = web
        .get(&format!("/stores/{}/devices", kiosk.store_id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("counter"));
    assert!(
        !page.contains("Issue an enrollment code"),
        "no action offered"
    );
    for path in [
        format!("/stores/{}/devices/enroll", kiosk.store_id),
        format!("/stores/{}/hours", kiosk.store_id),
        format!(
            "/stores/{}/devices/{}/revoke",
            kiosk.store_id, kiosk.device_id
        ),
    ] {
        let resp = web.post(&path, &[("day0", "closed")]).await;
        assert_eq!(resp.status(), 403, "{path}");
    }
    assert!(kiosk_pull_status(&app, &kiosk).await == 200);
    assert!(audit_lines(&app, "device_enrolled").await.is_empty());
}

async fn an_action_without_the_forms_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, web) = app.signed_in(Role::Manager, &[kiosk.store_id]).await;
    let path = format!(
        "/stores/{}/devices/{}/revoke",
        kiosk.store_id, kiosk.device_id
    );
    let resp = web.post_raw(&path, &[], Some(&web.base)).await;
    assert_eq!(resp.status(), 403, "no token");
    let token = web.csrf.clone().expect("token");
    let resp = web
        .post_raw(
            &path,
            &[("csrf".to_owned(), token)],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(resp.status(), 403, "another origin");
    assert!(kiosk_pull_status(&app, &kiosk).await == 200);
}

async fn the_devices_page_shows_the_quarantined_count_a_kiosk_reports(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Viewer, &[kiosk.store_id]).await;
    let cell = "data-label=\"Quarantined\"";
    let (_, page) = web.get("/devices").await;
    assert!(
        page.contains(&format!(
            "{cell} title=\"This kiosk does not report it.\">—</td>"
        )),
        "unknown before any report: {page}"
    );
    let health = |q: u64| {
        serde_json::json!({
            "id": uuid::Uuid::now_v7(), "seq": 1, "device_time": chrono::Utc::now(),
            "utc_offset_minutes": 0, "kind": "device_health",
            "body": {"queue_depth": 0, "app_version": "0.9.0", "quarantined": q}
        })
    };
    app.push_ok(&kiosk.token, &[health(3)]).await;
    let (_, page) = web.get("/devices").await;
    assert!(page.contains(&format!("{cell}>3</td>")), "{page}");
}

crate::on_both_backends!(
    the_devices_page_shows_the_quarantined_count_a_kiosk_reports,
    a_manager_enrolls_a_kiosk_with_a_code_shown_once_on_the_page,
    revoking_asks_first_then_cuts_the_kiosk_off_and_is_audited,
    opening_hours_are_validated_and_the_typed_values_kept,
    a_kiosk_silent_during_opening_hours_is_flagged_offline,
    viewers_see_kiosks_but_cannot_act,
    an_action_without_the_forms_token_is_refused,
);
