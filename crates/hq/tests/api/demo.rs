//! `countertop-hq demo`'s history, on both backends: what a newcomer's dashboard shows
//! must be there (three stores, 30 days, a bad Tuesday afternoon, an offline kiosk,
//! comments in both languages, NPS), it must come through the ingest rules, and loading
//! it twice must store nothing new.

use chrono::{DateTime, Duration, Utc};
use countertop_hq::demo::{self, DemoOptions};
use countertop_hq::storage::analytics::{CommentQuery, StoreRange};

use crate::common::{spawn_app, Backend};

/// A fixed end of history, so the test sees the same days every run (a Wednesday).
fn now() -> DateTime<Utc> {
    "2026-11-25T09:30:00Z".parse().expect("timestamp")
}

fn options() -> DemoOptions {
    DemoOptions {
        seed: demo::DEFAULT_SEED,
        now: now(),
        admin: Some((demo::ADMIN_EMAIL.into(), demo::ADMIN_PASSWORD.into())),
    }
}

async fn ranges(app: &crate::common::TestApp) -> Vec<StoreRange> {
    let to = now().date_naive();
    app.storage
        .stores()
        .await
        .expect("stores")
        .iter()
        .map(|s| StoreRange {
            store_id: s.id,
            from: to - Duration::days(40),
            to: to + Duration::days(1),
        })
        .collect()
}

async fn loading_the_demo_twice_stores_its_history_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = demo::load(app.storage.as_ref(), &options())
        .await
        .expect("demo loads");
    assert_eq!(first.stores.len(), 3);
    assert!(first.admin_created);
    assert!(
        first.accepted > 3 * 30 * 40,
        "a plausible month: {} events",
        first.accepted
    );
    assert_eq!(first.duplicates, 0);
    let events = app.storage.count_events().await.expect("count");
    assert_eq!(events, first.accepted);

    let second = demo::load(app.storage.as_ref(), &options())
        .await
        .expect("demo loads again");
    assert_eq!(
        second.stores, first.stores,
        "the same stores, found by name"
    );
    assert_eq!(second.accepted, 0, "nothing new the second time");
    assert_eq!(second.duplicates, first.accepted);
    assert!(!second.admin_created);
    assert_eq!(app.storage.count_events().await.expect("count"), events);
    assert_eq!(app.storage.stores().await.expect("stores").len(), 3);
    let devices = app.storage.devices(None).await.expect("devices");
    assert_eq!(devices.len(), 4, "no kiosk enrolled twice");

    let days = app
        .storage
        .daily(&ranges(&app).await, true)
        .await
        .expect("daily");
    assert_eq!(days.len(), 30, "30 local days with ratings");
}

async fn the_demo_history_has_a_bad_tuesday_afternoon_and_an_offline_kiosk(backend: Backend) {
    let app = spawn_app(backend).await;
    let report = demo::load(app.storage.as_ref(), &options())
        .await
        .expect("demo loads");
    let all = ranges(&app).await;
    let (ho_tay, _) = report
        .stores
        .iter()
        .find(|(_, name)| name == "Cà Phê Hồ Tây")
        .expect("the Vietnamese café");
    let ho_tay_range: Vec<_> = all
        .iter()
        .filter(|r| r.store_id == *ho_tay)
        .copied()
        .collect();
    let heat = app
        .storage
        .heatmap(&ho_tay_range, true)
        .await
        .expect("heatmap");
    let mean = |cells: &[&countertop_hq::storage::analytics::Sums]| {
        let n: u64 = cells.iter().map(|s| s.count()).sum();
        let sum: u64 = cells.iter().map(|s| s.score_sum()).sum();
        sum as f64 / n as f64
    };
    let tuesday_afternoon: Vec<_> = (14..18).map(|h| &heat[1][h]).collect();
    let wednesday_afternoon: Vec<_> = (14..18).map(|h| &heat[2][h]).collect();
    assert!(
        mean(&tuesday_afternoon) + 1.0 < mean(&wednesday_afternoon),
        "Tuesday afternoons go badly: {} against {}",
        mean(&tuesday_afternoon),
        mean(&wednesday_afternoon)
    );
    let morning: u64 = (7..10).map(|h| heat[2][h].count()).sum();
    let evening: u64 = (18..21).map(|h| heat[2][h].count()).sum();
    assert!(morning > 2 * evening, "mornings are busy");

    let devices = app.storage.devices(None).await.expect("devices");
    let offline: Vec<_> = devices
        .iter()
        .filter(|d| d.last_seen.is_some_and(|t| now() - t > Duration::hours(40)))
        .collect();
    assert_eq!(offline.len(), 1, "one kiosk went quiet: {devices:?}");
    assert_eq!(offline[0].queue_depth, Some(37));
    assert!(offline[0].last_error.is_some());
    assert!(devices
        .iter()
        .all(|d| d.app_version.is_some() && d.clock_offset_seconds.is_some()));

    let comments = app
        .storage
        .comments(&CommentQuery {
            ranges: all.clone(),
            score: None,
            reason: None,
            text: None,
            include_repeats: true,
            before: None,
            limit: 500,
        })
        .await
        .expect("comments");
    assert!(comments
        .rows
        .iter()
        .any(|c| c.comment.contains("quá") || c.comment.contains("ngon")));
    assert!(comments.rows.iter().any(|c| c.comment.contains("coffee")
        || c.comment.contains("latte")
        || c.comment.contains("staff")));
    let summaries = app
        .storage
        .store_summaries(&all, true)
        .await
        .expect("summaries");
    assert_eq!(summaries.len(), 3);
    assert!(summaries.iter().any(|(_, s)| s.nps_responses > 0));
    let reasons = app.storage.reasons(&all, true).await.expect("reasons");
    assert!(reasons.iter().any(|(slug, _)| slug == "slow_service"));
    assert!(reasons.iter().any(|(slug, _)| slug == "friendly_staff"));
}

crate::on_both_backends!(
    loading_the_demo_twice_stores_its_history_once,
    the_demo_history_has_a_bad_tuesday_afternoon_and_an_offline_kiosk,
);
