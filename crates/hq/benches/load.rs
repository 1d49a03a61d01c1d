//! Load generator and benchmarks for HQ (not timed tests: numbers go in benches/README.md at the workspace root).
//!
//! ```text
//! cargo bench -p countertop-hq --bench load -- --backend sqlite   --scenario ingest
//! cargo bench -p countertop-hq --bench load -- --backend postgres --scenario latency
//! cargo bench -p countertop-hq --bench load -- --backend sqlite   --scenario report
//! cargo bench -p countertop-hq --bench load -- --backend postgres --scenario ingest-tls
//! ```
//!
//! - `ingest`: kiosks push 500-rating batches over HTTP on loopback; then the same rows
//!   are inserted straight through the storage layer (same SQL, no HTTP, no JSON) into a
//!   fresh database of the same kind, and the ratio is printed.
//! - `latency`: 1,000 simulated kiosks, each on its own connection, push small batches
//!   at random intervals; prints push latency percentiles.
//! - `report`: seeds millions of ratings, then times a store's daily report over HTTP.
//! - `ingest-tls`: the HTTP ingest of `ingest` against one PostgreSQL with `ssl=on` and a
//!   certificate made here, alternating `sslmode=disable` and `sslmode=verify-full` for
//!   `--rounds` rounds each; prints every run, the medians and their ratio.
//!
//! PostgreSQL runs from the system's binaries in a temp dir with fsync on, as the tests'
//! harness does, unless `--database postgres://...` names one.

#[path = "../tests/common/certs.rs"]
mod certs;
#[path = "dashboard/mod.rs"]
mod dashboard;
#[path = "../tests/common/pg.rs"]
mod pg;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::{Parser, ValueEnum};
use countertop_hq::ingest::{parse_batch, Parsed};
use countertop_hq::storage::DeviceRecord;
use countertop_hq::{admin, open_storage, Application, Settings, Storage};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Scenario {
    Ingest,
    Latency,
    Report,
    IngestTls,
    Dashboard,
}

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, value_enum, default_value = "ingest")]
    scenario: Scenario,
    /// An existing PostgreSQL server URL (a database named in it is not used; fresh
    /// databases are created beside it). Default: start one.
    #[arg(long)]
    database: Option<String>,
    /// ingest: total ratings pushed.
    #[arg(long, default_value_t = 200_000)]
    ratings: usize,
    /// ingest: concurrent pushing kiosks.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// ingest-tls: runs of each sslmode, interleaved.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// ingest: send gzip-compressed bodies, as the kiosk does.
    #[arg(long)]
    gzip: bool,
    /// latency: simulated kiosks.
    #[arg(long, default_value_t = 1000)]
    kiosks: usize,
    /// latency: seconds to run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// latency: each kiosk waits a random 0..2×this between pushes (mean: this).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// latency: ratings per push.
    #[arg(long, default_value_t = 5)]
    batch: usize,
    /// report: ratings to seed.
    #[arg(long, default_value_t = 10_000_000)]
    seed: u64,
    /// dashboard: the database to seed once and keep between runs (a SQLite file path, or
    /// a PostgreSQL database name on `--database`'s server).
    #[arg(long)]
    keep: Option<String>,
    /// dashboard: timed rounds of each page.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    // `cargo bench` passes --bench; accept and ignore it.
    #[arg(long, hide = true)]
    bench: bool,
}

struct Databases {
    backend: Backend,
    _cluster: Option<pg::PgCluster>,
    server: Option<String>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Databases {
    fn new(args: &Args) -> Databases {
        let (cluster, server) = match (args.backend, &args.database) {
            (Backend::Postgres, Some(url)) => (None, Some(url.clone())),
            (Backend::Postgres, None) => {
                let c = pg::PgCluster::start_with(true);
                let url = c.url("postgres");
                (Some(c), Some(url))
            }
            (Backend::Sqlite, _) => (None, None),
        };
        Databases {
            backend: args.backend,
            _cluster: cluster,
            server,
            _dirs: Vec::new(),
        }
    }

    /// A durable PostgreSQL with `ssl=on` and `cert`, taking connections with and without TLS.
    fn tls_cluster(cert: &certs::ServerCert) -> Databases {
        let c = pg::PgCluster::start_tls(
            &pg::ServerTls {
                cert_pem: &cert.cert_pem,
                key_pem: &cert.key_pem,
                require_tls: false,
            },
            true,
        );
        let url = c.url("postgres");
        Databases {
            backend: Backend::Postgres,
            _cluster: Some(c),
            server: Some(url),
            _dirs: Vec::new(),
        }
    }

    async fn fresh(&mut self) -> String {
        match self.backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir_in(".").expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join("bench.db").display());
                self._dirs.push(dir);
                url
            }
            Backend::Postgres => {
                let server = self.server.clone().expect("server url");
                let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                    .await
                    .expect("connect to PostgreSQL");
                tokio::spawn(conn);
                let name = format!("bench_{}", Uuid::now_v7().simple());
                client
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create database");
                match server.rfind('/') {
                    Some(i) => format!("{}/{name}", &server[..i]),
                    None => panic!("cannot place a database in {server}"),
                }
            }
        }
    }
}

struct Running {
    address: String,
    storage: Arc<dyn Storage>,
    _stop: oneshot::Sender<()>,
}

async fn start(url: &str) -> Running {
    let app = Application::build(Settings::new("127.0.0.1:0", url))
        .await
        .expect("HQ starts");
    let address = format!("http://{}", app.local_addr());
    let storage = app.storage();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Running {
        address,
        storage,
        _stop: tx,
    }
}

async fn enroll(client: &reqwest::Client, hq: &Running, store: Uuid) -> String {
    let code = admin::issue_enroll_code(hq.storage.as_ref(), store, chrono::Duration::hours(1))
        .await
        .expect("code");
    let body: Value = client
        .post(format!("{}/api/v1/enroll", hq.address))
        .json(&json!({"protocol": "1.0", "code": code}))
        .send()
        .await
        .expect("enroll")
        .json()
        .await
        .expect("json");
    body["device_token"].as_str().expect("token").to_owned()
}

/// A small xorshift generator: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn rating(rng: &mut Rng, seq: u64) -> Value {
    let score = 1 + rng.next() % 5;
    let reasons: &[&str] = match score {
        5 => &["fast_service", "tasty"],
        1 | 2 => &["slow_service"],
        _ => &[],
    };
    json!({
        "id": Uuid::now_v7(), "seq": seq, "device_time": Utc::now(), "utc_offset_minutes": 420,
        "kind": "rating",
        "body": {"survey_version": 1, "touchpoint": "visit", "scale": 5, "score": score,
                 "reasons": reasons, "suspected_repeat": false}
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().expect("gzip")
}

/// The ingest scenario's batches: 500 ratings each, `args.ratings` in all.
fn batches(args: &Args) -> Vec<Vec<Value>> {
    const BATCH: usize = 500;
    let batches = args.ratings.div_ceil(BATCH);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..batches)
        .map(|b| {
            (0..BATCH)
                .map(|i| rating(&mut rng, (b * BATCH + i) as u64))
                .collect()
        })
        .collect()
}

/// Pushes every batch over HTTP to a new HQ on `url` from `args.concurrency` kiosks;
/// returns the seconds it took, once every event is stored.
async fn push_over_http(args: &Args, url: &str, all: &[Vec<Value>]) -> f64 {
    let total: usize = all.iter().map(Vec::len).sum();
    let hq = start(url).await;
    let client = reqwest::Client::new();
    let store = admin::add_store(hq.storage.as_ref(), "Bench", "Asia/Ho_Chi_Minh")
        .await
        .expect("store");
    let mut tokens = Vec::new();
    for _ in 0..args.concurrency {
        tokens.push(enroll(&client, &hq, store).await);
    }
    let bodies: Vec<Vec<u8>> = all
        .iter()
        .map(|events| {
            let raw = json!({"protocol": "1.0", "events": events})
                .to_string()
                .into_bytes();
            if args.gzip {
                gzip(&raw)
            } else {
                raw
            }
        })
        .collect();
    let bodies = Arc::new(bodies);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (k, token) in tokens.iter().enumerate() {
        let (client, bodies, token, address, gz, conc) = (
            client.clone(),
            Arc::clone(&bodies),
            token.clone(),
            hq.address.clone(),
            args.gzip,
            args.concurrency,
        );
        tasks.push(tokio::spawn(async move {
            let mut i = k;
            while i < bodies.len() {
                let mut req = client
                    .post(format!("{address}/api/v1/events"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(bodies[i].clone());
                if gz {
                    req = req.header("content-encoding", "gzip");
                }
                let resp = req.send().await.expect("push");
                assert_eq!(resp.status(), 200);
                let body: Value = resp.json().await.expect("json");
                assert_eq!(body["accepted"], 500);
                i += conc;
            }
        }));
    }
    for t in tasks {
        t.await.expect("pusher");
    }
    let secs = started.elapsed().as_secs_f64();
    let stored = hq.storage.count_events().await.expect("count");
    assert_eq!(stored as usize, total);
    secs
}

async fn ingest(args: &Args, dbs: &mut Databases) {
    let all = batches(args);
    let total: usize = all.iter().map(Vec::len).sum();

    // Over HTTP.
    let url = dbs.fresh().await;
    let http_secs = push_over_http(args, &url, &all).await;
    let http_rate = total as f64 / http_secs;

    // The same rows straight through the storage layer.
    let url = dbs.fresh().await;
    let storage = open_storage(&url).await.expect("open");
    let store = admin::add_store(storage.as_ref(), "Bench", "Asia/Ho_Chi_Minh")
        .await
        .expect("store");
    let code = admin::issue_enroll_code(storage.as_ref(), store, chrono::Duration::hours(1))
        .await
        .expect("code");
    let device_id = Uuid::now_v7();
    storage
        .redeem_enroll_code(
            &countertop_hq::secrets::hash_secret(&countertop_hq::secrets::normalize_enroll_code(
                &code,
            )),
            Utc::now(),
            device_id,
            None,
            "bench",
        )
        .await
        .expect("device");
    let device = DeviceRecord {
        id: device_id,
        store_id: store,
        store_timezone: "Asia/Ho_Chi_Minh".into(),
        revoked: false,
    };
    let items: Vec<Vec<_>> = all
        .into_iter()
        .map(|events| {
            let raw = events
                .iter()
                .map(|e| serde_json::value::to_raw_value(e).expect("raw event"))
                .collect();
            parse_batch(raw, chrono_tz::Asia::Ho_Chi_Minh, Utc::now())
                .into_iter()
                .filter_map(|(_, p)| match p {
                    Parsed::Store(item) => Some(*item),
                    Parsed::Decided(_) => None,
                })
                .collect()
        })
        .collect();
    let items = Arc::new(items);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..args.concurrency {
        let (storage, items, device, conc) = (
            Arc::clone(&storage),
            Arc::clone(&items),
            device.clone(),
            args.concurrency,
        );
        tasks.push(tokio::spawn(async move {
            let mut i = k;
            while i < items.len() {
                storage
                    .ingest(&device, items[i].clone())
                    .await
                    .expect("insert");
                i += conc;
            }
        }));
    }
    for t in tasks {
        t.await.expect("inserter");
    }
    let raw_secs = started.elapsed().as_secs_f64();
    let raw_rate = total as f64 / raw_secs;
    println!(
        "ingest backend={:?} ratings={total} batch=500 concurrency={} gzip={}",
        args.backend, args.concurrency, args.gzip
    );
    println!("  http: {http_secs:.2} s, {http_rate:.0} ratings/s");
    println!("  raw storage insert: {raw_secs:.2} s, {raw_rate:.0} ratings/s");
    println!("  ratio http/raw: {:.2}", http_rate / raw_rate);
}

/// HTTP ingest with PostgreSQL reached over TLS (`verify-full`) against without it
/// (`disable`), on one cluster, runs interleaved (the order flips every round).
async fn ingest_tls(args: &Args) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = certs::TestCa::new("Countertop bench CA");
    let cert = ca.server_cert(&["127.0.0.1"]);
    let ca_file = ca.write_pem(&dir.path().join("ca.pem"));
    let mut dbs = Databases::tls_cluster(&cert);
    let all = batches(args);
    let total: usize = all.iter().map(Vec::len).sum();
    let modes = [
        ("disable", "sslmode=disable".to_owned()),
        (
            "verify-full",
            format!("sslmode=verify-full&sslrootcert={}", ca_file.display()),
        ),
    ];
    let mut rates = [Vec::new(), Vec::new()];
    println!(
        "ingest-tls ratings={total} batch=500 concurrency={} gzip={} rounds={}",
        args.concurrency, args.gzip, args.rounds
    );
    for round in 0..args.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let (name, query) = &modes[i];
            let url = format!("{}?{query}", dbs.fresh().await);
            let rate = total as f64 / push_over_http(args, &url, &all).await;
            println!("  round {round} sslmode={name}: {rate:.0} ratings/s");
            rates[i].push(rate);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let plain = median(&mut rates[0]);
    let tls = median(&mut rates[1]);
    println!("  median sslmode=disable: {plain:.0} ratings/s");
    println!("  median sslmode=verify-full: {tls:.0} ratings/s");
    println!("  ratio tls/plain: {:.2}", tls / plain);
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn latency(args: &Args, dbs: &mut Databases) {
    let url = dbs.fresh().await;
    let hq = Arc::new(start(&url).await);
    let store = admin::add_store(hq.storage.as_ref(), "Bench", "Asia/Ho_Chi_Minh")
        .await
        .expect("store");
    let setup = reqwest::Client::new();
    let mut tokens = Vec::new();
    for _ in 0..args.kiosks {
        tokens.push(enroll(&setup, &hq, store).await);
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (k, token) in tokens.into_iter().enumerate() {
        let (address, batch, interval) = (hq.address.clone(), args.batch, args.interval_ms);
        tasks.push(tokio::spawn(async move {
            // Each kiosk has its own client, so its own connection.
            let client = reqwest::Client::new();
            let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (k as u64 + 1).wrapping_mul(0x9e37_79b9));
            let mut seq = 0;
            let mut samples = Vec::new();
            loop {
                let wait = Duration::from_millis(rng.next() % (2 * interval).max(1));
                if Instant::now() + wait > deadline {
                    break;
                }
                tokio::time::sleep(wait).await;
                let events: Vec<Value> = (0..batch)
                    .map(|_| {
                        seq += 1;
                        rating(&mut rng, seq)
                    })
                    .collect();
                let body = gzip(
                    json!({"protocol": "1.0", "events": events})
                        .to_string()
                        .as_bytes(),
                );
                let t = Instant::now();
                let resp = client
                    .post(format!("{address}/api/v1/events"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .header("content-encoding", "gzip")
                    .body(body)
                    .send()
                    .await
                    .expect("push");
                assert_eq!(resp.status(), 200);
                let _ = resp.bytes().await;
                samples.push(t.elapsed().as_micros() as u64);
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("kiosk"));
    }
    all.sort_unstable();
    println!(
        "latency backend={:?} kiosks={} seconds={} mean_interval={} ms ratings_per_push={} (gzip)",
        args.backend, args.kiosks, args.seconds, args.interval_ms, args.batch
    );
    let metrics = reqwest::get(format!("{}/metrics", hq.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    println!("  server-side push time: {}", server_side_p99(&metrics));
    println!(
        "  pushes={} ({:.0}/s)  p50={:.1} ms  p90={:.1} ms  p99={:.1} ms  max={:.1} ms",
        all.len(),
        all.len() as f64 / args.seconds as f64,
        percentile(&all, 0.5),
        percentile(&all, 0.9),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
}

/// The bucket holding the 50th and 99th percentile of the server's own push-time
/// histogram, so client-side and server-side time can be told apart.
fn server_side_p99(metrics: &str) -> String {
    let mut buckets = Vec::new();
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix("countertop_push_duration_seconds_bucket{le=\"") {
            if let Some((le, n)) = rest.split_once("\"} ") {
                buckets.push((le.to_owned(), n.parse::<f64>().unwrap_or(0.0)));
            }
        }
    }
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    let at = |q: f64| {
        buckets
            .iter()
            .find(|(_, n)| *n >= q * total)
            .map(|(le, _)| format!("<= {le} s"))
            .unwrap_or_default()
    };
    format!("p50 {}, p99 {}", at(0.5), at(0.99))
}

const STORES: u64 = 100;
const DAYS: u64 = 365;
const _: () = assert!(
    STORES * DAYS == 36_500,
    "SCORE_SQL spells STORES * DAYS out"
);
/// Seeded ratings: three touchpoints; every tenth store on four faces.
const TOUCHPOINT_SQL: &str =
    "CASE i % 3 WHEN 0 THEN 'visit' WHEN 1 THEN 'checkout' ELSE 'drive_thru' END";
const SCALE_SQL: &str = "(CASE WHEN i % 10 = 9 THEN 4 ELSE 5 END)";
/// Rating `i` goes to store `i % STORES`, on day `(i / STORES) % DAYS`; what varies from
/// rating to rating within a store and day is drawn from `u = i / STORES`, not from `i`
/// (whose residues would fix a score, hour or comment per store). The score also adds
/// `k = i / (STORES * DAYS)`, the rating's round through the year: with `u` alone
/// (`u = day + 365 k`, 365 a multiple of 5) a store would have one score a day.
const SCORE_SQL: &str = "(CASE WHEN i % 10 = 9 THEN ((i / 100) * 13 + i / 36500) % 4 + 1 \
                         ELSE ((i / 100) * 13 + i / 36500) % 5 + 1 END)";
/// Local hours 7 to 20.
const HOUR_SQL: &str = "((i / 100) % 14 + 7)";
/// Every tenth rating, in every store, whatever its score.
const COMMENT_SQL: &str = "CASE WHEN (i / 100 / 7) % 10 = 3 THEN 'comment ' || i ELSE NULL END";
/// A quarter of the ratings carry one reason, by score.
const REASON_SQL: &str = "CASE WHEN score <= 2 THEN 'slow_service' WHEN score = 3 THEN 'price' \
                          ELSE 'friendly_staff' END";

async fn seed_sqlite(path: &str, stores: &[Uuid], n: u64) {
    let path = path.to_owned();
    let stores = stores.to_vec();
    tokio::task::spawn_blocking(move || {
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
        // Ratings spread over 100 stores and 365 days (about 274 per store per day at
        // 10 million), in hours 7 to 20.
        let chunk = 1_000_000u64;
        let mut done = 0;
        while done < n {
            let upto = (done + chunk).min(n);
            let date = format!("date('2025-01-01', printf('+%d days', (i / {STORES}) % {DAYS}))");
            let sql = format!(
                "WITH RECURSIVE g(i) AS (SELECT {done} UNION ALL SELECT i + 1 FROM g WHERE i + 1 < {upto}) \
                 INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, local_hour, \
                 touchpoint, survey_version, scale, score, satisfied, nps, suspected_repeat, comment) \
                 SELECT printf('00000000-0000-7000-8000-%012x', i), \
                 (SELECT id FROM bench_stores WHERE idx = i % {STORES}), \
                 '00000000-0000-7000-8000-000000000000', {date} || 'T12:00:00.000000Z', {date}, \
                 {hour}, {touchpoint}, 1, {scale}, {score}, \
                 {score} + 1 >= {scale}, \
                 CASE WHEN (i / 100) % 10 = 0 THEN (i / 100) % 11 ELSE NULL END, \
                 CASE WHEN (i / 100) % 50 = 0 THEN 1 ELSE 0 END, {comment} FROM g",
                hour = HOUR_SQL,
                touchpoint = TOUCHPOINT_SQL,
                scale = SCALE_SQL,
                score = SCORE_SQL,
                comment = COMMENT_SQL
            );
            c.execute_batch(&sql).expect("seed");
            done = upto;
            eprintln!("  seeded {done}");
        }
        c.execute_batch(&format!(
            "INSERT INTO rating_reasons (rating_id, reason) SELECT id, {REASON_SQL} FROM ratings \
             WHERE local_hour % 4 = 0; \
             DELETE FROM rating_rollup; DELETE FROM rating_daily; DELETE FROM reason_rollup; \
             DELETE FROM comment_feed;"
        ))
        .expect("reasons");
        eprintln!("  seeded reasons; filling the rollups");
        let fill = Instant::now();
        c.execute_batch(countertop_hq::storage::rollups::fill_sql_text())
            .expect("fill rollups");
        eprintln!("  rollups filled in {:.0} s", fill.elapsed().as_secs_f64());
        let fill = Instant::now();
        c.execute_batch(countertop_hq::storage::comment_feed::FILL_SQL)
            .expect("fill the comments feed");
        eprintln!("  comments feed filled in {:.0} s", fill.elapsed().as_secs_f64());
        c.execute_batch("ANALYZE").expect("analyze");
    })
    .await
    .expect("seed thread");
}

async fn seed_postgres(url: &str, stores: &[Uuid], n: u64) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TEMP TABLE bench_stores (idx int8 PRIMARY KEY, id uuid)")
        .await
        .expect("temp");
    for (i, s) in stores.iter().enumerate() {
        client
            .execute(
                "INSERT INTO bench_stores VALUES ($1, $2)",
                &[&(i as i64), s],
            )
            .await
            .expect("store");
    }
    let chunk = 1_000_000u64;
    let mut done = 0;
    while done < n {
        let upto = (done + chunk).min(n);
        let date = format!("date '2025-01-01' + ((i / {STORES}) % {DAYS})::int");
        let sql = format!(
            "INSERT INTO ratings (id, store_id, device_id, occurred_at, local_date, local_hour, \
             touchpoint, survey_version, scale, score, satisfied, nps, suspected_repeat, comment) \
             SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, s.id, \
             '00000000-0000-7000-8000-000000000000'::uuid, \
             timestamptz '2025-01-01 12:00:00+00' + ((i / {STORES}) % {DAYS}) * interval '1 day', \
             {date}, {hour}, {touchpoint}, 1, {scale}, {score}, \
             {score} + 1 >= {scale}, \
             CASE WHEN (i / 100) % 10 = 0 THEN ((i / 100) % 11)::int ELSE NULL END, \
             (i / 100) % 50 = 0, {comment} \
             FROM generate_series({done}::int8, {}::int8) AS i \
             JOIN bench_stores s ON s.idx = i % {STORES}",
            upto - 1,
            hour = HOUR_SQL,
            touchpoint = TOUCHPOINT_SQL,
            scale = SCALE_SQL,
            score = SCORE_SQL,
            comment = COMMENT_SQL,
        );
        client.batch_execute(&sql).await.expect("seed");
        done = upto;
        eprintln!("  seeded {done}");
    }
    client
        .batch_execute(&format!(
            "INSERT INTO rating_reasons (rating_id, reason) SELECT id, {REASON_SQL} FROM ratings \
             WHERE local_hour % 4 = 0; \
             DELETE FROM rating_rollup; DELETE FROM rating_daily; DELETE FROM reason_rollup; \
             DELETE FROM comment_feed;"
        ))
        .await
        .expect("reasons");
    eprintln!("  seeded reasons; filling the rollups");
    let fill = Instant::now();
    client
        .batch_execute(countertop_hq::storage::rollups::fill_sql_text())
        .await
        .expect("fill rollups");
    eprintln!("  rollups filled in {:.0} s", fill.elapsed().as_secs_f64());
    let fill = Instant::now();
    client
        .batch_execute(countertop_hq::storage::comment_feed::FILL_SQL)
        .await
        .expect("fill the comments feed");
    eprintln!(
        "  comments feed filled in {:.0} s",
        fill.elapsed().as_secs_f64()
    );
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .expect("analyze");
}

async fn report(args: &Args, dbs: &mut Databases) {
    let url = dbs.fresh().await;
    let storage = open_storage(&url).await.expect("open");
    let mut stores = Vec::new();
    for i in 0..STORES {
        stores.push(
            admin::add_store(storage.as_ref(), &format!("Shop {i}"), "Asia/Ho_Chi_Minh")
                .await
                .expect("store"),
        );
    }
    let started = Instant::now();
    match args.backend {
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite:").expect("sqlite url");
            seed_sqlite(path, &stores, args.seed).await;
        }
        Backend::Postgres => seed_postgres(&url, &stores, args.seed).await,
    }
    eprintln!("  seeding took {:.0} s", started.elapsed().as_secs_f64());
    drop(storage);
    let hq = start(&url).await;
    let token = admin::issue_api_token(hq.storage.as_ref(), "bench")
        .await
        .expect("token")
        .1;
    let client = reqwest::Client::new();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut run = |all_stores: bool| {
        let store = stores[(rng.next() % STORES) as usize];
        let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date")
            + chrono::Duration::days((rng.next() % DAYS) as i64);
        if all_stores {
            format!(
                "{}/api/v1/reports?from={day}&to={day}&group_by=store",
                hq.address
            )
        } else {
            format!(
                "{}/api/v1/reports?from={day}&to={day}&store={store}&group_by=hour",
                hq.address
            )
        }
    };
    for (label, all_stores) in [
        ("one store, one day, by hour", false),
        ("all stores, one day, by store", true),
    ] {
        let mut samples = Vec::new();
        let mut count = 0;
        for _ in 0..50 {
            let url = run(all_stores);
            let t = Instant::now();
            let body: Value = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("report")
                .json()
                .await
                .expect("json");
            samples.push(t.elapsed().as_micros() as u64);
            count = body["total"]["count"].as_u64().unwrap_or(0);
        }
        samples.sort_unstable();
        println!(
            "report backend={:?} stored={} [{label}] ratings in last report={count}: p50={:.1} ms p99={:.1} ms max={:.1} ms",
            args.backend,
            args.seed,
            percentile(&samples, 0.5),
            percentile(&samples, 0.99),
            percentile(&samples, 1.0)
        );
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.scenario == Scenario::IngestTls {
        return ingest_tls(&args).await;
    }
    let mut dbs = Databases::new(&args);
    match args.scenario {
        Scenario::IngestTls => {}
        Scenario::Ingest => ingest(&args, &mut dbs).await,
        Scenario::Latency => latency(&args, &mut dbs).await,
        Scenario::Report => report(&args, &mut dbs).await,
        Scenario::Dashboard => dashboard::run(&args, &dbs).await,
    }
}
