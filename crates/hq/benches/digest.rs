//! Digest benchmark (issue 11: "digest for 1,000 stores built and sent in ≤ 60 s"; numbers
//! go in benches/README.md at the workspace root).
//!
//! ```text
//! cargo bench -p countertop-hq --bench digest -- --stores 1000 --per-day 20
//! ```
//!
//! Seeds `--stores` stores (Asia/Ho_Chi_Minh) into a fresh SQLite file with `--per-day`
//! ratings per store per day over the 15 days before Monday 2026-11-30 (10 % with a
//! comment, 20 % with a reason; straight SQL, then the rollups filled the way the
//! migration fills them), one admin (every store) and one manager per 10 stores, each
//! choosing daily and weekly digests. It then sets HQ's clock to that Monday 07:00 local
//! and times the two steps separately: building and queueing every due digest (the
//! admin's covers all the stores), and sending them all through the outbox to an SMTP
//! sink on loopback (one SMTP session per mail, as HQ sends).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::TimeZone;
use countertop_hq::alerts::channels::SmtpSettings;
use countertop_hq::alerts::ManualClock;
use countertop_hq::storage::accounts::Role;
use countertop_hq::storage::digests::DigestPrefs;
use countertop_hq::{admin, Application, Settings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use uuid::Uuid;

/// A minimal SMTP sink: counts the mails and their bytes.
async fn smtp_sink() -> (u16, Arc<Mutex<(u64, u64)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new((0u64, 0u64)));
    let count = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n").await;
                        let mut bytes = 0u64;
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            bytes += l.len() as u64 + 2;
                        }
                        if let Ok(mut c) = count.lock() {
                            c.0 += 1;
                            c.1 += bytes;
                        }
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn seed(path: &str, stores: &[Uuid], per_day: u64) {
    const DAYS: u64 = 15;
    let mut c = rusqlite::Connection::open(path).expect("open");
    c.pragma_update(None, "synchronous", "OFF").expect("pragma");
    let tx = c.transaction().expect("tx");
    tx.execute_batch("CREATE TEMP TABLE bench_stores (idx INTEGER PRIMARY KEY, id TEXT)")
        .expect("temp");
    for (i, s) in stores.iter().enumerate() {
        tx.execute(
            "INSERT INTO bench_stores VALUES (?1, ?2)",
            rusqlite::params![i as i64, s.to_string()],
        )
        .expect("store");
    }
    tx.commit().expect("commit");
    let n = stores.len() as u64 * per_day * DAYS;
    let s = stores.len();
    // Day 0 is 2026-11-15, day 14 is Sunday 2026-11-29.
    let date = format!("date('2026-11-15', printf('+%d days', (i / {s}) % {DAYS}))");
    c.execute_batch(&format!(
        "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < {n}) \
         INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, local_hour, \
         touchpoint, survey_version, scale, score, satisfied, nps, suspected_repeat, comment) \
         SELECT printf('00000000-0000-7000-8000-%012x', i), \
         (SELECT id FROM bench_stores WHERE idx = i % {s}), \
         '00000000-0000-7000-8000-000000000000', {date} || 'T05:00:00.000000Z', {date}, 12, \
         'visit', 1, 5, (i * 13 + i / {s}) % 5 + 1, (i * 13 + i / {s}) % 5 + 1 >= 4, \
         CASE WHEN i % 10 = 0 THEN i % 11 ELSE NULL END, 0, \
         CASE WHEN i % 10 = 3 THEN 'The latte was <cold> & the queue long ' || i ELSE NULL END \
         FROM g; \
         INSERT INTO rating_reasons (rating_id, reason) SELECT id, \
         CASE WHEN substr(id, 36, 1) IN ('0', '5') THEN 'slow_service' ELSE 'cold_drink' END \
         FROM ratings WHERE substr(id, 36, 1) IN ('0', '4', '5', 'a'); \
         DELETE FROM rating_rollup; DELETE FROM rating_daily; DELETE FROM reason_rollup;"
    ))
    .expect("seed");
    c.execute_batch(countertop_hq::storage::rollups::fill_sql_text())
        .expect("fill rollups");
    c.execute_batch("ANALYZE").expect("analyze");
    eprintln!("  seeded {n} ratings");
}

#[tokio::main]
async fn main() {
    let (mut stores_n, mut per_day) = (1000usize, 20u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--stores" => stores_n = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--per-day" => per_day = args.next().and_then(|v| v.parse().ok()).expect("N"),
            _ => {}
        }
    }
    let dir = tempfile::tempdir_in(".").expect("temp dir");
    let path = dir.path().join("bench.db");
    let url = format!("sqlite:{}", path.display());
    let storage = countertop_hq::open_storage(&url).await.expect("open");
    let mut stores = Vec::with_capacity(stores_n);
    for i in 0..stores_n {
        stores.push(
            admin::add_store(
                storage.as_ref(),
                &format!("Shop {i:04}"),
                "Asia/Ho_Chi_Minh",
            )
            .await
            .expect("store"),
        );
    }
    let both = DigestPrefs {
        daily: true,
        weekly: true,
    };
    let mut accounts = vec![storage
        .create_user("admin@example.org", Role::Admin, &[], None)
        .await
        .expect("admin")
        .expect("new")];
    for (i, chunk) in stores.chunks(10).enumerate() {
        accounts.push(
            storage
                .create_user(&format!("m{i}@example.org"), Role::Manager, chunk, None)
                .await
                .expect("manager")
                .expect("new"),
        );
    }
    for a in &accounts {
        storage.set_digest_prefs(*a, both).await.expect("prefs");
    }
    drop(storage);
    let started = Instant::now();
    let (seed_path, seed_stores) = (path.display().to_string(), stores.clone());
    tokio::task::spawn_blocking(move || seed(&seed_path, &seed_stores, per_day))
        .await
        .expect("seed");
    eprintln!("  seeding took {:.1} s", started.elapsed().as_secs_f64());

    let (port, seen) = smtp_sink().await;
    let monday = chrono_tz::Asia::Ho_Chi_Minh
        .with_ymd_and_hms(2026, 11, 30, 7, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&chrono::Utc);
    let clock = Arc::new(ManualClock::new(monday));
    let mut settings = Settings::new("127.0.0.1:0", &url);
    settings.alerts.enabled = false;
    settings.alerts.clock = clock;
    settings.alerts.smtp = Some(SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        starttls: false,
        username: None,
        password: None,
        from: "hq@example.org".into(),
        ca_pem: None,
    });
    let app = Application::build(settings).await.expect("HQ starts");
    let (digests, engine) = (app.digests(), app.alerts());

    let t0 = Instant::now();
    let queued = digests.queue_due().await.expect("queue");
    let built = t0.elapsed();
    let t1 = Instant::now();
    let mut sent = 0;
    while sent < queued {
        let n = engine.deliver_due().await.expect("deliver");
        assert!(n > 0, "the outbox stopped sending at {sent} of {queued}");
        sent += n;
    }
    let sending = t1.elapsed();
    let total = t0.elapsed();
    let (mails, bytes) = *seen.lock().expect("count");
    assert_eq!(mails as usize, queued);
    println!(
        "digest: {stores_n} stores, {} accounts, {queued} digests (daily + weekly); \
         built and queued in {:.2} s, sent in {:.2} s, total {:.2} s ({:.0} ms per digest); \
         {mails} mails, {} KiB on the wire",
        accounts.len(),
        built.as_secs_f64(),
        sending.as_secs_f64(),
        total.as_secs_f64(),
        total.as_secs_f64() * 1000.0 / queued.max(1) as f64,
        bytes / 1024
    );
    let again = digests.queue_due().await.expect("queue again");
    assert_eq!(again, 0, "once per period");
}
