//! The dashboard's read model (`Analytics`), on both backends: ratings pushed over real
//! HTTP, then read back per store, day, weekday × hour, touchpoint and reason, as a
//! comments feed, as export pages, and as kiosk health; plus opening hours.

use chrono::{DateTime, NaiveDate, Utc};
use countertop_hq::storage::analytics::{CommentQuery, StoreRange, Sums};
use countertop_hq::storage::hours::OpeningHours;
use countertop_hq::StorageError;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{rating_at, spawn_app, Backend};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn range(store_id: Uuid, from: &str, to: &str) -> StoreRange {
    StoreRange {
        store_id,
        from: day(from),
        to: day(to),
    }
}

/// A rating with its body fields changed.
fn rating(t: DateTime<Utc>, score: u8, body: Value) -> Value {
    let mut e = rating_at(t, score);
    if let (Some(b), Value::Object(extra)) = (e["body"].as_object_mut(), body) {
        b.extend(extra);
    }
    e
}

fn details(t: DateTime<Utc>, rating: &Value, body: Value) -> Value {
    let mut b = json!({"rating_id": rating["id"], "reasons": []});
    if let (Some(o), Value::Object(extra)) = (b.as_object_mut(), body) {
        o.extend(extra);
    }
    json!({"id": Uuid::now_v7(), "seq": 2, "device_time": t, "utc_offset_minutes": 0,
           "kind": "rating_details", "body": b})
}

fn five(counts: [u64; 5]) -> Sums {
    Sums {
        five: counts,
        ..Sums::default()
    }
}

async fn summaries_daily_and_touchpoints_follow_each_stores_dates(backend: Backend) {
    let app = spawn_app(backend).await;
    let hcm = app.kiosk_in("Asia/Ho_Chi_Minh").await;
    let utc = app.kiosk_in("UTC").await;
    // 18:30 UTC on the 20th is 01:30 on the 21st in Ho Chi Minh City.
    app.push_ok(
        &hcm.token,
        &[
            rating(at("2026-11-20T18:30:00Z"), 5, json!({})),
            rating(
                at("2026-11-20T03:00:00Z"),
                1,
                json!({"touchpoint": "checkout"}),
            ),
            rating(
                at("2026-11-20T04:00:00Z"),
                2,
                json!({"suspected_repeat": true}),
            ),
        ],
    )
    .await;
    app.push_ok(
        &utc.token,
        &[
            rating(at("2026-11-20T18:30:00Z"), 4, json!({})),
            rating(at("2026-11-21T09:00:00Z"), 3, json!({"scale": 4})),
        ],
    )
    .await;
    let s = app.storage.as_ref();
    let ranges = [
        range(hcm.store_id, "2026-11-21", "2026-11-21"),
        range(utc.store_id, "2026-11-20", "2026-11-21"),
    ];
    let mut got = s.store_summaries(&ranges, false).await.expect("summaries");
    got.sort_by_key(|(id, _)| *id == utc.store_id);
    assert_eq!(got[0], (hcm.store_id, five([0, 0, 0, 0, 1])));
    let mut utc_sums = five([0, 0, 0, 1, 0]);
    utc_sums.four = [0, 0, 1, 0];
    assert_eq!(got[1], (utc.store_id, utc_sums));

    let with_repeats = s
        .store_summaries(&[range(hcm.store_id, "2026-11-20", "2026-11-20")], true)
        .await
        .expect("summaries");
    assert_eq!(with_repeats, [(hcm.store_id, five([1, 1, 0, 0, 0]))]);

    let daily = s.daily(&ranges, false).await.expect("daily");
    let days: Vec<(NaiveDate, u64)> = daily.iter().map(|(d, s)| (*d, s.count())).collect();
    assert_eq!(days, [(day("2026-11-20"), 1), (day("2026-11-21"), 2)]);

    let tps = s
        .touchpoints(&[range(hcm.store_id, "2026-11-20", "2026-11-21")], false)
        .await
        .expect("touchpoints");
    assert_eq!(
        tps,
        [
            ("checkout".to_owned(), five([1, 0, 0, 0, 0])),
            ("visit".to_owned(), five([0, 0, 0, 0, 1])),
        ]
    );
    assert!(s
        .store_summaries(&[], false)
        .await
        .expect("empty")
        .is_empty());
}

async fn the_heatmap_is_local_weekday_by_local_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("Asia/Ho_Chi_Minh").await;
    // 2026-11-22 is a Sunday; 18:30 UTC on Sunday is 01:30 on Monday the 23rd locally.
    app.push_ok(
        &k.token,
        &[
            rating(at("2026-11-22T18:30:00Z"), 5, json!({})),
            rating(at("2026-11-22T03:15:00Z"), 2, json!({})),
            rating(at("2026-11-22T03:45:00Z"), 4, json!({})),
        ],
    )
    .await;
    let map = app
        .storage
        .heatmap(&[range(k.store_id, "2026-11-01", "2026-11-30")], false)
        .await
        .expect("heatmap");
    assert_eq!(map[0][1], five([0, 0, 0, 0, 1]), "Monday 01:00");
    assert_eq!(map[6][10], five([0, 1, 0, 1, 0]), "Sunday 10:00");
    let total: u64 = map.iter().flatten().map(Sums::count).sum();
    assert_eq!(total, 3);
}

async fn reasons_count_inline_and_late_details_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let r1 = rating(t, 2, json!({"reasons": ["slow_service", "cold_food"]}));
    let r2 = rating(t, 5, json!({"reasons": ["friendly_staff"]}));
    let late = at("2026-11-21T10:00:00Z");
    let r3 = rating(
        late,
        1,
        json!({"reasons": ["slow_service"], "suspected_repeat": true}),
    );
    app.push_ok(&k.token, &[r1.clone(), r2.clone(), r3]).await;
    // Details add one new reason and repeat one the rating already had; sent twice.
    let d = details(
        t,
        &r2,
        json!({"reasons": ["friendly_staff", "clean"], "nps": 10}),
    );
    app.push_ok(&k.token, std::slice::from_ref(&d)).await;
    app.push_ok(&k.token, &[d]).await;
    let s = app.storage.as_ref();
    let ranges = [range(k.store_id, "2026-11-20", "2026-11-21")];
    let reasons = s.reasons(&ranges, false).await.expect("reasons");
    let want: Vec<(String, u64)> = [
        ("clean", 1),
        ("cold_food", 1),
        ("friendly_staff", 1),
        ("slow_service", 1),
    ]
    .iter()
    .map(|(r, n)| (r.to_string(), *n))
    .collect();
    assert_eq!(reasons, want);
    let with = s.reasons(&ranges, true).await.expect("reasons");
    assert_eq!(
        with[0],
        ("slow_service".to_owned(), 2),
        "most frequent first"
    );
    let daily = s.reasons_daily(&ranges, true).await.expect("daily");
    assert_eq!(
        daily.last(),
        Some(&(day("2026-11-21"), "slow_service".to_owned(), 1))
    );
    let sums = s.store_summaries(&ranges, false).await.expect("sums");
    assert_eq!(sums[0].1.nps_responses, 1);
    assert_eq!(sums[0].1.promoters, 1);
}

async fn the_comments_feed_filters_and_pages_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let other = app.kiosk_in("UTC").await;
    let t = |m: u32| at(&format!("2026-11-20T10:{m:02}:00Z"));
    let mut events = Vec::new();
    for m in 0..7 {
        events.push(rating(
            t(m),
            1 + (m % 5) as u8,
            json!({"comment": format!("note {m}")}),
        ));
    }
    events.push(rating(t(8), 5, json!({})));
    events.push(rating(
        t(9),
        1,
        json!({"comment": "100% _wrong_", "reasons": ["slow_service"]}),
    ));
    events.push(rating(
        t(10),
        2,
        json!({"comment": "again", "suspected_repeat": true}),
    ));
    app.push_ok(&k.token, &events).await;
    app.push_ok(
        &other.token,
        &[rating(t(11), 1, json!({"comment": "elsewhere"}))],
    )
    .await;
    // A comment added later by details replaces the rating's own.
    app.push_ok(
        &k.token,
        &[details(
            t(0),
            &events[0],
            json!({"comment": "Changed MIND"}),
        )],
    )
    .await;
    let s = app.storage.as_ref();
    let q = |f: &dyn Fn(&mut CommentQuery)| {
        let mut q = CommentQuery {
            ranges: vec![range(k.store_id, "2026-11-20", "2026-11-20")],
            score: None,
            reason: None,
            text: None,
            include_repeats: false,
            before: None,
            limit: 50,
        };
        f(&mut q);
        q
    };
    let all = s.comments(&q(&|_| {})).await.expect("comments");
    let texts: Vec<&str> = all.rows.iter().map(|r| r.comment.as_str()).collect();
    assert_eq!(
        texts,
        [
            "100% _wrong_",
            "note 6",
            "note 5",
            "note 4",
            "note 3",
            "note 2",
            "note 1",
            "Changed MIND"
        ]
    );
    assert_eq!(all.next, None);
    assert_eq!(all.rows[0].reasons, ["slow_service"]);
    let repeats = s
        .comments(&q(&|q| q.include_repeats = true))
        .await
        .expect("comments");
    assert_eq!(repeats.rows[0].comment, "again");
    assert!(repeats.rows[0].suspected_repeat);
    let by_score = s
        .comments(&q(&|q| q.score = Some(1)))
        .await
        .expect("comments");
    let texts: Vec<&str> = by_score.rows.iter().map(|r| r.comment.as_str()).collect();
    assert_eq!(texts, ["100% _wrong_", "note 5", "Changed MIND"]);
    let by_reason = s
        .comments(&q(&|q| q.reason = Some("slow_service".into())))
        .await
        .expect("comments");
    assert_eq!(by_reason.rows.len(), 1);
    // LIKE's wildcards in the search text are plain characters.
    for (text, n) in [("%", 1), ("_w", 1), ("mind", 1), ("note", 6), ("o_e", 0)] {
        let found = s
            .comments(&q(&|q| q.text = Some(text.into())))
            .await
            .expect("comments");
        assert_eq!(found.rows.len(), n, "{text:?}");
    }
    // Pages of three, each continuing where the last stopped, cover the feed once.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s
            .comments(&q(&|q| {
                q.limit = 3;
                q.before = before;
            }))
            .await
            .expect("page");
        assert!(page.rows.len() <= 3);
        seen.extend(page.rows.iter().map(|r| r.rating_id));
        match page.next {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        all.rows.iter().map(|r| r.rating_id).collect::<Vec<_>>()
    );
}

async fn export_pages_cover_every_rating_once_in_id_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let events: Vec<Value> = (0..23)
        .map(|i| {
            rating(
                t,
                1 + (i % 5) as u8,
                json!({"reasons": if i % 3 == 0 { json!(["b", "a"]) } else { json!([]) },
                       "suspected_repeat": i % 7 == 0}),
            )
        })
        .collect();
    app.push_ok(&k.token, &events).await;
    let ranges = [range(k.store_id, "2026-11-20", "2026-11-20")];
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .storage
            .export_page(&ranges, after, 10)
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|r| r.rating_id);
        rows.extend(page);
    }
    assert_eq!(rows.len(), 23, "suspected repeats are exported too");
    let ids: Vec<Uuid> = rows.iter().map(|r| r.rating_id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let first = rows
        .iter()
        .find(|r| r.rating_id.to_string() == events[0]["id"].as_str().expect("id"))
        .expect("first rating exported");
    assert_eq!(first.reasons, ["a", "b"]);
    assert_eq!(first.device_id, k.device_id);
    assert_eq!((first.local_hour, first.scale, first.score), (10, 5, 1));
    assert!(first.suspected_repeat);
}

async fn devices_show_their_newest_health_and_last_push(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let quiet = app.kiosk_in("UTC").await;
    let s = app.storage.as_ref();
    let before = s.devices(Some(&[k.store_id])).await.expect("devices");
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].last_seen, None);
    assert_eq!(before[0].queue_depth, None);
    let health = |depth: u64, error: &str, device_time: DateTime<Utc>| {
        json!({"id": Uuid::now_v7(), "seq": 3, "device_time": device_time,
               "utc_offset_minutes": 0, "kind": "device_health",
               "body": {"queue_depth": depth, "oldest_unsent_age_seconds": 30,
                        "app_version": "1.4.2", "last_error": error}})
    };
    let pushed = Utc::now();
    app.push_ok(&k.token, &[health(12, "timeout", pushed)])
        .await;
    // A kiosk whose clock runs 90 s slow.
    let slow = Utc::now() - chrono::Duration::seconds(90);
    app.push_ok(&k.token, &[health(3, "disk full", slow)]).await;
    let all = s.devices(None).await.expect("devices");
    assert_eq!(all.len(), 2);
    let d = all
        .iter()
        .find(|d| d.device_id == k.device_id)
        .expect("kiosk listed");
    assert_eq!(d.store_id, k.store_id);
    assert_eq!(d.name.as_deref(), Some("counter"));
    assert_eq!(d.queue_depth, Some(3), "the newest health report wins");
    assert_eq!(d.last_error.as_deref(), Some("disk full"));
    assert_eq!(d.app_version.as_deref(), Some("1.4.2"));
    assert_eq!(d.oldest_unsent_age_seconds, Some(30));
    let offset = d.clock_offset_seconds.expect("offset");
    assert!((89..=95).contains(&offset), "{offset}");
    let seen = d.last_seen.expect("seen");
    assert!(seen >= pushed - chrono::Duration::seconds(5), "{seen}");
    assert!(!d.revoked);
    let q = all
        .iter()
        .find(|d| d.device_id == quiet.device_id)
        .expect("quiet kiosk listed");
    assert_eq!((q.last_seen, q.health_at), (None, None));
    s.revoke_device(k.device_id).await.expect("revoked");
    let after = s.devices(Some(&[k.store_id])).await.expect("devices");
    assert!(after[0].revoked);
    assert!(s.devices(Some(&[])).await.expect("none").is_empty());
}

async fn opening_hours_default_to_always_open_and_are_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store("Hours", "UTC").await;
    let s = app.storage.as_ref();
    assert!(s.opening_hours(store).await.expect("hours").always_open());
    let hours = OpeningHours::parse_days(&[
        "07:00-19:00",
        "07:00-19:00",
        "07:00-19:00",
        "07:00-19:00",
        "07:00-21:00",
        "08:00-24:00",
        "closed",
    ])
    .expect("valid");
    s.set_opening_hours(store, &hours).await.expect("set");
    assert_eq!(s.opening_hours(store).await.expect("hours"), hours);
    s.set_opening_hours(store, &OpeningHours::default())
        .await
        .expect("set");
    assert!(s.opening_hours(store).await.expect("hours").always_open());
    let missing = Uuid::now_v7();
    assert!(matches!(
        s.opening_hours(missing).await,
        Err(StorageError::NoSuchStore(id)) if id == missing
    ));
    assert!(matches!(
        s.set_opening_hours(missing, &hours).await,
        Err(StorageError::NoSuchStore(_))
    ));
}

async fn stores_are_listed_by_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = app.store("Bakery", "Asia/Tokyo").await;
    let a = app.store("Espresso <Bar>", "UTC").await;
    let stores = app.storage.stores().await.expect("stores");
    let got: Vec<(Uuid, &str, &str)> = stores
        .iter()
        .map(|s| (s.id, s.name.as_str(), s.timezone.as_str()))
        .collect();
    assert_eq!(
        got,
        [(b, "Bakery", "Asia/Tokyo"), (a, "Espresso <Bar>", "UTC")]
    );
}

/// A small deterministic generator, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len() as u64) as usize]
    }
}

const REASONS: [&str; 4] = ["slow", "cold", "friendly", "clean"];

fn random_reasons(rng: &mut Rng) -> Vec<&'static str> {
    REASONS.iter().copied().filter(|_| rng.chance(30)).collect()
}

/// Everything the read model reports, computed here from the raw rows (the export).
#[derive(Debug, Default, PartialEq)]
struct Figures {
    by_store: Vec<(Uuid, Sums)>,
    daily: Vec<(NaiveDate, Sums)>,
    heatmap: Vec<Vec<Sums>>,
    touchpoints: Vec<(String, Sums)>,
    reasons: Vec<(String, u64)>,
    reasons_daily: Vec<(NaiveDate, String, u64)>,
}

fn add_rating(s: &mut Sums, r: &countertop_hq::storage::analytics::ExportRow) {
    let cell = countertop_hq::storage::analytics::Cell {
        n: 1,
        nps_responses: u64::from(r.nps.is_some()),
        promoters: u64::from(r.nps.is_some_and(|n| n >= 9)),
        detractors: u64::from(r.nps.is_some_and(|n| n <= 6)),
    };
    s.add(r.scale, r.score, cell);
}

fn from_raw(
    rows: &[countertop_hq::storage::analytics::ExportRow],
    ranges: &[StoreRange],
    repeats: bool,
) -> Figures {
    use chrono::Datelike;
    use std::collections::BTreeMap;
    let inside = |r: &&countertop_hq::storage::analytics::ExportRow| {
        (repeats || !r.suspected_repeat)
            && ranges
                .iter()
                .any(|g| g.store_id == r.store_id && g.from <= r.local_date && r.local_date <= g.to)
    };
    let mut by_store: BTreeMap<Uuid, Sums> = BTreeMap::new();
    let mut daily: BTreeMap<NaiveDate, Sums> = BTreeMap::new();
    let mut heatmap = vec![vec![Sums::default(); 24]; 7];
    let mut touchpoints: BTreeMap<String, Sums> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut reasons_daily: BTreeMap<(NaiveDate, String), u64> = BTreeMap::new();
    for r in rows.iter().filter(inside) {
        add_rating(by_store.entry(r.store_id).or_default(), r);
        add_rating(daily.entry(r.local_date).or_default(), r);
        let wd = r.local_date.weekday().num_days_from_monday() as usize;
        add_rating(&mut heatmap[wd][usize::from(r.local_hour)], r);
        add_rating(touchpoints.entry(r.touchpoint.clone()).or_default(), r);
        for reason in &r.reasons {
            *reasons.entry(reason.clone()).or_default() += 1;
            *reasons_daily
                .entry((r.local_date, reason.clone()))
                .or_default() += 1;
        }
    }
    let mut reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Figures {
        by_store: by_store.into_iter().collect(),
        daily: daily.into_iter().collect(),
        heatmap,
        touchpoints: touchpoints.into_iter().collect(),
        reasons,
        reasons_daily: reasons_daily
            .into_iter()
            .map(|((d, r), n)| (d, r, n))
            .collect(),
    }
}

async fn from_rollups(
    s: &dyn countertop_hq::Storage,
    ranges: &[StoreRange],
    repeats: bool,
) -> Figures {
    let mut by_store = s.store_summaries(ranges, repeats).await.expect("summaries");
    by_store.sort_by_key(|(id, _)| *id);
    Figures {
        by_store,
        daily: s.daily(ranges, repeats).await.expect("daily"),
        heatmap: s
            .heatmap(ranges, repeats)
            .await
            .expect("heatmap")
            .iter()
            .map(|d| d.to_vec())
            .collect(),
        touchpoints: s.touchpoints(ranges, repeats).await.expect("touchpoints"),
        reasons: s.reasons(ranges, repeats).await.expect("reasons"),
        reasons_daily: s
            .reasons_daily(ranges, repeats)
            .await
            .expect("reasons daily"),
    }
}

/// The stores of [`random_history`] and the ids of the ratings it sent.
struct History {
    hcm: Uuid,
    ny: Uuid,
    rating_ids: std::collections::HashSet<String>,
}

/// Random pushes from three kiosks of two stores: ratings on both scales with and
/// without reasons, NPS and comments, suspected repeats, late details (some for another
/// store's rating, which are refused), details that arrive before their rating,
/// duplicates of earlier events and retried batches.
async fn random_history(app: &crate::common::TestApp, seed: u64) -> History {
    let hcm = app.kiosk_in("Asia/Ho_Chi_Minh").await;
    let hcm2 = app.kiosk_of(hcm.store_id).await;
    let ny = app.kiosk_in("America/New_York").await;
    let kiosks = [&hcm, &hcm2, &ny];
    let mut rng = Rng(seed);
    let base = at("2026-11-01T00:00:00Z");
    // Each kiosk's ratings so far, and every event pushed, to resend as duplicates.
    let mut rated: Vec<Vec<Value>> = vec![Vec::new(); kiosks.len()];
    let mut sent: Vec<Vec<Value>> = vec![Vec::new(); kiosks.len()];
    for _round in 0..24 {
        let k = rng.below(kiosks.len() as u64) as usize;
        let mut batch = Vec::new();
        // Details for a rating this kiosk will only send later: held back one round.
        let mut held = None;
        for _ in 0..(5 + rng.below(40)) {
            let t = base + chrono::Duration::minutes(rng.below(60 * 24 * 10) as i64);
            let roll = rng.below(100);
            if roll < 65 || rated[k].is_empty() {
                let scale = if rng.chance(30) { 4 } else { 5 };
                let score = 1 + rng.below(scale) as u8;
                let mut body = json!({
                    "scale": scale,
                    "touchpoint": rng.pick(&["visit", "checkout", "drive_thru"]),
                    "reasons": random_reasons(&mut rng),
                    "suspected_repeat": rng.chance(15),
                });
                if rng.chance(40) {
                    body["nps"] = json!(rng.below(11));
                }
                if rng.chance(20) {
                    body["comment"] = json!("ok");
                }
                let r = rating(t, score, body);
                if rng.chance(10) && held.is_none() {
                    // Its details go first, in this batch; the rating in a later one.
                    batch.push(details(
                        t,
                        &r,
                        json!({"reasons": random_reasons(&mut rng),
                                                      "nps": rng.below(11)}),
                    ));
                    held = Some(r);
                } else {
                    rated[k].push(r.clone());
                    batch.push(r);
                }
            } else if roll < 90 {
                // Late details for an earlier rating of this kiosk's store, or (rarely)
                // of another store, which is refused.
                let target = if rng.chance(10) {
                    let other = (k + 1 + rng.below(2) as usize) % kiosks.len();
                    rated[other].last().cloned()
                } else {
                    let n = rated[k].len() as u64;
                    Some(rated[k][rng.below(n) as usize].clone())
                };
                let Some(target) = target else { continue };
                let mut body = json!({"reasons": random_reasons(&mut rng)});
                if rng.chance(60) {
                    body["nps"] = json!(rng.below(11));
                }
                if rng.chance(30) {
                    body["comment"] = json!("later");
                }
                batch.push(details(t, &target, body));
            } else if !sent[k].is_empty() {
                // A duplicate of anything sent before.
                let n = sent[k].len() as u64;
                batch.push(sent[k][rng.below(n) as usize].clone());
            }
        }
        // A batch may repeat itself too (a retried push).
        if rng.chance(20) && !batch.is_empty() {
            batch.push(batch[0].clone());
        }
        app.push_ok(&kiosks[k].token, &batch).await;
        sent[k].extend(batch);
        if let Some(r) = held {
            rated[k].push(r.clone());
            app.push_ok(&kiosks[k].token, std::slice::from_ref(&r))
                .await;
            sent[k].push(r);
        }
    }
    History {
        hcm: hcm.store_id,
        ny: ny.store_id,
        rating_ids: rated
            .iter()
            .flatten()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect(),
    }
}

/// Every rating of `ranges`, through the export's pages.
async fn raw_rows(
    s: &dyn countertop_hq::Storage,
    ranges: &[StoreRange],
) -> Vec<countertop_hq::storage::analytics::ExportRow> {
    let mut raw = Vec::new();
    let mut after = None;
    loop {
        let page = s.export_page(ranges, after, 97).await.expect("export");
        let Some(last) = page.last() else { break };
        after = Some(last.rating_id);
        raw.extend(page);
    }
    raw
}

fn wide(id: Uuid) -> StoreRange {
    range(id, "2026-10-01", "2026-12-31")
}

async fn rollups_equal_the_raw_rows_after_random_pushes(backend: Backend) {
    let app = spawn_app(backend).await;
    let h = random_history(&app, 0x5eed_1234_abcd_0001).await;
    let s = app.storage.as_ref();
    let all = [wide(h.hcm), wide(h.ny)];
    let raw = raw_rows(s, &all).await;
    let distinct: std::collections::HashSet<Uuid> = raw.iter().map(|r| r.rating_id).collect();
    assert_eq!(distinct.len(), raw.len(), "each rating stored once");
    assert_eq!(raw.len(), h.rating_ids.len(), "every rating, once");
    assert!(raw.iter().any(|r| r.nps.is_some()) && raw.iter().any(|r| !r.reasons.is_empty()));
    assert!(raw.iter().any(|r| r.scale == 4) && raw.iter().any(|r| r.suspected_repeat));
    let part = [
        range(h.hcm, "2026-11-03", "2026-11-07"),
        range(h.ny, "2026-11-01", "2026-11-04"),
    ];
    for ranges in [&all[..], &part[..], &all[1..]] {
        for repeats in [false, true] {
            let want = from_raw(&raw, ranges, repeats);
            let got = from_rollups(s, ranges, repeats).await;
            assert_eq!(got, want, "ranges {ranges:?}, repeats {repeats}");
        }
    }
    // The report API reads the rollups too: per reason, with NPS, it matches the rows.
    let report = s
        .report(&countertop_hq::storage::ReportQuery {
            from: day("2026-10-01"),
            to: day("2026-12-31"),
            store_id: None,
            group_by: Some(countertop_hq::storage::GroupBy::Reason),
            include_repeats: true,
        })
        .await
        .expect("report");
    for t in &report {
        let with: Vec<_> = raw.iter().filter(|r| r.reasons.contains(&t.key)).collect();
        let nps: Vec<u8> = with.iter().filter_map(|r| r.nps).collect();
        assert_eq!(t.count, with.len() as u64, "{}", t.key);
        assert_eq!(t.nps_responses, nps.len() as u64, "{}", t.key);
        assert_eq!(t.promoters, nps.iter().filter(|n| **n >= 9).count() as u64);
        assert_eq!(t.detractors, nps.iter().filter(|n| **n <= 6).count() as u64);
    }
}

async fn the_migrations_fill_rebuilds_the_rollups_ingest_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let h = random_history(&app, 0x0ddc_0ffe_e000_0002).await;
    let s = app.storage.as_ref();
    let all = [wide(h.hcm), wide(h.ny)];
    let kept = from_rollups(s, &all, true).await;
    // Empty the rollups and rebuild them with the SQL the migration that adds them runs,
    // as on a database that had ratings before rollups existed.
    let rebuild = format!(
        "DELETE FROM rating_rollup; DELETE FROM rating_daily; DELETE FROM reason_rollup; {}",
        countertop_hq::storage::rollups::fill_sql_text()
    );
    match backend {
        Backend::Sqlite => {
            let path = app.database_url.strip_prefix("sqlite:").expect("path");
            let c = rusqlite::Connection::open(path).expect("open");
            c.execute_batch(&rebuild).expect("rebuild");
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client.batch_execute(&rebuild).await.expect("rebuild");
        }
    }
    let rebuilt = from_rollups(s, &all, true).await;
    assert_eq!(
        rebuilt, kept,
        "the rebuilt rollups are the ones ingest kept"
    );
    assert!(!kept.by_store.is_empty() && !kept.reasons.is_empty());
    assert_eq!(kept, from_raw(&raw_rows(s, &all).await, &all, true));
}

crate::on_both_backends!(
    summaries_daily_and_touchpoints_follow_each_stores_dates,
    the_heatmap_is_local_weekday_by_local_hour,
    reasons_count_inline_and_late_details_once,
    the_comments_feed_filters_and_pages_newest_first,
    export_pages_cover_every_rating_once_in_id_order,
    devices_show_their_newest_health_and_last_push,
    opening_hours_default_to_always_open_and_are_kept,
    stores_are_listed_by_name,
    rollups_equal_the_raw_rows_after_random_pushes,
    the_migrations_fill_rebuilds_the_rollups_ingest_kept,
);
