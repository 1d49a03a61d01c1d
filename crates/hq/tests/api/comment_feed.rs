//! The comments feed's narrow table (`comment_feed`, kept at ingest), on both backends:
//! every rating with a comment reaches the feed whichever order its comment came in, the
//! feed equals the raw rows under every filter, and the migration's fill rebuilds what
//! ingest kept.

use chrono::{DateTime, Duration, Utc};
use countertop_hq::storage::analytics::{CommentQuery, CommentRow, StoreRange};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{rating_at, spawn_app, Backend, TestApp};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("timestamp")
}

fn rating(t: DateTime<Utc>, score: u8, body: Value) -> Value {
    let mut e = rating_at(t, score);
    if let (Some(b), Value::Object(extra)) = (e["body"].as_object_mut(), body) {
        b.extend(extra);
    }
    e
}

fn details(t: DateTime<Utc>, rating_id: &Value, body: Value) -> Value {
    let mut b = json!({"rating_id": rating_id, "reasons": []});
    if let (Some(o), Value::Object(extra)) = (b.as_object_mut(), body) {
        o.extend(extra);
    }
    json!({"id": Uuid::now_v7(), "seq": 2, "device_time": t, "utc_offset_minutes": 0,
           "kind": "rating_details", "body": b})
}

fn query(store_id: Uuid) -> CommentQuery {
    CommentQuery {
        ranges: vec![StoreRange {
            store_id,
            from: "2026-11-01".parse().expect("date"),
            to: "2026-11-30".parse().expect("date"),
        }],
        score: None,
        reason: None,
        text: None,
        include_repeats: true,
        before: None,
        limit: 5_000,
    }
}

async fn texts(app: &TestApp, q: &CommentQuery) -> Vec<String> {
    let page = app.storage.comments(q).await.expect("comments");
    page.rows.into_iter().map(|r| r.comment).collect()
}

async fn a_comment_reaches_the_feed_whichever_event_brings_it_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let t = |m: i64| at("2026-11-20T10:00:00Z") + Duration::minutes(m);
    // 1: a rating without a comment, then details that add one.
    let plain = rating(t(1), 3, json!({}));
    app.push_ok(&k.token, std::slice::from_ref(&plain)).await;
    assert_eq!(texts(&app, &query(k.store_id)).await, Vec::<String>::new());
    app.push_ok(
        &k.token,
        &[details(
            t(1),
            &plain["id"],
            json!({"comment": "added later"}),
        )],
    )
    .await;
    // 2: details with a comment for a rating HQ has not received yet, then the rating
    // (without a comment of its own), in another push.
    let early = rating(t(2), 2, json!({}));
    app.push_ok(
        &k.token,
        &[details(
            t(2),
            &early["id"],
            json!({"comment": "came first"}),
        )],
    )
    .await;
    assert_eq!(
        texts(&app, &query(k.store_id)).await,
        ["added later"],
        "details without their rating show nothing yet"
    );
    app.push_ok(&k.token, &[early]).await;
    // 3: a rating and details replacing its comment in the same push.
    let same = rating(t(3), 5, json!({"comment": "first words"}));
    let replaced = details(t(3), &same["id"], json!({"comment": "second words"}));
    app.push_ok(&k.token, &[same, replaced]).await;
    // 4: a rating with its own comment, pushed twice.
    let own = rating(t(4), 1, json!({"comment": "own words"}));
    app.push_ok(&k.token, std::slice::from_ref(&own)).await;
    app.push_ok(&k.token, &[own]).await;
    assert_eq!(
        texts(&app, &query(k.store_id)).await,
        ["own words", "second words", "came first", "added later"]
    );
}

/// The feed computed from the export's raw rows: ratings with a comment in the range,
/// newest first, under the query's filters.
fn expected(raw: &[countertop_hq::storage::analytics::ExportRow], q: &CommentQuery) -> Vec<Uuid> {
    let mut rows: Vec<_> = raw
        .iter()
        .filter(|r| {
            q.ranges
                .iter()
                .any(|g| g.store_id == r.store_id && g.from <= r.local_date && r.local_date <= g.to)
        })
        .filter(|r| q.include_repeats || !r.suspected_repeat)
        .filter(|r| q.score.is_none_or(|s| s == r.score))
        .filter(|r| q.reason.as_ref().is_none_or(|x| r.reasons.contains(x)))
        .filter(|r| {
            r.comment.as_ref().is_some_and(|c| {
                q.text
                    .as_ref()
                    .is_none_or(|t| c.to_lowercase().contains(&t.to_lowercase()))
            })
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.occurred_at, r.rating_id)));
    rows.into_iter().map(|r| r.rating_id).collect()
}

/// Every page of `q`, pages of 7, joined.
async fn paged(app: &TestApp, q: &CommentQuery) -> Vec<CommentRow> {
    let mut out = Vec::new();
    let mut q = q.clone();
    q.limit = 7;
    loop {
        let page = app.storage.comments(&q).await.expect("page");
        out.extend(page.rows);
        match page.next {
            Some(c) => q.before = Some(c),
            None => return out,
        }
    }
}

/// Two stores, a month of ratings: some with comments, some given one later by details,
/// some repeats, scores 1 to 5, a few reasons. Returns the stores.
async fn history(app: &TestApp) -> (Uuid, Uuid) {
    let a = app.kiosk_in("UTC").await;
    let b = app.kiosk_in("Asia/Ho_Chi_Minh").await;
    let start = at("2026-11-01T00:30:00Z");
    for (k, salt) in [(&a, 0u64), (&b, 7)] {
        let mut events = Vec::new();
        let mut late = Vec::new();
        for i in 0..240u64 {
            let x = i.wrapping_mul(2_654_435_761).wrapping_add(salt) % 1_000;
            let t = start + Duration::minutes((i * 173) as i64);
            let mut body = json!({"suspected_repeat": x % 9 == 0});
            if x % 4 == 0 {
                body["comment"] = json!(format!("Slow queue {i}"));
            }
            if x % 5 == 0 {
                body["reasons"] = json!(["slow_service"]);
            }
            let r = rating(t, 1 + (x % 5) as u8, body);
            if x % 7 == 0 {
                late.push(details(
                    t,
                    &r["id"],
                    json!({"comment": format!("late {i}")}),
                ));
            }
            events.push(r);
        }
        for chunk in events.chunks(50) {
            app.push_ok(&k.token, chunk).await;
        }
        app.push_ok(&k.token, &late).await;
    }
    (a.store_id, b.store_id)
}

async fn the_feed_equals_the_raw_rows_under_every_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, b) = history(&app).await;
    let mut all = query(a);
    all.ranges.push(StoreRange {
        store_id: b,
        ..all.ranges[0]
    });
    let mut raw = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .storage
            .export_page(&all.ranges, after, 500)
            .await
            .expect("export");
        let Some(last) = page.last() else { break };
        after = Some(last.rating_id);
        raw.extend(page);
    }
    assert_eq!(raw.len(), 480);
    let mut cases: Vec<CommentQuery> = Vec::new();
    for ranges in [
        vec![all.ranges[0]],
        vec![all.ranges[1]],
        all.ranges.clone(),
        vec![StoreRange {
            store_id: b,
            from: "2026-11-10".parse().expect("date"),
            to: "2026-11-12".parse().expect("date"),
        }],
    ] {
        for include_repeats in [false, true] {
            let base = CommentQuery {
                ranges: ranges.clone(),
                include_repeats,
                ..query(a)
            };
            cases.push(base.clone());
            cases.push(CommentQuery {
                score: Some(2),
                ..base.clone()
            });
            cases.push(CommentQuery {
                reason: Some("slow_service".into()),
                ..base.clone()
            });
            cases.push(CommentQuery {
                text: Some("LATE 1".into()),
                ..base.clone()
            });
            cases.push(CommentQuery {
                text: Some("no such words".into()),
                ..base
            });
        }
    }
    let mut nonempty = 0;
    for q in &cases {
        let want = expected(&raw, q);
        let got: Vec<Uuid> = paged(&app, q).await.iter().map(|r| r.rating_id).collect();
        assert_eq!(got, want, "{q:?}");
        nonempty += usize::from(!want.is_empty());
    }
    assert!(nonempty >= 24, "the cases find comments: {nonempty}");
}

async fn the_migrations_fill_rebuilds_the_feed_ingest_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, b) = history(&app).await;
    let mut q = query(a);
    q.ranges.push(StoreRange {
        store_id: b,
        ..q.ranges[0]
    });
    let kept = paged(&app, &q).await;
    assert!(kept.len() > 100);
    // Empty the table and rebuild it with the SQL its migration runs, as on a database
    // that had ratings before the table existed.
    let rebuild = format!(
        "DELETE FROM comment_feed; {}",
        countertop_hq::storage::comment_feed::FILL_SQL
    );
    match backend {
        Backend::Sqlite => {
            let path = app.database_url.strip_prefix("sqlite:").expect("path");
            let c = rusqlite::Connection::open(path).expect("open");
            c.execute_batch("DELETE FROM comment_feed").expect("empty");
            assert!(paged(&app, &q).await.is_empty(), "the feed reads the table");
            c.execute_batch(&rebuild).expect("rebuild");
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client
                .batch_execute("DELETE FROM comment_feed")
                .await
                .expect("empty");
            assert!(paged(&app, &q).await.is_empty(), "the feed reads the table");
            client.batch_execute(&rebuild).await.expect("rebuild");
        }
    }
    assert_eq!(paged(&app, &q).await, kept);
}

/// The rating ids `early_details` holds, sorted, after running `sql` first.
async fn early(app: &TestApp, backend: Backend, sql: &str) -> Vec<String> {
    let read = "SELECT rating_id FROM early_details ORDER BY rating_id";
    match backend {
        Backend::Sqlite => {
            let path = app.database_url.strip_prefix("sqlite:").expect("path");
            let c = rusqlite::Connection::open(path).expect("open");
            c.execute_batch(sql).expect("sql");
            let mut stmt = c.prepare(read).expect("prepare");
            let ids = stmt.query_map([], |r| r.get(0)).expect("query");
            ids.collect::<Result<_, _>>().expect("rows")
        }
        Backend::Postgres => {
            let (client, conn) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            client.batch_execute(sql).await.expect("sql");
            let rows = client.query(read, &[]).await.expect("query");
            rows.iter()
                .map(|r| r.get::<_, Uuid>(0).to_string())
                .collect()
        }
    }
}

async fn only_ratings_details_reached_first_are_marked_until_they_come(backend: Backend) {
    let app = spawn_app(backend).await;
    let k = app.kiosk_in("UTC").await;
    let t = at("2026-11-20T10:00:00Z");
    let first = rating(t, 2, json!({}));
    let second = rating(t, 4, json!({}));
    let stored = rating(t, 5, json!({}));
    app.push_ok(&k.token, std::slice::from_ref(&stored)).await;
    app.push_ok(
        &k.token,
        &[
            details(
                t,
                &first["id"],
                json!({"comment": "before", "reasons": ["slow_service"]}),
            ),
            details(t, &second["id"], json!({"reasons": ["price"]})),
            details(t, &stored["id"], json!({"comment": "after"})),
        ],
    )
    .await;
    let id = |e: &Value| e["id"].as_str().expect("id").to_owned();
    let mut want = vec![id(&first), id(&second)];
    want.sort();
    assert_eq!(early(&app, backend, "").await, want);

    app.push_ok(&k.token, std::slice::from_ref(&first)).await;
    assert_eq!(early(&app, backend, "").await, [id(&second)]);
    let mut texts_now = texts(&app, &query(k.store_id)).await;
    texts_now.sort();
    assert_eq!(texts_now, ["after", "before"]);
    let ranges = [StoreRange {
        store_id: k.store_id,
        from: "2026-11-20".parse().expect("date"),
        to: "2026-11-20".parse().expect("date"),
    }];
    let reasons = app.storage.reasons(&ranges, true).await.expect("reasons");
    assert_eq!(
        reasons,
        [("slow_service".to_owned(), 1)],
        "counted once its rating came"
    );

    // The migration's fill finds the same from the raw rows.
    let rebuild = format!(
        "DELETE FROM early_details; {}",
        countertop_hq::storage::early_details::FILL_SQL
    );
    assert_eq!(early(&app, backend, &rebuild).await, [id(&second)]);
}

crate::on_both_backends!(
    only_ratings_details_reached_first_are_marked_until_they_come,
    a_comment_reaches_the_feed_whichever_event_brings_it_first,
    the_feed_equals_the_raw_rows_under_every_filter,
    the_migrations_fill_rebuilds_the_feed_ingest_kept,
);
