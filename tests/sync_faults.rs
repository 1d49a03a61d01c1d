//! Sync keeps its promise through every failure: each scenario runs a real HQ process and
//! the real kiosk binary (`countertop simulate`), injects a fault, and ends with the set
//! check: every event the kiosk committed is stored at HQ exactly once, nothing lost,
//! nothing duplicated, nothing unexpected.

#[path = "common/hq.rs"]
mod hq;
#[path = "../crates/hq/tests/common/pg.rs"]
mod pg;
#[path = "common/proxy.rs"]
mod proxy;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hq::{assert_exactly_once, Hq, Kiosk};

fn none() -> BTreeSet<String> {
    BTreeSet::new()
}

/// HQ on SQLite, serving, with one store and a kiosk enrolled to `url` (HQ's own by default).
fn enrolled(dir: &std::path::Path, batch: usize) -> (Hq, Kiosk) {
    let mut hq = Hq::sqlite(dir);
    hq.start();
    let (_store, code) = hq.store_and_code();
    let kiosk = Kiosk::new(&dir.join("kiosk"), batch);
    kiosk.enroll(&hq.url(), &code);
    (hq, kiosk)
}

fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "simulate failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigkill(child: &mut std::process::Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
    }
    let _ = child.wait();
}

#[test]
fn hq_down_while_ratings_pile_up_then_the_queue_drains_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hq, kiosk) = enrolled(dir.path(), 25);
    hq.kill();
    let simulate = kiosk
        .command(&["simulate", "--ratings", "60", "--timeout", "90"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("60 ratings queued", Duration::from_secs(30), || {
        kiosk.store().outbox_status().unwrap().pending >= 60
    });
    std::thread::sleep(Duration::from_secs(2)); // several failed rounds
    assert!(kiosk.store().sync_state().unwrap().last_error.is_some());
    hq.start(); // no manual step: the kiosk notices on its own
    assert_success(&simulate.wait_with_output().unwrap());
    assert_exactly_once(&kiosk, &hq, &none());
    assert_eq!(kiosk.store().sync_state().unwrap().last_error, None);
    // Head office heard how the kiosk was doing.
    let health: u64 = hq.query("SELECT count(*) FROM events WHERE kind = 'device_health'")[0]
        .parse()
        .unwrap();
    assert!(health >= 1, "no device_health event reached HQ");
}

#[test]
fn a_fault_proxy_between_kiosk_and_hq_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut hq = Hq::sqlite(dir.path());
    hq.start();
    let (_store, code) = hq.store_and_code();
    let proxy = proxy::FaultProxy::start(hq.port, 45);
    let kiosk = Kiosk::new(&dir.path().join("kiosk"), 5);
    kiosk.enroll(&proxy.url(), &code);
    proxy
        .enabled
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let out = kiosk.simulate(250, Duration::from_secs(240));
    assert_success(&out);
    for fault in [
        proxy::Fault::Refuse,
        proxy::Fault::DropMidRequest,
        proxy::Fault::DropAfterCommit,
        proxy::Fault::Slow,
        proxy::Fault::ServerError,
        proxy::Fault::TooManyRequests,
    ] {
        assert!(proxy.fault_count(fault) > 0, "{fault:?} never happened");
    }
    assert_exactly_once(&kiosk, &hq, &none());
}

#[test]
fn a_kiosk_killed_at_random_moments_during_sync_loses_and_duplicates_nothing() {
    let cycles: usize = std::env::var("SYNC_KILL_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let (hq, kiosk) = enrolled(dir.path(), 10);
    for _ in 0..cycles {
        let mut child = kiosk
            .command(&["simulate", "--ratings", "15"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(10 + fastrand::u64(0..300)));
        sigkill(&mut child);
    }
    let committed = kiosk.store().rating_count().unwrap();
    assert!(
        committed > cycles as u64,
        "the kills left too few ratings ({committed})"
    );
    assert_success(&kiosk.simulate(0, Duration::from_secs(90)));
    assert_exactly_once(&kiosk, &hq, &none());
}

fn hq_killed_during_ingest(mut hq: Hq) {
    hq.start();
    let (_store, code) = hq.store_and_code();
    let kiosk = Kiosk::new(&hq.dir.join("kiosk"), 25);
    kiosk.enroll(&hq.url(), &code);
    let simulate = kiosk
        .command(&["simulate", "--ratings", "1500", "--timeout", "180"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(100 + fastrand::u64(0..500)));
        hq.kill();
        std::thread::sleep(Duration::from_millis(100));
        hq.start();
    }
    assert_success(&simulate.wait_with_output().unwrap());
    assert_exactly_once(&kiosk, &hq, &none());
}

#[test]
fn hq_killed_during_ingest_on_sqlite_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    hq_killed_during_ingest(Hq::sqlite(dir.path()));
}

#[test]
fn hq_killed_during_ingest_on_postgresql_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(pg::shared().fresh_database());
    hq_killed_during_ingest(Hq::with_database(dir.path(), url));
}

#[test]
fn ratings_made_while_the_device_clock_is_days_off_land_on_the_right_day() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, kiosk) = enrolled(dir.path(), 25);
    let three_days = 3 * 24 * 3600;
    let out = kiosk
        .command(&["simulate", "--ratings", "20", "--timeout", "60"])
        .env("COUNTERTOP_CLOCK_SKEW_SECS", format!("-{three_days}"))
        .output()
        .unwrap();
    assert_success(&out);
    // The kiosk's own record keeps its (wrong) clock...
    let recorded = kiosk.store().ratings().unwrap();
    let age = chrono::Utc::now() - recorded[0].recorded_at;
    assert!(age > chrono::Duration::days(2), "the skew was not applied");
    let offset = kiosk.store().sync_state().unwrap().clock_offset_ms.unwrap();
    assert!(
        (offset - three_days * 1000).abs() < 60_000,
        "offset {offset} ms"
    );
    // ...and HQ files every rating under today, in the store's time zone (UTC).
    let today = chrono::Utc::now().date_naive().to_string();
    let days: BTreeSet<String> = hq
        .query("SELECT DISTINCT local_date FROM ratings")
        .into_iter()
        .collect();
    assert_eq!(days, BTreeSet::from([today]));
    assert_exactly_once(&kiosk, &hq, &none());
}

#[test]
fn a_poison_event_is_quarantined_with_its_reason_and_the_rest_flow() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, kiosk) = enrolled(dir.path(), 4);
    let poison = {
        let mut store = kiosk.store();
        for score in [5, 4, 3] {
            store
                .record_rating(&countertop::store::NewRating::now_for_test(score))
                .unwrap();
        }
        // A rating HQ will always refuse: a score of 9 on five faces.
        let body = serde_json::json!({
            "score": 9, "scale": 5, "touchpoint": "visit", "survey_version": 1
        });
        let poison = store
            .queue_event("rating", &body, chrono::Local::now().fixed_offset())
            .unwrap();
        for score in [2, 1, 5] {
            store
                .record_rating(&countertop::store::NewRating::now_for_test(score))
                .unwrap();
        }
        poison
    };
    assert_success(&kiosk.simulate(0, Duration::from_secs(60)));
    let quarantined = kiosk.store().quarantined().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].0, poison);
    assert!(
        quarantined[0].2.contains("score"),
        "reason: {}",
        quarantined[0].2
    );
    assert_eq!(kiosk.store().outbox_status().unwrap().quarantined, 1);
    assert_exactly_once(&kiosk, &hq, &BTreeSet::from([poison.to_string()]));
}

#[test]
fn a_new_survey_from_hq_applies_and_queued_answers_keep_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, kiosk) = enrolled(dir.path(), 25);
    let store_id = hq.query("SELECT id FROM stores")[0].clone();
    // Answers queued under the survey the kiosk has (version 1)...
    {
        let mut store = kiosk.store();
        for score in [5, 1] {
            store
                .record_rating(&countertop::store::NewRating::now_for_test(score))
                .unwrap();
        }
    }
    // ...then head office changes the question and the touchpoint.
    let mut survey = countertop_protocol::SurveyConfig {
        version: 2,
        touchpoint: countertop_protocol::Touchpoint::new("wait").unwrap(),
        ..Default::default()
    };
    survey
        .question
        .insert("en".into(), "How was the wait?".into());
    hq.put_survey(&store_id, &survey);

    assert_success(&kiosk.simulate(0, Duration::from_secs(60)));
    let stored = kiosk
        .store()
        .hq_survey()
        .unwrap()
        .expect("the kiosk kept HQ's survey");
    let applied: countertop_protocol::SurveyConfig = serde_json::from_str(&stored).unwrap();
    assert_eq!(applied.question["en"], "How was the wait?");
    // New taps answer the new survey; the restart only proves it is kept on disk.
    assert_success(&kiosk.simulate(3, Duration::from_secs(60)));
    let mut versions = hq.query("SELECT survey_version || ':' || touchpoint FROM ratings");
    versions.sort();
    let new = format!("{}:wait", applied.version);
    assert_ne!(applied.version, 1);
    assert_eq!(versions, ["1:visit", "1:visit", &new, &new, &new]);
    assert_exactly_once(&kiosk, &hq, &none());
}

/// The marker a fault proxy looks for in a (gunzipped) push body.
const MARKER: &str = "poison-7f3a";

/// HQ on SQLite behind a proxy obeying `rule` (enabled once the kiosk is enrolled).
fn behind_proxy(
    dir: &std::path::Path,
    batch: usize,
    rule: impl Fn(&proxy::Seen) -> proxy::Action + Send + Sync + 'static,
) -> (Hq, proxy::FaultProxy, Kiosk) {
    let mut hq = Hq::sqlite(dir);
    hq.start();
    let (_store, code) = hq.store_and_code();
    let proxy = proxy::FaultProxy::with_rule(hq.port, rule);
    let kiosk = Kiosk::new(&dir.join("kiosk"), batch);
    kiosk.enroll(&proxy.url(), &code);
    proxy.enable(true);
    (hq, proxy, kiosk)
}

/// Commits `n` ratings; the one at `poisoned` gets a comment carrying the marker.
/// Returns the id of the details event that carries it.
fn ratings_with_one_poisoned_comment(kiosk: &Kiosk, n: usize, poisoned: usize) -> String {
    let mut store = kiosk.store();
    for i in 0..n {
        let rating = store
            .record_rating(&countertop::store::NewRating::now_for_test(
                (i % 5 + 1) as i64,
            ))
            .unwrap();
        if i == poisoned {
            let details = countertop::feedback::Details {
                comment: countertop::feedback::Comment::typed(&format!("lovely {MARKER} cake")),
                ..Default::default()
            };
            store
                .attach_details(rating.id, &details, chrono::Local::now().fixed_offset())
                .unwrap();
        }
    }
    let conn = rusqlite::Connection::open(kiosk.dir.join("countertop.db")).unwrap();
    conn.query_row(
        "SELECT event_id FROM outbox WHERE kind = 'rating_details'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn count(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::Relaxed)
}

#[test]
fn a_batch_hq_fails_on_because_of_one_event_is_split_and_only_that_event_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, proxy, kiosk) = behind_proxy(dir.path(), 8, |seen| {
        if seen.is_push() && seen.body_contains(MARKER) {
            proxy::Action::ServerError
        } else {
            proxy::Action::Pass
        }
    });
    let poison = ratings_with_one_poisoned_comment(&kiosk, 20, 9);
    assert_success(&kiosk.simulate(0, Duration::from_secs(60)));

    let quarantined = kiosk.store().quarantined().unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].0.to_string(), poison);
    let reason = &quarantined[0].2;
    assert!(
        reason.contains("HQ answered 500 to this event alone"),
        "reason: {reason}"
    );
    // Every other event reached HQ once; all 20 ratings did (only the comment stayed).
    assert_exactly_once(&kiosk, &hq, &BTreeSet::from([poison]));
    // Bisection is bounded: 8-event batches, three strikes, one control push.
    let pushes = count(&proxy.stats.pushes);
    assert!(pushes <= 20, "{pushes} pushes to isolate one event");
}

#[test]
fn an_outage_where_hq_fails_every_request_backs_off_and_quarantines_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, proxy, kiosk) = behind_proxy(dir.path(), 8, |_| proxy::Action::ServerError);
    ratings_with_one_poisoned_comment(&kiosk, 10, 3);
    let before = count(&proxy.stats.requests);
    let out = kiosk.simulate(0, Duration::from_secs(4));
    assert!(
        !out.status.success(),
        "the queue cannot drain during an outage"
    );
    let store = kiosk.store();
    assert_eq!(store.outbox_status().unwrap().quarantined, 0);
    assert!(store.outbox_status().unwrap().pending >= 11);
    assert!(store.sync_state().unwrap().last_error.is_some());
    // Backoff, not a spin: at most a few dozen requests in four seconds.
    let requests = count(&proxy.stats.requests) - before;
    assert!((2..=40).contains(&requests), "{requests} requests in 4 s");
    // When HQ is back, everything flows and nothing was lost.
    proxy.enable(false);
    assert_success(&kiosk.simulate(0, Duration::from_secs(60)));
    assert_exactly_once(&kiosk, &hq, &none());
}

#[test]
fn hq_failing_every_push_while_answering_config_quarantines_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, proxy, kiosk) = behind_proxy(dir.path(), 8, |seen| {
        if seen.is_push() {
            proxy::Action::ServerError
        } else {
            proxy::Action::Pass
        }
    });
    ratings_with_one_poisoned_comment(&kiosk, 10, 3);
    let out = kiosk.simulate(0, Duration::from_secs(6));
    assert!(!out.status.success(), "no push can succeed");
    // Long enough for the first event to fail alone three times, yet no control event
    // went through, so HQ's ingest is broken as a whole and nobody is to blame.
    let pushes = count(&proxy.stats.pushes);
    assert!(pushes >= 8, "only {pushes} pushes: the test proves nothing");
    assert_eq!(kiosk.store().outbox_status().unwrap().quarantined, 0);
    proxy.enable(false);
    assert_success(&kiosk.simulate(0, Duration::from_secs(60)));
    assert_exactly_once(&kiosk, &hq, &none());
}

#[test]
fn a_push_hq_settles_only_in_part_is_sent_again_only_after_a_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, proxy, kiosk) = behind_proxy(dir.path(), 10, |seen| {
        if seen.is_push() {
            proxy::Action::KeepResults(1)
        } else {
            proxy::Action::Pass
        }
    });
    {
        let mut store = kiosk.store();
        for score in (1..=5).cycle().take(80) {
            store
                .record_rating(&countertop::store::NewRating::now_for_test(score))
                .unwrap();
        }
    }
    let simulate = kiosk
        .command(&["simulate", "--timeout", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first push", Duration::from_secs(30), || {
        count(&proxy.stats.pushes) > 0
    });
    let first = count(&proxy.stats.pushes);
    std::thread::sleep(Duration::from_secs(3));
    // Each push settles one event; re-sent at once, the other 79 events would go in as
    // many pushes within a second or two. Backing off (50 ms doubling to 500 ms) allows
    // about 15 in three seconds.
    let pushes = count(&proxy.stats.pushes) - first;
    assert!(pushes <= 20, "{pushes} pushes in 3 s");
    assert!(kiosk.store().outbox_status().unwrap().pending > 0);
    proxy.enable(false);
    assert_success(&simulate.wait_with_output().unwrap());
    assert_exactly_once(&kiosk, &hq, &none());
}

#[test]
fn an_enrollment_made_during_a_round_is_not_overwritten_by_the_old_hqs_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let survey = |version: u32, question: &str| {
        let mut survey = countertop_protocol::SurveyConfig {
            version,
            touchpoint: countertop_protocol::Touchpoint::new("visit").unwrap(),
            ..Default::default()
        };
        survey.question.insert("en".into(), question.into());
        survey
    };
    // The old HQ has moved its config cursor far; the new one only once.
    let mut old = Hq::sqlite(&dir.path().join("old"));
    std::fs::create_dir_all(&old.dir).unwrap();
    old.start();
    let (old_store, old_code) = old.store_and_code();
    for version in 2..=5 {
        old.put_survey(&old_store, &survey(version, "Old HQ's question?"));
    }
    let mut new = Hq::sqlite(&dir.path().join("new"));
    std::fs::create_dir_all(&new.dir).unwrap();
    new.start();
    let (new_store, new_code) = new.store_and_code();
    new.put_survey(&new_store, &survey(2, "New HQ's question?"));

    // The old HQ's config answer is held until the kiosk is enrolled at the new HQ.
    let held = Arc::new(AtomicBool::new(false));
    let released = Arc::new(AtomicBool::new(false));
    let (seen, release) = (held.clone(), released.clone());
    let proxy = proxy::FaultProxy::with_rule(old.port, move |request| {
        if request.is_config_pull() && !release.load(Ordering::SeqCst) {
            seen.store(true, Ordering::SeqCst);
            proxy::Action::HoldUntil(release.clone())
        } else {
            proxy::Action::Pass
        }
    });
    let kiosk = Kiosk::new(&dir.path().join("kiosk"), 25);
    kiosk.enroll(&proxy.url(), &old_code);
    proxy.enable(true);
    let simulate = kiosk
        .command(&["simulate", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the old HQ's config pull", Duration::from_secs(30), || {
        held.load(Ordering::SeqCst)
    });
    kiosk.enroll(&new.url(), &new_code);
    released.store(true, Ordering::SeqCst);
    assert_success(&simulate.wait_with_output().unwrap());
    // A round that starts under the new enrollment pulls the new HQ's survey.
    assert_success(&kiosk.simulate(0, Duration::from_secs(60)));

    let store = kiosk.store();
    assert_eq!(store.hq_link().unwrap().unwrap().hq_url, new.url());
    let applied: countertop_protocol::SurveyConfig =
        serde_json::from_str(&store.hq_survey().unwrap().expect("a survey from HQ")).unwrap();
    assert_eq!(applied.question["en"], "New HQ's question?");
    let new_cursor: u64 = new.query("SELECT config_version FROM stores")[0]
        .parse()
        .unwrap();
    assert_eq!(store.sync_state().unwrap().config_cursor, new_cursor);
}

#[test]
fn one_http_client_serves_every_round_so_connections_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (hq, proxy, kiosk) = behind_proxy(dir.path(), 25, |_| proxy::Action::Pass);
    let before = count(&proxy.stats.connections);
    let out = kiosk
        .command(&[
            "simulate",
            "--ratings",
            "8",
            "--every",
            "0.3",
            "--timeout",
            "60",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    let rounds = count(&proxy.stats.config_pulls);
    let connections = count(&proxy.stats.connections) - before;
    assert!(rounds >= 4, "only {rounds} rounds: the test proves nothing");
    assert!(
        connections <= 2,
        "{connections} TCP connections for {rounds} rounds"
    );
    assert_exactly_once(&kiosk, &hq, &none());
}
