//! A kiosk killed mid-stream loses nothing it reported as saved.
//!
//! A child process records ratings through the real core and prints each id once its
//! commit returns. We SIGKILL it at a random moment, many times over the same database;
//! after each kill the file must pass `PRAGMA integrity_check`, and every id the child
//! reported must be there.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use countertop::store::Store;

const KILLS: usize = 40;

/// A small xorshift generator: random kill moments without another dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn every_reported_rating_survives_sigkill_and_the_file_stays_sound() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("countertop.db");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let mut reported: HashSet<String> = HashSet::new();

    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_countertop"))
            .args(["--data", dir.path().to_str().unwrap(), "record-ratings"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the kiosk binary starts");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            // Only whole lines count: a line cut by the kill was never fully reported.
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line.ends_with('\n') {
                    lines.push(line.trim_end().to_string());
                }
                line.clear();
            }
            let _ = reader.read_to_end(&mut Vec::new());
            lines
        });
        let alive_for = Duration::from_millis(20 + rng.below(130));
        let started = Instant::now();
        while started.elapsed() < alive_for {
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill failed");
        let status = child.wait().unwrap();
        assert!(!status.success(), "round {round}: the child was not killed");
        let ids = reader.join().unwrap();
        reported.extend(ids);

        let store = Store::open(&database).expect("the database reopens after a kill");
        assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
        let stored: HashSet<String> = store
            .ratings()
            .unwrap()
            .into_iter()
            .map(|r| r.id.to_string())
            .collect();
        let missing: Vec<_> = reported.difference(&stored).collect();
        assert!(
            missing.is_empty(),
            "round {round}: reported but lost: {missing:?}"
        );
        // Every rating has its outbox event: the pair was one transaction.
        assert_eq!(store.outbox().unwrap().len(), stored.len(), "round {round}");
    }
    assert!(
        reported.len() > KILLS,
        "the child should have committed ratings before most kills (got {})",
        reported.len()
    );
}
