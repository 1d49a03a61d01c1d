//! CSV export benchmark (numbers go in benches/README.md at the workspace root).
//!
//! ```text
//! cargo bench -p countertop-hq --bench export -- --ratings 1000000
//! ```
//!
//! Seeds `--ratings` ratings into a fresh SQLite file (10% with a comment, 20% with two
//! reasons; straight SQL, as the load bench's `report` seeding does), starts HQ on
//! loopback, signs an admin in through the real login form, downloads
//! `/export.csv` of every store over the whole range, and prints rows per second and
//! HQ's resident memory (VmRSS of this process, which also holds the client) sampled
//! every 50 ms during the download.

use std::time::{Duration, Instant};

use countertop_hq::storage::accounts::Role;
use countertop_hq::web::users;
use countertop_hq::{admin, Application, Settings};
use tokio::sync::oneshot;
use uuid::Uuid;

const STORES: u64 = 10;
const DAYS: u64 = 365;
const PASSWORD: &str = "correct horse battery";

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn seed(path: &str, stores: &[Uuid], n: u64) {
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
    let chunk = 500_000u64;
    let mut done = 0;
    while done < n {
        let upto = (done + chunk).min(n);
        let date = format!("date('2025-01-01', printf('+%d days', (i / {STORES}) % {DAYS}))");
        let g = format!(
            "WITH RECURSIVE g(i) AS (SELECT {done} UNION ALL SELECT i + 1 FROM g WHERE i + 1 < {upto})"
        );
        c.execute_batch(&format!(
            "{g} INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, local_hour, \
             touchpoint, survey_version, scale, score, satisfied, nps, suspected_repeat, comment) \
             SELECT printf('00000000-0000-7000-8000-%012x', i), \
             (SELECT id FROM bench_stores WHERE idx = i % {STORES}), \
             '00000000-0000-7000-8000-000000000000', {date} || 'T12:00:00.000000Z', {date}, \
             (i * 7) % 14 + 7, 'visit', 1, 5, (i * 13) % 5 + 1, (i * 13) % 5 + 1 >= 4, \
             CASE WHEN i % 10 = 0 THEN i % 11 ELSE NULL END, 0, \
             CASE WHEN i % 10 = 3 THEN 'The latte was cold, and the queue \"long\" = slow' ELSE NULL END \
             FROM g;\n\
             {g} INSERT INTO rating_reasons (rating_id, reason) \
             SELECT printf('00000000-0000-7000-8000-%012x', i), r FROM g, \
             (SELECT 'slow_service' AS r UNION ALL SELECT 'cold_drink') WHERE i % 5 = 1;"
        ))
        .expect("seed");
        done = upto;
        eprintln!("  seeded {done}");
    }
    c.execute_batch("ANALYZE").expect("analyze");
}

fn csrf_of(html: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    let i = html.find(key).expect("csrf field") + key.len();
    html[i..i + html[i..].find('"').expect("end")].to_owned()
}

#[tokio::main]
async fn main() {
    let mut n: u64 = 1_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--ratings" {
            n = args
                .next()
                .and_then(|v| v.parse().ok())
                .expect("--ratings N");
        }
    }
    let dir = tempfile::tempdir_in(".").expect("temp dir");
    let path = dir.path().join("bench.db");
    let url = format!("sqlite:{}", path.display());
    let storage = countertop_hq::open_storage(&url).await.expect("open");
    let mut stores = Vec::new();
    for i in 0..STORES {
        stores.push(
            admin::add_store(storage.as_ref(), &format!("Shop {i}"), "Asia/Ho_Chi_Minh")
                .await
                .expect("store"),
        );
    }
    let email = "bench@example.org";
    users::add_user(storage.as_ref(), email, Role::Admin, &[], Some(PASSWORD))
        .await
        .expect("admin");
    drop(storage);
    let started = Instant::now();
    let seed_path = path.display().to_string();
    let seed_stores = stores.clone();
    tokio::task::spawn_blocking(move || seed(&seed_path, &seed_stores, n))
        .await
        .expect("seed");
    eprintln!("  seeding took {:.0} s", started.elapsed().as_secs_f64());

    let app = Application::build(Settings::new("127.0.0.1:0", &url))
        .await
        .expect("HQ starts");
    let base = format!("http://{}", app.local_addr());
    let (_stop, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("html");
    let resp = client
        .post(format!("{base}/login"))
        .header("origin", &base)
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf", &csrf_of(&login)),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(resp.status(), 303, "signed in");

    let idle_rss = rss_kb();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = std::sync::Arc::clone(&sampling);
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        let mut samples = Vec::new();
        while flag.load(std::sync::atomic::Ordering::Relaxed) {
            let r = rss_kb();
            peak = peak.max(r);
            samples.push(r);
            std::thread::sleep(Duration::from_millis(50));
        }
        (peak, samples)
    });
    let t = Instant::now();
    let mut resp = client
        .get(format!("{base}/export.csv?from=2025-01-01&to=2025-12-31"))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), 200);
    let first_byte = t.elapsed();
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = resp.chunk().await.expect("chunk") {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let took = t.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let (peak, samples) = sampler.join().expect("sampler");
    let rows = lines.saturating_sub(1);
    let mid = samples.get(samples.len() / 2).copied().unwrap_or(0);
    let late = samples.get(samples.len() * 9 / 10).copied().unwrap_or(0);
    println!(
        "CSV export: {rows} rows ({:.0} MB) in {:.2} s = {:.0} rows/s; first byte after {} ms",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        first_byte.as_millis()
    );
    println!(
        "RSS: {:.0} MB before, {:.0} MB at half, {:.0} MB at 90%, {:.0} MB peak ({} samples)",
        idle_rss as f64 / 1024.0,
        mid as f64 / 1024.0,
        late as f64 / 1024.0,
        peak as f64 / 1024.0,
        samples.len()
    );
    assert_eq!(rows, n, "every rating exported once");
}
