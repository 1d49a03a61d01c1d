//! Fills a kiosk database with synthetic ratings, for start-up and scale benchmarks.
//!
//! `cargo run --release --example seed -- DATA_DIR 1000000 [--pending] [--regulars N]`
//!
//! With `--pending` the ratings wait in the outbox as if never synced (a backlog);
//! otherwise they are marked as acknowledged by HQ. With `--regulars N` it also stores N
//! synthetic regulars (Vietnamese and English-like names with diacritics, phones, one
//! visit each), applied through the store the way a pull from HQ brings them.
//!
//! It opens the database through the real store (so the schema is current), then bulk
//! inserts ratings and their outbox rows in one transaction. Not a kiosk code path: a tap
//! commits one rating at a time.

#[path = "common/regulars.rs"]
mod synthetic;

use anyhow::{Context, Result};
use rusqlite::params;

const USAGE: &str = "usage: seed DATA_DIR COUNT [--pending] [--regulars N]";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().context(USAGE)?;
    let count: i64 = args.next().context(USAGE)?.parse()?;
    let mut state = "acked";
    let mut regulars = 0usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--pending" => state = "pending",
            "--regulars" => regulars = args.next().context(USAGE)?.parse()?,
            other => anyhow::bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    let path = std::path::Path::new(&dir).join("countertop.db");
    let mut store = countertop::store::Store::open(&path)?;
    if regulars > 0 {
        synthetic::seed(&mut store, regulars, 7)?;
        println!("{regulars} regulars in {}", path.display());
    }
    drop(store);

    let mut conn = rusqlite::Connection::open(&path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")?;
    let tx = conn.transaction()?;
    let first: i64 = tx.query_row("SELECT next_seq FROM device", [], |r| r.get(0))?;
    let start = chrono::Utc::now() - chrono::Duration::days(365);
    {
        let mut rating = tx.prepare(
            "INSERT INTO ratings (id, seq, recorded_at, utc_offset_minutes, survey_version,
                                  touchpoint, scale, score, suspected_repeat)
             VALUES (?1, ?2, ?3, 420, 1, 'visit', 5, ?4, 0)",
        )?;
        let mut outbox = tx.prepare(
            "INSERT INTO outbox (seq, event_id, kind, device_time, utc_offset_minutes, body, state,
                                 rating_id)
             VALUES (?1, ?2, 'rating', ?3, 420, ?4, ?5, ?2)",
        )?;
        for i in 0..count {
            let seq = first + i;
            let id = uuid::Uuid::now_v7().to_string();
            let at = (start + chrono::Duration::seconds(i * 31_536_000 / count.max(1)))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let score = i % 5 + 1;
            rating.execute(params![id, seq, at, score])?;
            let body = format!(
                r#"{{"score":{score},"scale":5,"touchpoint":"visit","survey_version":1,"suspected_repeat":false}}"#
            );
            outbox.execute(params![seq, id, at, body, state])?;
        }
    }
    tx.execute("UPDATE device SET next_seq = ?1", [first + count])?;
    tx.commit()?;
    println!("{count} ratings in {}", path.display());
    Ok(())
}
