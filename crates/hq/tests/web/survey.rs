//! The survey editor: the page's form, as a browser submits it, saves through the
//! config path (a bumped version that kiosks pull); refusals keep the typed values and
//! sit beside their fields; viewers cannot save.

use countertop_hq::storage::accounts::Role;
use serde_json::Value;

use super::ops_support::{as_refs, audit_lines, form_fields, set};
use crate::common::{spawn_app, Backend, Kiosk, TestApp};

async fn pull_config(app: &TestApp, kiosk: &Kiosk) -> Value {
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id)))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

async fn the_saved_survey_is_what_kiosks_pull_next_with_a_bumped_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let before = pull_config(&app, &kiosk).await;
    let (user, mut web) = app.signed_in(Role::Manager, &[kiosk.store_id]).await;
    let path = format!("/stores/{}/survey", kiosk.store_id);
    let (status, page) = web.get(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("<svg"), "the faces preview");
    let mut fields = form_fields(&page, &path);
    set(&mut fields, "q_en", "How was your coffee <today>?");
    set(&mut fields, "q_vi", "Cà phê hôm nay thế nào?");
    set(&mut fields, "scale", "4");
    set(&mut fields, "praise_0_slug", "tasty_coffee");
    set(&mut fields, "praise_0_en", "Tasty coffee");
    set(&mut fields, "praise_0_vi", "Cà phê ngon");
    set(&mut fields, "idle", "45");
    let resp = web.post(&path, &as_refs(&fields)).await;
    assert_eq!(resp.status(), 303, "saved");
    let after = pull_config(&app, &kiosk).await;
    let old = before["cursor"].as_u64().expect("cursor");
    assert_eq!(after["cursor"].as_u64(), Some(old + 1), "version bumped");
    let c = &after["config"];
    assert_eq!(c["question"]["en"], "How was your coffee <today>?");
    assert_eq!(c["question"]["vi"], "Cà phê hôm nay thế nào?");
    assert_eq!(c["scale"], 4);
    assert_eq!(c["praise_reasons"][0]["slug"], "tasty_coffee");
    assert_eq!(c["timeouts"]["idle_seconds"], 45);
    assert_eq!(c["version"].as_u64(), Some(old + 1));
    // Everything not touched is as it was.
    assert_eq!(c["problem_reasons"], before["config"]["problem_reasons"]);
    assert_eq!(c["remember_me"], before["config"]["remember_me"]);
    let (_, page) = web.get(&format!("{path}?saved=1")).await;
    assert!(
        page.contains("How was your coffee &#60;today&#62;?"),
        "escaped"
    );
    assert!(!page.contains("<today>"), "never raw");
    let lines = audit_lines(&app, "survey_changed").await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].actor, Some(user));
    assert_eq!(lines[0].detail, format!("version={}", old + 1));
}

async fn refusals_sit_beside_their_fields_keep_what_was_typed_and_save_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let before = pull_config(&app, &kiosk).await;
    let (_, mut web) = app.signed_in(Role::Manager, &[kiosk.store_id]).await;
    let path = format!("/stores/{}/survey", kiosk.store_id);
    let (_, page) = web.get(&path).await;
    let fields = form_fields(&page, &path);
    // Field-level problems: a bad code, a number that is not one.
    let mut bad = fields.clone();
    set(&mut bad, "praise_0_slug", "Not A Code");
    set(&mut bad, "thank_you", "soon");
    let resp = web.post(&path, &as_refs(&bad)).await;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.expect("page");
    assert!(page.contains("value=\"Not A Code\""), "typed value kept");
    assert!(page.contains("value=\"soon\""), "typed value kept");
    assert_eq!(page.matches("class=\"field-error\"").count(), 2, "{page}");
    // The protocol's own rule: every language needs the question.
    let mut bad = fields.clone();
    set(&mut bad, "q_vi", "");
    let resp = web.post(&path, &as_refs(&bad)).await;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.expect("page");
    let i = page.find("name=\"q_vi\"").expect("the field");
    let j = page.find("Write this in every language").expect("the note");
    assert!(j > i && j - i < 400, "the note is beside the field");
    let after = pull_config(&app, &kiosk).await;
    assert_eq!(after["cursor"], before["cursor"], "nothing saved");
    assert!(audit_lines(&app, "survey_changed").await.is_empty());
}

async fn viewers_see_the_survey_but_cannot_save_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let (_, mut web) = app.signed_in(Role::Viewer, &[kiosk.store_id]).await;
    let path = format!("/stores/{}/survey", kiosk.store_id);
    let (status, page) = web.get(&path).await;
    assert_eq!(status, 200);
    assert!(!page.contains("Save the survey"));
    let resp = web.post(&path, &[("shop_name", "Hijacked")]).await;
    assert_eq!(resp.status(), 403);
    let c = pull_config(&app, &kiosk).await;
    assert_ne!(c["config"]["shop_name"], "Hijacked");
}

crate::on_both_backends!(
    the_saved_survey_is_what_kiosks_pull_next_with_a_bumped_version,
    refusals_sit_beside_their_fields_keep_what_was_typed_and_save_nothing,
    viewers_see_the_survey_but_cannot_save_it,
);
