//! A kiosk and a real HQ over HTTPS, with HQ's certificate signed by a CA the test makes:
//! the kiosk trusts it through `sync.ca_file`, and without that setting it refuses HQ,
//! shows why in its sync status, keeps every rating, and keeps trying.

#[path = "../crates/hq/tests/common/certs.rs"]
mod certs;
#[path = "common/hq.rs"]
mod hq;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::{Core, CoreThread, Tap};
use countertop::feedback::Score;
use countertop::sync::SyncStatus;
use hq::Hq;

fn config(ca_file: Option<PathBuf>) -> KioskConfig {
    let mut config = KioskConfig::default();
    config.sync.interval_secs = 0.3;
    config.sync.retry_base_secs = 0.05;
    config.sync.retry_max_secs = 0.3;
    config.sync.ca_file = ca_file;
    config
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn start(database: &Path, ca_file: Option<PathBuf>) -> (Core, CoreThread) {
    Core::start(database.to_owned(), config(ca_file)).expect("core starts")
}

fn rate(core: &Core, n: u32) {
    for i in 0..n {
        let survey = core.config().borrow().survey.clone();
        let score = Score::new(i64::from(i % 5 + 1), survey.scale).expect("score on the scale");
        run(core.rate(Tap {
            score,
            touchpoint: survey.touchpoint.clone(),
            survey_version: survey.version,
        }))
        .expect("rated");
    }
}

fn wait_for(core: &Core, what: &str, done: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = core.sync_status().borrow().clone();
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status:?}"
        );
        core.sync_now();
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(core: &Core, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        core.sync_now();
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hq_ratings(hq: &Hq) -> u64 {
    hq.query("SELECT count(*) FROM ratings")[0]
        .parse()
        .expect("a count")
}

/// A real HQ serving HTTPS with a certificate from a CA the test makes; returns it,
/// started, and the CA's PEM file a kiosk may trust.
fn https_hq(dir: &Path) -> (Hq, PathBuf) {
    let ca = certs::TestCa::new("Corner Coffee chain CA");
    let ca_file = ca.write_pem(&dir.join("hq-ca.pem"));
    let (cert, key) = ca.server_cert(&["127.0.0.1", "localhost"]).write(dir);
    let mut hq = Hq::sqlite(dir);
    hq.serve_https(&cert, &key);
    hq.start();
    (hq, ca_file)
}

#[test]
fn a_kiosk_trusting_the_configured_ca_enrolls_and_syncs_over_https_and_without_it_refuses_and_keeps_its_ratings(
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (hq, ca_file) = https_hq(dir.path());
    assert!(hq.url().starts_with("https://"));
    let (_store, code) = hq.store_and_code();
    let database = dir.path().join("kiosk").join("countertop.db");
    std::fs::create_dir_all(database.parent().expect("parent")).expect("kiosk dir");

    // Without the CA, enrollment fails on the certificate and says so.
    {
        let (core, _thread) = start(&database, None);
        let refused = run(core.enroll(hq.url(), code.clone(), Some("counter".into())));
        let message = format!("{:?}", refused.expect_err("an untrusted HQ is refused"));
        assert!(message.contains("certificate"), "{message}");
    }

    // With it, the kiosk enrolls and its ratings reach HQ over HTTPS.
    {
        let (core, _thread) = start(&database, Some(ca_file.clone()));
        run(core.enroll(hq.url(), code, Some("counter".into()))).expect("enrolls over HTTPS");
        rate(&core, 3);
        wait_until(&core, "3 ratings at HQ", || hq_ratings(&hq) == 3);
        wait_for(&core, "an empty queue", |s| {
            s.pending == 0 && s.last_success.is_some()
        });
    }

    // The same kiosk restarted without the CA: HQ is refused, the reason is shown, the
    // ratings stay queued, and it keeps retrying.
    {
        let (core, _thread) = start(&database, None);
        rate(&core, 4);
        // The queue follows new ratings while sync waits out its backoff, so the status
        // that names the certificate soon counts all four.
        let status = wait_for(&core, "a certificate error and 4 queued ratings", |s| {
            s.pending >= 4
                && s.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("certificate"))
        });
        assert!(status.retrying, "{status:?}");
        assert!(status.pending >= 4, "ratings kept: {status:?}");
        std::thread::sleep(Duration::from_secs(1));
        let later = core.sync_status().borrow().clone();
        assert!(later.pending >= 4 && later.retrying, "{later:?}");
        assert_eq!(hq_ratings(&hq), 3, "nothing reached an untrusted HQ");
    }

    // Trusting the CA again, everything that waited arrives.
    let (core, _thread) = start(&database, Some(ca_file));
    wait_until(&core, "all 7 ratings at HQ", || hq_ratings(&hq) == 7);
    wait_for(&core, "an empty queue", |s| s.pending == 0);
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.pem");
    let toml = format!("[sync]\nca_file = {:?}\n", missing.display().to_string());
    let err = KioskConfig::from_toml(&toml).expect_err("missing file refused");
    assert!(
        err.to_string().contains("missing.pem") && err.to_string().contains("cannot be read"),
        "{err}"
    );
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "just some text").expect("write");
    let toml = format!("[sync]\nca_file = {:?}\n", junk.display().to_string());
    let err = KioskConfig::from_toml(&toml).expect_err("non-PEM refused");
    assert!(err.to_string().contains("holds no certificate"), "{err}");
    let ca = certs::TestCa::new("ok");
    let good = ca.write_pem(&dir.path().join("good.pem"));
    let toml = format!("[sync]\nca_file = {:?}\n", good.display().to_string());
    let config = KioskConfig::from_toml(&toml).expect("a PEM CA file is accepted");
    assert_eq!(config.sync.ca_file, Some(good));
}

#[test]
fn countertop_enroll_uses_the_ca_file_from_kiosk_toml() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (hq, ca_file) = https_hq(dir.path());
    let (store, code) = hq.store_and_code();

    let untrusting = hq::Kiosk::new(&dir.path().join("untrusting"), 50);
    let out = untrusting
        .command(&["enroll", "--hq", &hq.url(), "--code", &code])
        .output()
        .expect("countertop enroll runs");
    assert!(!out.status.success(), "enrolled without trusting HQ");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");

    let trusting = hq::Kiosk::new(&dir.path().join("trusting"), 50);
    let mut toml = std::fs::read_to_string(&trusting.config).expect("kiosk.toml");
    toml.push_str(&format!("ca_file = {:?}\n", ca_file.display().to_string()));
    std::fs::write(&trusting.config, toml).expect("kiosk.toml");
    let code = hq.cli(&["enroll-code", "--store", &store]);
    trusting.enroll(&hq.url(), &code);
}

#[test]
fn while_sync_waits_out_a_long_backoff_its_status_counts_each_new_rating() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (hq, ca_file) = https_hq(dir.path());
    let (_store, code) = hq.store_and_code();
    let database = dir.path().join("kiosk").join("countertop.db");
    std::fs::create_dir_all(database.parent().expect("parent")).expect("kiosk dir");
    {
        let (core, _thread) = start(&database, Some(ca_file));
        run(core.enroll(hq.url(), code, Some("counter".into()))).expect("enrolls over HTTPS");
    }
    // Restarted without the CA and with a minute's backoff: after the first refusal no
    // round runs for a minute, and nothing here asks for one.
    let mut slow = config(None);
    slow.sync.retry_base_secs = 60.0;
    slow.sync.retry_max_secs = 60.0;
    let (core, _thread) = Core::start(database, slow).expect("core starts");
    let status = core.sync_status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !status.borrow().retrying {
        assert!(
            Instant::now() < deadline,
            "no refusal: {:?}",
            *status.borrow()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let error = status.borrow().last_error.clone();
    assert!(
        error.as_deref().is_some_and(|e| e.contains("certificate")),
        "{error:?}"
    );
    let before = status.borrow().pending;
    rate(&core, 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status.borrow().pending < before + 3 {
        assert!(Instant::now() < deadline, "stale: {:?}", *status.borrow());
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = status.borrow().clone();
    assert_eq!(now.pending, before + 3);
    assert!(now.retrying, "{now:?}");
    assert_eq!(now.last_error, error, "no new round ran");
    assert_eq!(hq_ratings(&hq), 0);
}
