//! Alert benchmarks (issue 11): numbers for benches/README.md at the workspace root, not
//! timed tests.
//!
//! ```text
//! cargo bench -p countertop-hq --bench alerts -- --backend sqlite   --scenario latency
//! cargo bench -p countertop-hq --bench alerts -- --backend postgres --scenario ingest
//! ```
//!
//! - `latency`: a real HQ (this release binary, its alert engine on the system clock and
//!   its default timer), a real webhook receiver on loopback, 100 stores with 10 rules
//!   each (1,000 rules, each scoped to its store and the `visit` touchpoint). Every store's
//!   kiosk pushes background batches (the `checkout` touchpoint: evaluated, never firing)
//!   at random intervals, and once, at a random moment, a batch of unhappy `visit` ratings
//!   that crosses `--firing` of its rules. Each delivery's latency is its arrival at the
//!   receiver minus the moment that crossing push was sent (one monotonic clock: the
//!   receiver runs in this process).
//! - `ingest`: kiosks of 100 stores push 500-rating batches, with 1,000 rules (some of
//!   which fire and deliver) and without any, alternating the two for `--rounds` rounds
//!   (each on a fresh database); prints every run, the medians and their ratio.
//!
//! PostgreSQL runs from the system's binaries in a temp dir with fsync on, as the tests'
//! harness does, unless `--database postgres://...` names one.

#[path = "../tests/common/pg.rs"]
mod pg;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use clap::{Parser, ValueEnum};
use countertop_hq::alerts::rule::{Condition, Recipient, RuleSpec};
use countertop_hq::{admin, Application, Settings, Storage};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Scenario {
    Latency,
    Ingest,
}

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    #[arg(long, value_enum, default_value = "latency")]
    scenario: Scenario,
    /// An existing PostgreSQL server URL (fresh databases are created beside it).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 100)]
    stores: usize,
    #[arg(long, default_value_t = 10)]
    rules_per_store: usize,
    /// latency: rules per store the crossing batch fires (the rest hold false).
    #[arg(long, default_value_t = 1)]
    firing: usize,
    /// latency: seconds over which the stores' crossing pushes are spread.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// latency: each store's background pushes come every random 0..2×this ms.
    #[arg(long, default_value_t = 1000)]
    background_ms: u64,
    /// ingest: ratings pushed per run.
    #[arg(long, default_value_t = 200_000)]
    ratings: usize,
    /// ingest: concurrent pushing kiosks.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// ingest: runs of each mode, interleaved.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    // `cargo bench` passes --bench; accept and ignore it.
    #[arg(long, hide = true)]
    bench: bool,
}

// ---------------------------------------------------------------- databases and HQ

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

/// HQ with its alert engine as `serve` runs it by default (system clock, 30 s timer).
async fn start(url: &str) -> Running {
    let mut settings = Settings::new("127.0.0.1:0", url);
    settings.alerts.webhook_secret = Some("bench-secret".into());
    // One address enrolls a kiosk for each of 100 stores in a second.
    let unlimited = countertop_hq::throttle::Rule::new(1_000_000, Duration::from_millis(1));
    settings.enroll_throttle = countertop_hq::throttle::AttemptRules {
        per_address: unlimited,
        per_subject: unlimited,
    };
    let app = Application::build(settings).await.expect("HQ starts");
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

// ---------------------------------------------------------------- the webhook receiver

/// Every request's arrival and body.
#[derive(Clone, Default)]
struct Receiver {
    arrivals: Arc<Mutex<Vec<(Instant, Value)>>>,
}

async fn receive(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.arrivals.lock().expect("lock").push((at, v));
    StatusCode::OK
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, url)
    }

    fn count(&self) -> usize {
        self.arrivals.lock().expect("lock").len()
    }
}

// ---------------------------------------------------------------- rules and ratings

/// `n` rules for `store`, the first `firing` of which a batch of five 1-face `visit`
/// ratings with `slow_service` crosses; the others read the same window and hold false.
fn rules_for(store: Uuid, url: &str, n: usize, firing: usize) -> Vec<RuleSpec> {
    let fire = [
        Condition::UnhappyShareAbove { percent: 50.0 },
        Condition::FaceCountAbove { face: 1, count: 3 },
        Condition::ReasonAbove {
            reason: "slow_service".into(),
            count: 3,
        },
        Condition::HappyIndexBelow { value: 50.0 },
    ];
    let quiet = [
        Condition::HappyIndexAbove { value: 99.0 },
        Condition::FaceCountAbove {
            face: 5,
            count: 100_000,
        },
        Condition::ReasonAbove {
            reason: "tasty".into(),
            count: 100_000,
        },
        Condition::HappyIndexBelow { value: 0.0 },
    ];
    (0..n)
        .map(|i| RuleSpec {
            name: format!("rule {i}"),
            stores: vec![store],
            touchpoint: Some("visit".into()),
            condition: if i < firing {
                fire[i % fire.len()].clone()
            } else {
                quiet[i % quiet.len()].clone()
            },
            window_minutes: 15,
            min_answers: 4,
            pending_seconds: 0,
            repeat_seconds: 0,
            recipients: vec![Recipient::Webhook { url: url.into() }],
        })
        .collect()
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

fn rating(score: u64, touchpoint: &str, seq: u64) -> Value {
    let reasons: &[&str] = match score {
        5 => &["fast_service", "tasty"],
        1 | 2 => &["slow_service"],
        _ => &[],
    };
    json!({
        "id": Uuid::now_v7(), "seq": seq, "device_time": Utc::now(), "utc_offset_minutes": 420,
        "kind": "rating",
        "body": {"survey_version": 1, "touchpoint": touchpoint, "scale": 5, "score": score,
                 "reasons": reasons, "suspected_repeat": false}
    })
}

async fn push(client: &reqwest::Client, address: &str, token: &str, events: &[Value]) {
    let resp = client
        .post(format!("{address}/api/v1/events"))
        .bearer_auth(token)
        .json(&json!({"protocol": "1.0", "events": events}))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status(), 200, "push refused");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- scenarios

async fn latency(args: &Args, dbs: &mut Databases) {
    let url = dbs.fresh().await;
    let hq = start(&url).await;
    let (receiver, hook) = Receiver::start().await;
    let client = reqwest::Client::new();
    let mut stores = Vec::new();
    for s in 0..args.stores {
        let store = admin::add_store(hq.storage.as_ref(), &format!("Store {s}"), "UTC")
            .await
            .expect("store");
        for spec in rules_for(store, &hook, args.rules_per_store, args.firing) {
            hq.storage.create_rule(&spec).await.expect("rule");
        }
        stores.push((store, enroll(&client, &hq, store).await));
    }
    println!(
        "latency: {} stores, {} rules ({} firing per store), backend {:?}, load {}",
        args.stores,
        args.stores * args.rules_per_store,
        args.firing,
        args.backend,
        load_average()
    );
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (k, (store, token)) in stores.iter().enumerate() {
        // Background: `checkout` ratings, evaluated by every push and never firing.
        let (bg, address, token2) = (client.clone(), hq.address.clone(), token.clone());
        let mean = args.background_ms.max(1);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1));
            let mut seq = 1_000_000;
            while Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(rng.next() % (2 * mean))).await;
                let batch: Vec<Value> = (0..5)
                    .map(|_| {
                        seq += 1;
                        rating(1 + rng.next() % 5, "checkout", seq)
                    })
                    .collect();
                push(&bg, &address, &token2, &batch).await;
            }
        }));
        // The crossing push, once, at a random moment of the run.
        let (client, address, token, sent) = (
            client.clone(),
            hq.address.clone(),
            token.clone(),
            Arc::clone(&sent),
        );
        let store = store.to_string();
        let span = args.seconds.saturating_sub(4).max(1) * 1000;
        let at = Duration::from_millis(2000 + (k as u64 * 7919 + 17) % span);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until((started + at).into()).await;
            let batch: Vec<Value> = (0..5).map(|i| rating(1, "visit", i)).collect();
            sent.lock().expect("lock").insert(store, Instant::now());
            push(&client, &address, &token, &batch).await;
        }));
    }
    for t in tasks {
        t.await.expect("pusher");
    }
    let expected = args.stores * args.firing;
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.count() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = sent.lock().expect("lock").clone();
    let arrivals = receiver.arrivals.lock().expect("lock").clone();
    let mut all = Vec::new();
    let mut first: HashMap<String, f64> = HashMap::new();
    for (at, body) in &arrivals {
        let store = body["store_id"].as_str().unwrap_or_default().to_owned();
        if let Some(s) = sent.get(&store) {
            let ms = at.saturating_duration_since(*s).as_secs_f64() * 1000.0;
            all.push(ms);
            let f = first.entry(store).or_insert(ms);
            *f = f.min(ms);
        }
    }
    let report = |what: &str, mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        println!(
            "{what}: n={} p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            v.len(),
            percentile(&v, 0.50),
            percentile(&v, 0.90),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    };
    report("push -> webhook, every delivery", all);
    report(
        "push -> webhook, first delivery per store",
        first.into_values().collect(),
    );
    println!(
        "deliveries: {} of {expected} expected (others: {}); load {}",
        arrivals.len(),
        arrivals.len().saturating_sub(expected),
        load_average()
    );
}

/// One ingest run on a fresh database; returns ratings per second.
async fn ingest_run(args: &Args, dbs: &mut Databases, with_rules: bool) -> f64 {
    const BATCH: usize = 500;
    let url = dbs.fresh().await;
    let hq = start(&url).await;
    let (receiver, hook) = Receiver::start().await;
    let client = reqwest::Client::new();
    let mut tokens = Vec::new();
    for s in 0..args.stores {
        let store = admin::add_store(hq.storage.as_ref(), &format!("Store {s}"), "UTC")
            .await
            .expect("store");
        if with_rules {
            // Random ratings: some of these fire (a face-1 count, an unhappy share) and
            // deliver, as a real chain's would.
            for spec in rules_for(store, &hook, args.rules_per_store, 2) {
                hq.storage.create_rule(&spec).await.expect("rule");
            }
        }
        tokens.push(enroll(&client, &hq, store).await);
    }
    let batches = args.ratings.div_ceil(BATCH);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let bodies: Vec<(usize, Vec<u8>)> = (0..batches)
        .map(|b| {
            let events: Vec<Value> = (0..BATCH)
                .map(|i| rating(1 + rng.next() % 5, "visit", (b * BATCH + i) as u64))
                .collect();
            (
                b % args.stores,
                json!({"protocol": "1.0", "events": events})
                    .to_string()
                    .into_bytes(),
            )
        })
        .collect();
    let (bodies, tokens) = (Arc::new(bodies), Arc::new(tokens));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, bodies, tokens, next, address) = (
            client.clone(),
            Arc::clone(&bodies),
            Arc::clone(&tokens),
            Arc::clone(&next),
            hq.address.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((store, body)) = bodies.get(i) else {
                    return;
                };
                let resp = client
                    .post(format!("{address}/api/v1/events"))
                    .bearer_auth(&tokens[*store])
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("push");
                assert_eq!(resp.status(), 200);
                let v: Value = resp.json().await.expect("json");
                assert_eq!(v["accepted"], BATCH);
            }
        }));
    }
    for t in tasks {
        t.await.expect("pusher");
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = (batches * BATCH) as f64 / secs;
    println!(
        "{:>13}: {:>9.0} ratings/s ({} ratings in {secs:.2} s; {} deliveries so far; load {})",
        if with_rules {
            "1,000 rules"
        } else {
            "no rules"
        },
        rate,
        batches * BATCH,
        receiver.count(),
        load_average()
    );
    rate
}

async fn ingest(args: &Args, dbs: &mut Databases) {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        // Alternate which goes first, so a drift in the machine's load hits both.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for with_rules in order {
            let r = ingest_run(args, dbs, with_rules).await;
            if with_rules {
                with.push(r);
            } else {
                without.push(r);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (w, wo) = (median(&mut with), median(&mut without));
    println!(
        "medians: with 1,000 rules {w:.0} ratings/s, without {wo:.0} ratings/s, ratio {:.2}",
        w / wo
    );
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut dbs = Databases::new(&args);
    match args.scenario {
        Scenario::Latency => latency(&args, &mut dbs).await,
        Scenario::Ingest => ingest(&args, &mut dbs).await,
    }
}
