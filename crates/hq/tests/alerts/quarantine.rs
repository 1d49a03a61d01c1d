//! The "kiosk with quarantined events" condition on both backends: a kiosk's health
//! report with a quarantined count is stored, opens the alert on the push that carries it
//! (without waiting for the timer), and a later report of 0 closes it after the pending
//! period. A kiosk too old to report the count never fires it.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use countertop_hq::alerts::rule::Condition;
use countertop_hq::storage::alerts::AlertQuery;
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::{alert_app, bad_hour, json as body_of, AlertApp, Kiosk, Receiver};
use crate::common::Backend;

/// A `device_health` event; `quarantined: None` is a kiosk that omits the field.
fn health(at: DateTime<Utc>, quarantined: Option<u64>) -> Value {
    let mut body = json!({"queue_depth": 0, "app_version": "0.9.0"});
    if let Some(q) = quarantined {
        body["quarantined"] = json!(q);
    }
    json!({
        "id": Uuid::now_v7(), "seq": 1, "device_time": at, "utc_offset_minutes": 0,
        "kind": "device_health", "body": body
    })
}

async fn push_health(app: &AlertApp, kiosk: &Kiosk, quarantined: Option<u64>) {
    let resp = app
        .client
        .post(format!("{}/api/v1/events", app.address))
        .bearer_auth(&kiosk.token)
        .json(&json!({"protocol": "1.0", "events": [health(Utc::now(), quarantined)]}))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["accepted"], 1, "{body}");
}

async fn quarantined(app: &AlertApp, kiosk: &Kiosk) -> Option<u64> {
    let devices = app
        .storage
        .devices(Some(&[kiosk.store_id]))
        .await
        .expect("devices");
    devices[0].quarantined
}

fn open_only(store: Uuid) -> AlertQuery {
    AlertQuery {
        stores: Some(vec![store]),
        open_only: true,
        limit: 10,
    }
}

async fn a_kiosk_reporting_quarantined_events_opens_the_alert_and_zero_closes_it_after_the_pending_period(
    backend: Backend,
) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.condition = Condition::QuarantinedAbove { events: 0 };
    spec.pending_seconds = 300;
    app.storage.create_rule(&spec).await.expect("rule");

    push_health(&app, &kiosk, Some(2)).await;
    assert_eq!(
        quarantined(&app, &kiosk).await,
        Some(2),
        "HQ stores the count"
    );
    assert_eq!(app.tick().await, 0, "not before the pending period");
    app.clock.advance(Duration::minutes(6));
    assert_eq!(app.tick().await, 1, "held for the pending period: opened");
    let opened = body_of(&hook.seen()[0]);
    assert_eq!(opened["event"], "alert.opened");
    assert!(
        opened["detail"]
            .as_str()
            .unwrap_or("")
            .contains("2 quarantined"),
        "{opened}"
    );

    push_health(&app, &kiosk, Some(0)).await;
    assert_eq!(quarantined(&app, &kiosk).await, Some(0));
    app.tick().await;
    assert_eq!(
        app.storage
            .alerts(&open_only(kiosk.store_id))
            .await
            .expect("alerts")
            .len(),
        1,
        "clear, but not yet for the pending period"
    );
    app.clock.advance(Duration::minutes(6));
    app.tick().await;
    assert!(app
        .storage
        .alerts(&open_only(kiosk.store_id))
        .await
        .expect("alerts")
        .is_empty());
    let events: Vec<_> = hook
        .seen()
        .iter()
        .map(|s| body_of(s)["event"].clone())
        .collect();
    assert_eq!(events, ["alert.opened", "alert.closed"]);
}

async fn a_kiosk_that_does_not_report_the_count_never_fires_the_quarantined_rule(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.condition = Condition::QuarantinedAbove { events: 0 };
    let any = app.storage.create_rule(&spec).await.expect("rule");
    push_health(&app, &kiosk, None).await;
    assert_eq!(quarantined(&app, &kiosk).await, None, "unknown, not 0");
    assert_eq!(app.tick().await, 0);
    // A threshold above 0: 3 quarantined events are not more than 5.
    let mut spec = bad_hour(&hook.url);
    spec.condition = Condition::QuarantinedAbove { events: 5 };
    app.storage.create_rule(&spec).await.expect("rule");
    push_health(&app, &kiosk, Some(3)).await;
    assert_eq!(app.tick().await, 1, "only the any-count rule fires");
    let seen = hook.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(body_of(&seen[0])["rule_id"], any.to_string());
}

async fn the_health_push_itself_triggers_the_quarantined_alert_without_the_timer(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    // The engine runs by itself, its timer an hour away after the first pass: only the
    // push can trigger the evaluation.
    let app = alert_app(backend, true, |s| {
        s.alerts.evaluate_every = StdDuration::from_secs(3600);
    })
    .await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.condition = Condition::QuarantinedAbove { events: 0 };
    app.storage.create_rule(&spec).await.expect("rule");
    // Let the engine's first full pass go by.
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    push_health(&app, &kiosk, Some(1)).await;
    hook.wait_accepted(1).await;
    assert_eq!(
        body_of(&hook.seen()[0])["store_id"],
        kiosk.store_id.to_string()
    );
}

crate::on_both_backends!(
    a_kiosk_reporting_quarantined_events_opens_the_alert_and_zero_closes_it_after_the_pending_period,
    a_kiosk_that_does_not_report_the_count_never_fires_the_quarantined_rule,
    the_health_push_itself_triggers_the_quarantined_alert_without_the_timer,
);
