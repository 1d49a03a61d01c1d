//! A kiosk that never bricks: real kiosk processes (and a real core) on real SQLite files
//! that are damaged, truncated under a running kiosk, shared by two kiosks, or cut off in
//! the middle of an upgrade.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::{Core, Tap};
use countertop::feedback::{Scale, Score};
use countertop::store::{HqLink, NewRating, Store};
use rusqlite::Connection;
use uuid::Uuid;

fn kiosk(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countertop"));
    command
        .env_remove("COUNTERTOP_CONFIG")
        .env("COUNTERTOP_LOG", "countertop=info")
        .arg("--data")
        .arg(data);
    command
}

/// Runs `record-ratings --count n` to the end; returns the ids it printed and its stderr.
fn record(data: &Path, n: u64) -> (Vec<Uuid>, String) {
    let out = kiosk(data)
        .args(["record-ratings", "--count", &n.to_string()])
        .output()
        .expect("the kiosk binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the kiosk failed: {stderr}");
    let ids = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Uuid::parse_str(l).expect("an id per line"))
        .collect();
    (ids, stderr)
}

/// A kiosk process recording ratings until killed, and the ids it has reported so far.
struct Recorder {
    child: Child,
    ids: mpsc::Receiver<Uuid>,
}

impl Recorder {
    fn start(data: &Path) -> Recorder {
        let mut child = kiosk(data)
            .arg("record-ratings")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the kiosk binary starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, ids) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(id) = Uuid::parse_str(&line) {
                    if tx.send(id).is_err() {
                        break;
                    }
                }
            }
        });
        Recorder { child, ids }
    }

    /// Waits for `n` more ids; panics if the kiosk stops reporting.
    fn wait_for(&self, n: usize) -> Vec<Uuid> {
        (0..n)
            .map(|_| {
                self.ids
                    .recv_timeout(Duration::from_secs(30))
                    .expect("the kiosk keeps recording")
            })
            .collect()
    }

    fn kill(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        self.child.wait().expect("the child is reaped")
    }
}

/// What a test checks after the damage: every event by id, and the enrollment.
struct Before {
    events: BTreeMap<String, (i64, String, String)>,
    max_seq: i64,
    link: HqLink,
    regular: Uuid,
}

fn snapshot(path: &Path, link: HqLink, regular: Uuid) -> Before {
    let conn = Connection::open(path).unwrap();
    let events = outbox_rows(&conn);
    let max_seq = events.values().map(|e| e.0).max().unwrap_or(0);
    Before {
        events,
        max_seq,
        link,
        regular,
    }
}

fn outbox_rows(conn: &Connection) -> BTreeMap<String, (i64, String, String)> {
    let mut stmt = conn
        .prepare("SELECT event_id, seq, state, body FROM outbox")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// A kiosk database with `ratings` unsynced ratings, an enrollment and one regular who
/// consented, written by the real kiosk binary and closed cleanly (all in the main file).
fn seeded(data: &Path, ratings: u64) -> Before {
    let path = data.join("countertop.db");
    let link = HqLink {
        hq_url: "http://hq.example:8080".into(),
        device_id: Uuid::now_v7(),
        store_id: Uuid::now_v7(),
        device_token: "t".repeat(64),
    };
    let regular = {
        let mut store = Store::open(&path).unwrap();
        store.set_hq_link(&link).unwrap();
        let edit = countertop::core::RegularEdit {
            id: None,
            name: "Nguyễn Lan".into(),
            phone: Some("0901 234 567".into()),
            usual: Default::default(),
            dietary: None,
            consent_version: 1,
            dietary_consent: false,
            code: None,
        };
        let card = store
            .save_regular(&edit, chrono::Local::now().fixed_offset())
            .unwrap();
        card.regular.id()
    };
    record(data, ratings);
    snapshot(&path, link, regular)
}

fn damaged_files(data: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("countertop.db.damaged-")
        })
        .collect();
    found.sort();
    found
}

fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, at).unwrap();
    file.sync_all().unwrap();
}

/// The checks every salvage must pass: a sound file, the enrollment and the consenting
/// regular kept, every recovered event exactly as it was, and sequence numbers that
/// never go back.
fn assert_salvaged(
    data: &Path,
    before: &Before,
    new_ids: &[Uuid],
) -> BTreeMap<String, (i64, String, String)> {
    let path = data.join("countertop.db");
    let store = Store::open(&path).expect("the salvaged database opens");
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(
        store.hq_link().unwrap(),
        Some(before.link.clone()),
        "enrollment kept"
    );
    let notice = store
        .salvage_notice()
        .unwrap()
        .expect("the salvage is on record");
    let message = notice.message();
    assert!(
        message.starts_with("database was damaged and salvaged"),
        "{message}"
    );
    assert!(!message.contains("Lan"), "no personal data in the report");
    let health: Vec<String> = store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|(_, kind, _)| kind == "device_health")
        .filter_map(|(_, _, body)| body["last_error"].as_str().map(str::to_owned))
        .collect();
    assert!(
        health.contains(&message),
        "a device_health event for HQ carries the report: {health:?}"
    );
    let card = store.regular_card(before.regular).unwrap();
    if let Some(card) = card {
        assert_eq!(card.regular.consent().version, 1, "consent kept as given");
        assert_eq!(
            store.search_regulars("lan", 5).unwrap().len(),
            1,
            "the search index is rebuilt"
        );
    }
    drop(store);
    let kept = damaged_files(data);
    assert!(
        kept.iter()
            .any(|p| !p.to_string_lossy().ends_with("-wal")
                && !p.to_string_lossy().ends_with("-shm")),
        "the damaged file is kept: {kept:?}"
    );
    let after = outbox_rows(&Connection::open(&path).unwrap());
    for (id, event) in &after {
        if let Some(old) = before.events.get(id) {
            assert_eq!(event, old, "event {id} recovered exactly");
        }
    }
    for id in new_ids {
        let (seq, state, _) = after
            .get(&id.to_string())
            .expect("the new rating is queued");
        assert_eq!(state, "pending");
        assert!(*seq > before.max_seq, "seq {seq} after {}", before.max_seq);
    }
    after
}

fn pending_ids(events: &BTreeMap<String, (i64, String, String)>) -> Vec<&String> {
    events
        .iter()
        .filter(|(_, e)| e.1 == "pending")
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn a_kiosk_with_a_destroyed_header_salvages_everything_and_records_the_next_rating() {
    let dir = tempfile::tempdir().unwrap();
    let before = seeded(dir.path(), 300);
    let path = dir.path().join("countertop.db");
    let size = std::fs::metadata(&path).unwrap().len();
    overwrite(&path, 0, &[0xa5; 100]);
    let broken = Store::open(&path).err().expect("SQLite refuses the file");
    assert!(broken.to_string().contains("not a database"), "{broken}");

    let (ids, stderr) = record(dir.path(), 1);
    assert_eq!(ids.len(), 1, "{stderr}");
    assert!(stderr.contains("salvaged"), "{stderr}");
    let after = assert_salvaged(dir.path(), &before, &ids);
    let store = Store::open(&dir.path().join("countertop.db")).unwrap();
    assert!(
        store.regular_card(before.regular).unwrap().is_some(),
        "the regular is kept"
    );
    drop(store);
    // Only the header was lost, so every event is back.
    for id in pending_ids(&before.events) {
        assert!(after.contains_key(id), "event {id} lost");
    }
    let kept = &damaged_files(dir.path())[0];
    assert_eq!(
        std::fs::metadata(kept).unwrap().len(),
        size,
        "kept as it was"
    );
}

#[test]
fn a_damaged_page_in_the_middle_loses_only_its_rows_and_the_core_keeps_rating() {
    let dir = tempfile::tempdir().unwrap();
    let before = seeded(dir.path(), 2000);
    let path = dir.path().join("countertop.db");
    let pages = std::fs::metadata(&path).unwrap().len() / 4096;
    assert!(pages > 100, "{pages} pages");
    overwrite(&path, pages / 2 * 4096, &[0x5a; 4096]);

    let (core, thread) = Core::start(path.clone(), KioskConfig::default()).expect("starts");
    let mut alert = core.store_alert();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rated = runtime.block_on(async {
        // The background check reads the whole file and finds the page.
        tokio::time::timeout(
            Duration::from_secs(30),
            alert.wait_for(|a| a.salvaged.is_some()),
        )
        .await
        .expect("the damage is found and salvaged")
        .unwrap();
        core.rate(Tap {
            score: Score::new(4, Scale::FIVE).unwrap(),
            touchpoint: countertop_protocol::Touchpoint::new("visit").unwrap(),
            survey_version: 1,
        })
        .await
        .expect("the kiosk still records ratings")
    });
    drop(core);
    drop(thread);

    let after = assert_salvaged(dir.path(), &before, &[rated.recorded.id]);
    let was = pending_ids(&before.events);
    let recovered = was.iter().filter(|id| after.contains_key(**id)).count();
    // A 4 KiB page holds a few dozen outbox rows (or a few hundred index entries, which
    // lose nothing): all but those must be back.
    assert!(
        recovered + 60 >= was.len(),
        "{recovered} of {} events recovered",
        was.len()
    );
}

#[test]
fn a_damaged_wal_is_salvaged_and_the_sequence_jumps_past_anything_hq_may_have_seen() {
    let dir = tempfile::tempdir().unwrap();
    let before = seeded(dir.path(), 50);
    let path = dir.path().join("countertop.db");
    // More ratings that live only in the WAL, as after a power cut.
    let mut store = Store::open(&path).unwrap();
    for score in 1..=20 {
        store
            .record_rating(&NewRating::now_for_test(score % 5 + 1))
            .unwrap();
    }
    store.close_keeping_wal();
    let wal = dir.path().join("countertop.db-wal");
    let wal_bytes = std::fs::read(&wal).unwrap();
    assert!(wal_bytes.len() > 10 * 4120, "the WAL holds the new commits");
    // Frame 3's page content.
    overwrite(&wal, 32 + 2 * (24 + 4096) + 24 + 200, &[0x77; 64]);

    let (ids, stderr) = record(dir.path(), 1);
    assert!(stderr.contains("write-ahead log"), "{stderr}");
    let after = assert_salvaged(dir.path(), &before, &ids);
    for id in pending_ids(&before.events) {
        assert!(
            after.contains_key(id),
            "event {id} from before the WAL lost"
        );
    }
    let (seq, _, _) = &after[&ids[0].to_string()];
    assert!(
        *seq > before.max_seq + countertop::store::salvage::SEQ_GAP,
        "commits were dropped with the WAL, so the sequence jumps: {seq}"
    );
    let kept = damaged_files(dir.path());
    assert!(
        kept.iter().any(|p| p.to_string_lossy().ends_with("-wal")),
        "the damaged WAL is kept beside the file: {kept:?}"
    );
}

#[test]
fn a_file_truncated_under_a_running_kiosk_does_not_kill_it_and_the_next_start_runs() {
    let dir = tempfile::tempdir().unwrap();
    seeded(dir.path(), 500);
    let path = dir.path().join("countertop.db");
    let recorder = Recorder::start(dir.path());
    recorder.wait_for(20);
    // The card loses the end of the file while the kiosk writes.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(4096 * 3).unwrap();
    drop(file);
    // The kiosk keeps recording through it (salvaging when a write finds the damage).
    recorder.wait_for(200);
    let status = recorder.kill();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the kiosk died on its own ({status:?}), not by our kill"
    );
    let (ids, stderr) = record(dir.path(), 1);
    assert_eq!(ids.len(), 1, "{stderr}");
    assert!(
        !damaged_files(dir.path()).is_empty(),
        "the truncated file was salvaged and kept: {stderr}"
    );
    let store = Store::open(&path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert!(store.has_rating(ids[0]).unwrap());
}

#[test]
fn a_second_kiosk_on_the_same_data_directory_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = Recorder::start(dir.path());
    first.wait_for(1);
    let pid = first.child.id();
    let out: Output = kiosk(dir.path())
        .args(["record-ratings", "--count", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second kiosk ran: {stderr}");
    assert!(out.stdout.is_empty(), "the second kiosk recorded a rating");
    assert!(
        stderr.contains(&format!(
            "already using the data directory {}",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {pid}: countertop record-ratings")),
        "{stderr}"
    );
    first.kill();
    // The kernel releases the lock with the process, however it died.
    let (ids, _) = record(dir.path(), 1);
    assert_eq!(ids.len(), 1);
}

/// Starts a kiosk that stops inside migration `version`'s transaction, then SIGKILLs it.
fn power_cut_in_migration(data: &Path, version: i64) {
    let mut child = kiosk(data)
        .args(["record-ratings", "--count", "0"])
        .env("COUNTERTOP_TEST_PAUSE_IN_MIGRATION", version.to_string())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the kiosk exited early"
        );
        if line.contains(&format!("paused in migration {version}")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reached migration {version}"
        );
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    child.wait().unwrap();
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn has_table(path: &Path, table: &str) -> bool {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        > 0
}

#[test]
fn an_upgrade_killed_mid_migration_is_redone_cleanly_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("countertop.db");
    // Killed inside migration 2: the file stays at version 1, without 2's tables.
    power_cut_in_migration(dir.path(), 2);
    assert_eq!(user_version(&path), 1);
    assert!(!has_table(&path, "hq_link"));
    // A rating recorded by a version-1 kiosk, which migration 2 must carry over.
    let rating = Uuid::now_v7().to_string();
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "UPDATE device SET next_seq = 2;
             INSERT INTO ratings (id, seq, recorded_at, utc_offset_minutes, survey_version,
                                  touchpoint, scale, score)
             VALUES ('{rating}', 1, '2026-11-30T10:00:00.000+00:00', 0, 1, 'visit', 5, 4);
             INSERT INTO outbox (seq, event_id, kind, device_time, utc_offset_minutes, body)
             VALUES (1, '{rating}', 'rating', '2026-11-30T10:00:00.000Z', 0, '{{}}');"
        ))
        .unwrap();
    // Killed inside migration 4 after its version bump: still version 3, no regulars.
    power_cut_in_migration(dir.path(), 4);
    assert_eq!(user_version(&path), 3);
    assert!(has_table(&path, "hq_link") && has_table(&path, "staff_pins"));
    assert!(!has_table(&path, "regulars"));
    let conn = Connection::open(&path).unwrap();
    assert_eq!(
        conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
    drop(conn);

    let (ids, _) = record(dir.path(), 1);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), user_version(&path));
    assert!(has_table(&path, "regulars") && has_table(&path, "regular_tombstones"));
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert!(store.has_rating(Uuid::parse_str(&rating).unwrap()).unwrap());
    assert!(store.has_rating(ids[0]).unwrap());
    let rating_id: Option<String> = Connection::open(&path)
        .unwrap()
        .query_row("SELECT rating_id FROM outbox WHERE seq = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        rating_id.as_deref(),
        Some(rating.as_str()),
        "migration 2's backfill ran"
    );
    let _ = std::io::stdout().flush();
}
