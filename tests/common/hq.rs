//! A real `countertop-hq` process and a real `countertop simulate` kiosk, for the sync
//! fault tests, with the set check that ends every scenario.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use countertop::store::Store;

/// The `countertop-hq` binary of this workspace, brought up to date once per test run (a
/// stale binary from an older checkout would test the wrong HQ).
pub fn hq_bin() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("countertop-hq");
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "countertop-hq", "--bin", "countertop-hq"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build countertop-hq");
    });
    bin
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// HQ: a database and a port that outlive any one server process.
pub struct Hq {
    pub database: String,
    pub port: u16,
    pub dir: PathBuf,
    server: Option<Child>,
    /// Certificate and key to serve HTTPS with (see [`Hq::serve_https`]).
    tls: Option<(PathBuf, PathBuf)>,
}

impl Hq {
    /// An HQ on SQLite in `dir`, not yet serving.
    pub fn sqlite(dir: &Path) -> Hq {
        Hq::with_database(dir, format!("sqlite:{}", dir.join("hq.db").display()))
    }

    pub fn with_database(dir: &Path, database: String) -> Hq {
        Hq {
            database,
            port: free_port(),
            dir: dir.to_owned(),
            server: None,
            tls: None,
        }
    }

    /// From the next [`Hq::start`] on, serve HTTPS with this certificate and key.
    pub fn serve_https(&mut self, cert: &Path, key: &Path) {
        self.tls = Some((cert.to_owned(), key.to_owned()));
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let out: Output = Command::new(hq_bin())
            .args(args)
            .args(["--database", &self.database])
            .current_dir(&self.dir)
            .env("RUST_LOG", "warn")
            .output()
            .expect("countertop-hq runs");
        assert!(
            out.status.success(),
            "countertop-hq {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A store in UTC and a fresh enrollment code for it.
    pub fn store_and_code(&self) -> (String, String) {
        let store = self.cli(&[
            "store",
            "add",
            "--name",
            "Corner Coffee",
            "--timezone",
            "UTC",
        ]);
        let code = self.cli(&["enroll-code", "--store", &store]);
        (store, code)
    }

    /// Replaces a store's survey the way head office does: `PUT` with an API token.
    pub fn put_survey(&self, store_id: &str, survey: &countertop_protocol::SurveyConfig) {
        let token = self.cli(&["token", "add", "--name", "test"]);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let status = runtime.block_on(async {
            reqwest::Client::new()
                .put(format!("{}/api/v1/stores/{store_id}/config", self.url()))
                .bearer_auth(&token)
                .json(survey)
                .send()
                .await
                .map(|r| r.status())
        });
        match status {
            Ok(status) => assert!(status.is_success(), "PUT config answered {status}"),
            Err(e) => panic!("PUT config failed: {e}"),
        }
    }

    /// Starts serving on the fixed port, waiting until it answers.
    pub fn start(&mut self) {
        assert!(self.server.is_none(), "HQ already running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let tls = self.tls.iter().flat_map(|(cert, key)| {
                [
                    std::ffi::OsStr::new("--tls-cert"),
                    cert.as_os_str(),
                    std::ffi::OsStr::new("--tls-key"),
                    key.as_os_str(),
                ]
            });
            let mut child = Command::new(hq_bin())
                .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
                .args(["--database", &self.database])
                .args(tls)
                .current_dir(&self.dir)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("countertop-hq serve starts");
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            let mut reader = BufReader::new(stdout);
            if reader.read_line(&mut line).unwrap_or(0) > 0 {
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                        sink.clear();
                    }
                });
                self.server = Some(child);
                return;
            }
            // The port may still be held by a server killed a moment ago.
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "HQ did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no goodbye, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Every event id HQ stored, with how many times (the primary key makes it once, but
    /// the check does not take that on trust).
    pub fn event_ids(&self) -> HashMap<String, usize> {
        let rows = self.query("SELECT id FROM events");
        let mut counts = HashMap::new();
        for id in rows {
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }

    /// One column of a query against HQ's database.
    pub fn query(&self, sql: &str) -> Vec<String> {
        if let Some(path) = self.database.strip_prefix("sqlite:") {
            let conn = rusqlite::Connection::open(path).expect("HQ database opens");
            conn.busy_timeout(Duration::from_secs(10)).ok();
            let mut stmt = conn.prepare(sql).expect("query prepares");
            let rows = stmt
                .query_map([], |r| r.get::<_, rusqlite::types::Value>(0))
                .expect("query runs");
            rows.map(|v| match v.expect("row") {
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Integer(i) => i.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
        } else {
            let out = Command::new("psql")
                .args([self.database.as_str(), "-At", "-c", sql])
                .output()
                .expect("psql runs");
            assert!(
                out.status.success(),
                "psql: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }
}

impl Drop for Hq {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A kiosk data directory with a configuration tuned for fast retries.
pub struct Kiosk {
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Kiosk {
    pub fn new(dir: &Path, batch_size: usize) -> Kiosk {
        std::fs::create_dir_all(dir).expect("kiosk dir");
        let config = dir.join("kiosk.toml");
        std::fs::write(
            &config,
            format!(
                "[sync]\ninterval_secs = 0.5\nretry_base_secs = 0.05\nretry_max_secs = 0.5\n\
                 health_interval_secs = 2\nbatch_size = {batch_size}\n"
            ),
        )
        .expect("kiosk config");
        Kiosk {
            dir: dir.to_owned(),
            config,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_countertop"));
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--data")
            .arg(&self.dir)
            .args(args)
            .env("COUNTERTOP_LOG", "countertop=warn");
        cmd
    }

    pub fn enroll(&self, hq_url: &str, code: &str) {
        let out = self
            .command(&["enroll", "--hq", hq_url, "--code", code])
            .output()
            .expect("countertop enroll runs");
        assert!(
            out.status.success(),
            "enroll failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `simulate --ratings n`, run to completion within `timeout`.
    pub fn simulate(&self, ratings: u64, timeout: Duration) -> Output {
        let child = self
            .command(&[
                "simulate",
                "--ratings",
                &ratings.to_string(),
                "--timeout",
                &timeout.as_secs().to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("simulate starts");
        child.wait_with_output().expect("simulate finishes")
    }

    pub fn store(&self) -> Store {
        Store::open(&self.dir.join("countertop.db")).expect("kiosk database opens")
    }

    /// Every event id the kiosk ever committed (ratings, details, health).
    pub fn event_ids(&self) -> BTreeSet<String> {
        let conn = rusqlite::Connection::open(self.dir.join("countertop.db")).expect("opens");
        let mut stmt = conn
            .prepare("SELECT event_id FROM outbox")
            .expect("prepares");
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .expect("runs")
            .map(|r| r.expect("row"))
            .collect();
        ids
    }
}

/// The end of every scenario: every event the kiosk committed is at HQ exactly once,
/// nothing is still queued, and HQ holds nothing the kiosk did not send.
pub fn assert_exactly_once(kiosk: &Kiosk, hq: &Hq, quarantined: &BTreeSet<String>) {
    let sent = kiosk.event_ids();
    let stored = hq.event_ids();
    let duplicated: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "stored more than once: {duplicated:?}"
    );
    let stored: BTreeSet<String> = stored.into_keys().collect();
    let expected: BTreeSet<String> = sent.difference(quarantined).cloned().collect();
    let lost: Vec<_> = expected.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} events never reached HQ: {lost:?}",
        lost.len()
    );
    let unexpected: Vec<_> = stored.difference(&sent).collect();
    assert!(
        unexpected.is_empty(),
        "HQ holds events the kiosk never sent: {unexpected:?}"
    );
    let leaked: Vec<_> = stored.intersection(quarantined).collect();
    assert!(
        leaked.is_empty(),
        "quarantined events reached HQ: {leaked:?}"
    );
    let status = kiosk.store().outbox_status().expect("outbox status");
    assert_eq!(status.pending, 0, "events still queued at the kiosk");
    let kiosk_ratings = kiosk.store().rating_count().expect("count");
    let hq_ratings: usize = hq.query("SELECT count(*) FROM ratings")[0]
        .parse()
        .expect("count");
    assert_eq!(
        hq_ratings as u64, kiosk_ratings,
        "ratings at HQ vs at the kiosk"
    );
}
