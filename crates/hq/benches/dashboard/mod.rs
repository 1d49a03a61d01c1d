//! `--scenario dashboard`: the dashboard's read model at scale. Seeds a year of 100 stores
//! (`--seed` ratings, 10,000,000 by default) once into a kept database (`--keep`), then
//! times, through the storage layer (the server's own calls, no HTTP), the queries behind
//! the overview (summaries of the current and the previous period, the chain's daily
//! trend) and behind a store page (trend, heatmap, summary with its distribution,
//! reasons and their trend, touchpoints, the first comments page), for random periods
//! (today, 7 days, 30 days, the quarter) ending on a random day of the seeded year.
//!
//! Seeding: raw rows in bulk SQL (see `seed_sqlite` / `seed_postgres`), then the rollups
//! built from them by the very SQL the migration that adds them runs
//! (`rollups::fill_sql_text`), so raw rows and rollups agree as after real ingest.

use std::time::Instant;

use chrono::{NaiveDate, TimeZone, Utc};
use countertop_hq::storage::analytics::{period_ranges, CommentQuery, Period, StoreRange};
use countertop_hq::{admin, open_storage, Storage};
use uuid::Uuid;

use super::{percentile, seed_postgres, seed_sqlite, Args, Backend, Databases, Rng, STORES};

async fn url(args: &Args, dbs: &Databases) -> String {
    match args.backend {
        Backend::Sqlite => format!(
            "sqlite:{}",
            args.keep.as_deref().unwrap_or("dashboard-bench.db")
        ),
        Backend::Postgres => {
            let server = dbs.server.clone().expect("server url");
            let name = args.keep.as_deref().unwrap_or("dashboard_bench");
            let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
            tokio::spawn(conn);
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .expect("list databases")
                .is_some();
            if !exists {
                client
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create database");
            }
            match server.rfind('/') {
                Some(i) => format!("{}/{name}", &server[..i]),
                None => panic!("cannot place a database in {server}"),
            }
        }
    }
}

/// The kept database, seeded on the first run.
async fn seeded(args: &Args, url: &str) -> (std::sync::Arc<dyn Storage>, Vec<Uuid>) {
    let storage = open_storage(url).await.expect("open");
    let mut stores: Vec<Uuid> = storage
        .stores()
        .await
        .expect("stores")
        .into_iter()
        .map(|s| s.id)
        .collect();
    if stores.len() as u64 >= STORES {
        eprintln!("  reusing the seeded database {url}");
        stores.sort();
        return (storage, stores);
    }
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
        Backend::Postgres => seed_postgres(url, &stores, args.seed).await,
    }
    eprintln!("  seeding took {:.0} s", started.elapsed().as_secs_f64());
    stores.sort();
    (storage, stores)
}

/// Timings of one page: each query's, and the page's (their sum, run one after another).
#[derive(Default)]
struct Timings {
    names: Vec<&'static str>,
    per_query: Vec<Vec<u64>>,
    page: Vec<u64>,
}

impl Timings {
    fn record(&mut self, name: &'static str, micros: u64) -> u64 {
        let i = match self.names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                self.names.push(name);
                self.per_query.push(Vec::new());
                self.names.len() - 1
            }
        };
        self.per_query[i].push(micros);
        micros
    }

    fn print(mut self, label: &str, backend: Backend, seed: u64) {
        self.page.sort_unstable();
        println!(
            "dashboard backend={backend:?} ratings={seed} [{label}] page: p50={:.1} ms p99={:.1} ms max={:.1} ms",
            percentile(&self.page, 0.5),
            percentile(&self.page, 0.99),
            percentile(&self.page, 1.0)
        );
        for (name, mut v) in self.names.into_iter().zip(self.per_query) {
            v.sort_unstable();
            println!(
                "    {name:<28} p50={:.1} ms p99={:.1} ms",
                percentile(&v, 0.5),
                percentile(&v, 0.99)
            );
        }
    }
}

macro_rules! timed {
    ($t:expr, $name:expr, $call:expr) => {{
        let started = Instant::now();
        let out = $call.await.expect($name);
        std::hint::black_box(&out);
        $t.record($name, started.elapsed().as_micros() as u64)
    }};
}

/// How long `call` took, in microseconds.
async fn lap<T, E: std::fmt::Debug>(call: impl std::future::Future<Output = Result<T, E>>) -> u64 {
    let started = Instant::now();
    let out = call.await.expect("query");
    std::hint::black_box(&out);
    started.elapsed().as_micros() as u64
}

pub async fn run(args: &Args, dbs: &Databases) {
    let url = url(args, dbs).await;
    let (storage, stores) = seeded(args, &url).await;
    let s = storage.as_ref();
    let tz: Vec<(Uuid, chrono_tz::Tz)> = stores
        .iter()
        .map(|id| (*id, chrono_tz::Asia::Ho_Chi_Minh))
        .collect();
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let periods = [
        Period::Today,
        Period::Days7,
        Period::Days30,
        Period::Quarter,
    ];
    let mut overview = Timings::default();
    let mut store_page = Timings::default();
    // A first untimed round warms the caches, as a running server's are.
    for round in 0..=args.samples {
        let day = first + chrono::Duration::days((rng.next() % super::DAYS) as i64);
        let now = Utc
            .from_local_datetime(&day.and_hms_opt(5, 0, 0).expect("time"))
            .single()
            .expect("now");
        let period = periods[round % periods.len()];
        let (current, previous) = period_ranges(period, &tz, now);

        // The overview page runs its three reads at the same time (`web/overview.rs`).
        let started = Instant::now();
        let (a, b, c) = tokio::join!(
            lap(s.store_summaries(&current, false)),
            lap(s.store_summaries(&previous, false)),
            lap(s.daily(&current, false)),
        );
        let page = started.elapsed().as_micros() as u64;
        overview.record("summaries (current)", a);
        overview.record("summaries (previous)", b);
        overview.record("daily trend (chain)", c);
        if round > 0 {
            overview.page.push(page);
        }

        let store = stores[(rng.next() % stores.len() as u64) as usize];
        let one: Vec<StoreRange> = current
            .iter()
            .filter(|r| r.store_id == store)
            .copied()
            .collect();
        let mut page = 0;
        page += timed!(
            store_page,
            "summary + distribution",
            s.store_summaries(&one, false)
        );
        page += timed!(store_page, "daily trend (store)", s.daily(&one, false));
        page += timed!(store_page, "heatmap", s.heatmap(&one, false));
        page += timed!(store_page, "reasons", s.reasons(&one, false));
        page += timed!(store_page, "reasons per day", s.reasons_daily(&one, false));
        page += timed!(store_page, "touchpoints", s.touchpoints(&one, false));
        let comments = CommentQuery {
            ranges: one.clone(),
            score: None,
            reason: None,
            text: None,
            include_repeats: false,
            before: None,
            limit: 50,
        };
        page += timed!(store_page, "comments, first page", s.comments(&comments));
        if round > 0 {
            store_page.page.push(page);
        }
        if round == 0 {
            overview = Timings::default();
            store_page = Timings::default();
        }
    }
    overview.print("overview", args.backend, args.seed);
    store_page.print("store page", args.backend, args.seed);
}
