//! The alert lifecycle end to end on both backends, with an injected clock: fires on the
//! push that crosses the rule and not before the minimum answers, stays one alert with one
//! delivery, is acknowledged, closes by itself after the pending period, repeats after
//! the interval, and a silent kiosk alerts during opening hours and not at night.

use chrono::{Duration, TimeZone, Utc};
use countertop_hq::alerts::channels::sign;
use countertop_hq::alerts::lifecycle::AlertState;
use countertop_hq::alerts::rule::Condition;
use countertop_hq::storage::alerts::AlertQuery;
use countertop_hq::storage::hours::OpeningHours;

use super::support::{alert_app, bad_hour, json, Receiver, SECRET};
use crate::common::Backend;

fn open_alerts() -> AlertQuery {
    AlertQuery {
        stores: None,
        open_only: true,
        limit: 100,
    }
}

async fn a_rule_fires_on_the_push_that_crosses_it_once_and_signs_its_delivery(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("Asia/Ho_Chi_Minh").await;
    let rule = app
        .storage
        .create_rule(&bad_hour(&hook.url))
        .await
        .expect("rule");

    app.push_scores(&kiosk, &[1, 1, 2]).await;
    assert_eq!(app.tick().await, 0, "3 answers are under the minimum of 4");
    assert!(hook.seen().is_empty());

    app.push_scores(&kiosk, &[1]).await;
    assert_eq!(
        app.tick().await,
        1,
        "the 4th unhappy answer crosses the rule"
    );
    for _ in 0..3 {
        app.push_scores(&kiosk, &[1, 2]).await;
        app.clock.advance(Duration::minutes(1));
        app.tick().await;
    }
    let seen = hook.seen();
    assert_eq!(
        seen.len(),
        1,
        "one alert, one delivery, however many bad pushes"
    );
    let body = json(&seen[0]);
    assert_eq!(body["event"], "alert.opened");
    assert_eq!(body["rule_id"], rule.to_string());
    assert_eq!(body["store_id"], kiosk.store_id.to_string());
    assert_eq!(body["idempotency_key"], seen[0].idempotency_key);
    assert_eq!(
        seen[0].signature.as_deref(),
        Some(sign(SECRET.as_bytes(), &seen[0].body).as_str()),
        "the HMAC-SHA256 over the body verifies"
    );
    assert_ne!(
        seen[0].signature.as_deref(),
        Some(sign(b"another key", &seen[0].body).as_str())
    );
    let open = app.storage.alerts(&open_alerts()).await.expect("alerts");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, AlertState::Open);
    assert!(open[0].detail.contains("unhappy"), "{}", open[0].detail);
}

async fn an_alert_is_acknowledged_and_closes_by_itself_after_the_pending_period(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.pending_seconds = 300;
    app.storage.create_rule(&spec).await.expect("rule");

    app.push_scores(&kiosk, &[1, 1, 1, 1]).await;
    app.tick().await;
    assert!(
        hook.seen().is_empty(),
        "pending: not yet held for 5 minutes"
    );
    assert!(app
        .storage
        .alerts(&open_alerts())
        .await
        .expect("alerts")
        .is_empty());
    app.clock.advance(Duration::minutes(5));
    app.push_scores(&kiosk, &[1]).await;
    app.tick().await;
    assert_eq!(hook.seen().len(), 1, "held for the pending period: opened");

    let alert = app.storage.alerts(&open_alerts()).await.expect("alerts")[0].clone();
    let now = app.clock_now();
    assert!(app
        .storage
        .acknowledge_alert(alert.id, "manager@example.org", Some("on it"), now)
        .await
        .expect("ack"));
    assert!(
        !app.storage
            .acknowledge_alert(alert.id, "x@example.org", None, now)
            .await
            .expect("ack"),
        "an acknowledged alert is not acknowledged twice"
    );
    let acked = app.storage.alerts(&open_alerts()).await.expect("alerts")[0].clone();
    assert_eq!(acked.state, AlertState::Acknowledged);
    assert_eq!(
        acked.acknowledged_by.as_deref(),
        Some("manager@example.org")
    );
    assert_eq!(acked.ack_note.as_deref(), Some("on it"));

    // Ratings recover: happy answers now outweigh the old ones in the window.
    app.clock.advance(Duration::minutes(16));
    app.push_scores(&kiosk, &[5, 5, 5, 5, 4]).await;
    app.tick().await;
    let still = app.storage.alerts(&open_alerts()).await.expect("alerts");
    assert_eq!(still.len(), 1, "clear, but not yet for the pending period");
    app.clock.advance(Duration::minutes(5));
    app.tick().await;
    assert!(app
        .storage
        .alerts(&open_alerts())
        .await
        .expect("alerts")
        .is_empty());
    let history = app
        .storage
        .alerts(&AlertQuery {
            stores: Some(vec![kiosk.store_id]),
            open_only: false,
            limit: 10,
        })
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, AlertState::Closed);
    let events: Vec<_> = hook
        .seen()
        .iter()
        .map(|s| json(s)["event"].clone())
        .collect();
    assert_eq!(events, ["alert.opened", "alert.closed"]);
}

async fn an_open_alert_repeats_after_the_interval_with_a_new_key(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.repeat_seconds = 600;
    app.storage.create_rule(&spec).await.expect("rule");
    app.push_scores(&kiosk, &[1, 1, 1, 1]).await;
    app.tick().await;
    app.clock.advance(Duration::minutes(9));
    app.push_scores(&kiosk, &[1]).await;
    app.tick().await;
    assert_eq!(hook.seen().len(), 1, "not before the repeat interval");
    app.clock.advance(Duration::minutes(1));
    app.tick().await;
    let seen = hook.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(json(&seen[1])["event"], "alert.repeated");
    assert_ne!(seen[0].idempotency_key, seen[1].idempotency_key);
}

async fn a_silent_kiosk_alerts_during_opening_hours_and_not_at_night(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("Asia/Ho_Chi_Minh").await;
    let days = ["07:00-22:00"; 7];
    app.storage
        .set_opening_hours(
            kiosk.store_id,
            &OpeningHours::parse_days(&days).expect("hours"),
        )
        .await
        .expect("hours set");
    let mut spec = bad_hour(&hook.url);
    spec.condition = Condition::SilentKiosk { minutes: 60 };
    app.storage.create_rule(&spec).await.expect("rule");

    // Tomorrow, 02:00 in Ho Chi Minh City (19:00 UTC the day before): silent, but closed.
    let tomorrow = Utc::now().date_naive() + Duration::days(2);
    let night = chrono_tz::Asia::Ho_Chi_Minh
        .from_local_datetime(&tomorrow.and_hms_opt(2, 0, 0).expect("time"))
        .single()
        .expect("one instant")
        .with_timezone(&Utc);
    app.clock.set(night);
    assert_eq!(app.tick().await, 0, "muted outside opening hours");
    app.clock.set(night + Duration::hours(8));
    assert_eq!(
        app.tick().await,
        1,
        "10:00 local: open, and silent for hours"
    );
    let body = json(&hook.seen()[0]);
    assert!(
        body["detail"].as_str().unwrap_or("").contains("silent"),
        "{body}"
    );
}

async fn a_kiosk_that_keeps_pushing_is_not_silent(backend: Backend) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.condition = Condition::SilentKiosk { minutes: 60 };
    app.storage.create_rule(&spec).await.expect("rule");
    // Kiosks are heard at HQ's receipt time: move the clock to it.
    app.clock.set(Utc::now());
    app.push_scores(&kiosk, &[5]).await;
    app.clock.advance(Duration::minutes(30));
    assert_eq!(app.tick().await, 0);
    app.clock.advance(Duration::minutes(31));
    assert_eq!(app.tick().await, 1, "61 minutes after its last push");
}

async fn a_changed_rule_applies_and_a_deleted_rule_closes_its_alert_keeping_history(
    backend: Backend,
) {
    let hook = Receiver::start(&[]).await;
    let app = alert_app(backend, false, |_| {}).await;
    let kiosk = app.kiosk("UTC").await;
    let mut spec = bad_hour(&hook.url);
    spec.min_answers = 10;
    let rule = app.storage.create_rule(&spec).await.expect("rule");
    app.push_scores(&kiosk, &[1, 1, 1, 1]).await;
    assert_eq!(app.tick().await, 0, "10 answers needed");
    spec.min_answers = 4;
    assert!(app.storage.update_rule(rule, &spec).await.expect("update"));
    assert_eq!(app.tick().await, 1, "the changed rule fires");
    assert!(app.storage.delete_rule(rule).await.expect("delete"));
    assert!(
        !app.storage.delete_rule(rule).await.expect("delete"),
        "deleted once"
    );
    assert!(app.storage.rules().await.expect("rules").is_empty());
    assert!(app
        .storage
        .alerts(&open_alerts())
        .await
        .expect("alerts")
        .is_empty());
    let history = app
        .storage
        .alerts(&AlertQuery {
            stores: Some(vec![kiosk.store_id]),
            open_only: false,
            limit: 10,
        })
        .await
        .expect("history");
    assert_eq!(history.len(), 1, "the history stays");
    assert_eq!(history[0].rule_name, "Bad hour");
    assert_eq!(history[0].closed_by.as_deref(), Some("rule deleted"));
}

crate::on_both_backends!(
    a_changed_rule_applies_and_a_deleted_rule_closes_its_alert_keeping_history,
    a_rule_fires_on_the_push_that_crosses_it_once_and_signs_its_delivery,
    an_alert_is_acknowledged_and_closes_by_itself_after_the_pending_period,
    an_open_alert_repeats_after_the_interval_with_a_new_key,
    a_silent_kiosk_alerts_during_opening_hours_and_not_at_night,
    a_kiosk_that_keeps_pushing_is_not_silent,
);
