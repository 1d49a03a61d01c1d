//! A kiosk upgraded with a full queue loses nothing: outbox rows written by the version
//! before the kiosk built its events from `countertop_protocol` (its own `RatingBody` and
//! `DetailsBody` structs) still decode as protocol events and reach a real HQ, with their
//! reasons and comments.

#[path = "common/hq.rs"]
mod hq;

use std::collections::BTreeSet;
use std::time::Duration;

use hq::{assert_exactly_once, Hq, Kiosk};
use rusqlite::{params, Connection};
use uuid::Uuid;

/// Writes a rating and its outbox row as the old kiosk did, byte for byte: the old
/// `RatingBody` serialized its fields in this order, with no `reasons`.
fn old_rating(conn: &Connection, score: u8) -> Uuid {
    let id = Uuid::now_v7();
    let seq = next_seq(conn);
    conn.execute(
        "INSERT INTO ratings (id, seq, recorded_at, utc_offset_minutes, survey_version,
                              touchpoint, scale, score, suspected_repeat)
         VALUES (?1, ?2, '2026-11-30T09:00:00.000+07:00', 420, 1, 'visit', 5, ?3, 0)",
        params![id.to_string(), seq, score],
    )
    .unwrap();
    let body = format!(
        r#"{{"score":{score},"scale":5,"touchpoint":"visit","survey_version":1,"suspected_repeat":false}}"#
    );
    queue(conn, seq, id, "rating", &body, id);
    id
}

/// The old `DetailsBody`: `comment` was written as `null` when there was none.
fn old_details(conn: &Connection, rating: Uuid, reasons: &str, comment: &str) {
    let seq = next_seq(conn);
    let body = format!(r#"{{"rating_id":"{rating}","reasons":{reasons},"comment":{comment}}}"#);
    queue(conn, seq, Uuid::now_v7(), "rating_details", &body, rating);
}

fn next_seq(conn: &Connection) -> i64 {
    conn.query_row(
        "UPDATE device SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn queue(conn: &Connection, seq: i64, id: Uuid, kind: &str, body: &str, rating: Uuid) {
    conn.execute(
        "INSERT INTO outbox (seq, event_id, kind, device_time, utc_offset_minutes, body, rating_id)
         VALUES (?1, ?2, ?3, '2026-11-30T02:00:00.000Z', 420, ?4, ?5)",
        params![seq, id.to_string(), kind, body, rating.to_string()],
    )
    .unwrap();
}

#[test]
fn outbox_rows_written_before_the_protocol_events_still_reach_hq_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut hq = Hq::sqlite(dir.path());
    hq.start();
    let (_store, code) = hq.store_and_code();
    let kiosk = Kiosk::new(&dir.path().join("kiosk"), 3);
    kiosk.enroll(&hq.url(), &code);
    let (happy, unhappy, plain) = {
        let conn = Connection::open(kiosk.dir.join("countertop.db")).unwrap();
        let happy = old_rating(&conn, 5);
        old_details(&conn, happy, r#"["tasty","fast_service"]"#, "null");
        let unhappy = old_rating(&conn, 1);
        old_details(
            &conn,
            unhappy,
            r#"["slow_service"]"#,
            r#""waited 20 minutes""#,
        );
        let plain = old_rating(&conn, 3);
        (happy, unhappy, plain)
    };
    // Each old row reads as the protocol event HQ parses.
    for event in kiosk.store().pending_batch(10).unwrap() {
        let decoded = event.to_event(chrono::Duration::zero());
        assert!(decoded.is_ok(), "row {}: {decoded:?}", event.seq);
    }

    let out = kiosk.simulate(0, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "simulate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_exactly_once(&kiosk, &hq, &BTreeSet::new());
    assert_eq!(kiosk.store().outbox_status().unwrap().quarantined, 0);
    let scores = hq.query("SELECT id || ':' || score FROM ratings ORDER BY id");
    assert_eq!(
        scores,
        [
            format!("{happy}:5"),
            format!("{unhappy}:1"),
            format!("{plain}:3")
        ]
    );
    let reasons = hq
        .query("SELECT rating_id || ':' || reason FROM rating_reasons ORDER BY rating_id, reason");
    assert_eq!(
        reasons,
        [
            format!("{happy}:fast_service"),
            format!("{happy}:tasty"),
            format!("{unhappy}:slow_service")
        ]
    );
    assert_eq!(
        hq.query("SELECT rating_id || ':' || comment FROM rating_comments"),
        [format!("{unhappy}:waited 20 minutes")]
    );
}
