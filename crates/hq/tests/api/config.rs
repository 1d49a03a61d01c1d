//! Pulling and changing a store's survey configuration, with a cursor.

use countertop_protocol::SurveyConfig;
use serde_json::Value;

use crate::common::{spawn_app, Backend};

async fn kiosk_pulls_its_survey_then_nothing_new_at_the_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let url = app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id));
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    let config: SurveyConfig =
        serde_json::from_value(body["config"].clone()).expect("a valid survey config");
    assert_eq!(config.shop_name, "Corner Coffee");
    assert_eq!(config.question["en"], "How was your visit today?");
    assert_eq!(config.scale.faces(), 5);
    let cursor = body["cursor"].as_u64().expect("cursor");
    let again: Value = app
        .client
        .get(format!("{url}?cursor={cursor}"))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(again["config"].is_null(), "unchanged since the cursor");
    assert_eq!(again["cursor"], cursor);
}

async fn changed_survey_reaches_the_kiosk_with_a_new_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let url = app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id));
    let mut config = SurveyConfig {
        scale: countertop_protocol::Scale::FOUR,
        ..SurveyConfig::default()
    };
    config
        .question
        .insert("en".into(), "How was the wait?".into());
    let token = app.api_token().await;
    let resp = app
        .client
        .put(&url)
        .bearer_auth(&token)
        .json(&config)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 200);
    let put: Value = resp.json().await.expect("json");
    let new_cursor = put["cursor"].as_u64().expect("cursor");
    assert_eq!(new_cursor, 2);
    let pulled: Value = app
        .client
        .get(format!("{url}?cursor=1"))
        .bearer_auth(&kiosk.token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(pulled["cursor"], 2);
    assert_eq!(pulled["config"]["scale"], 4);
    assert_eq!(pulled["config"]["version"], 2);
    assert_eq!(pulled["config"]["question"]["en"], "How was the wait?");
}

async fn device_token_of_another_store_gets_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.kiosk().await;
    let b = app.kiosk().await;
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/stores/{}/config", b.store_id)))
        .bearer_auth(&a.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "wrong_store");
}

async fn device_token_cannot_change_the_survey(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id)))
        .bearer_auth(&kiosk.token)
        .json(&SurveyConfig::default())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 401);
}

async fn config_pull_of_an_unknown_major_version_gets_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let kiosk = app.kiosk().await;
    let url = app.url(&format!("/api/v1/stores/{}/config", kiosk.store_id));
    let resp = app
        .client
        .get(&url)
        .bearer_auth(&kiosk.token)
        .header("x-countertop-protocol", "2.0")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unsupported_protocol_version");
    let ok = app
        .client
        .get(&url)
        .bearer_auth(&kiosk.token)
        .header("x-countertop-protocol", "1.3")
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
}

crate::on_both_backends!(
    config_pull_of_an_unknown_major_version_gets_400,
    kiosk_pulls_its_survey_then_nothing_new_at_the_cursor,
    changed_survey_reaches_the_kiosk_with_a_new_cursor,
    device_token_of_another_store_gets_403,
    device_token_cannot_change_the_survey,
);
