//! The event decoder: `Event::from_value` on any JSON, and `Event` straight from bytes.
//!
//! Properties:
//! - decoding never panics, and a refusal carries one of the stable codes;
//! - an accepted event is within its limits, names the id `peek_id` reads (so HQ's answer
//!   names the event), and re-encodes to JSON that decodes to the same event;
//! - decoding from bytes and from a `serde_json::Value` agree.
#![no_main]

use countertop_protocol::event::MAX_UTC_OFFSET_MINUTES;
use countertop_protocol::{Event, EventBody};
use libfuzzer_sys::fuzz_target;

const CODES: &[&str] = &[
    "malformed_event",
    "unknown_kind",
    "invalid_utc_offset",
    "unsupported_scale",
    "score_out_of_range",
    "nps_out_of_range",
    "comment_too_long",
    "invalid_slug",
    "too_many_reasons",
    "field_too_long",
    "invalid_config",
    "invalid_regular",
    // A NUL in any string, or a lone surrogate: text no backend can store.
    "unstorable_text",
];

fn check(event: &Event, value: &serde_json::Value) {
    assert!(event.utc_offset_minutes().abs() <= MAX_UTC_OFFSET_MINUTES);
    assert_eq!(
        Event::peek_id(value),
        Some(event.id()),
        "peek_id misses the id"
    );
    assert_eq!(event.kind(), event.body().kind());
    if let EventBody::Rating(r) = event.body() {
        assert!((1..=r.scale().faces()).contains(&r.score()));
    }
    let again = serde_json::to_value(event).expect("an event serialises");
    let back = Event::from_value(again.clone()).expect("a re-encoded event decodes");
    assert_eq!(&back, event, "re-encoding changed the event");
    let text = serde_json::to_vec(event).expect("an event serialises");
    let back: Event = serde_json::from_slice(&text).expect("an event's JSON text decodes");
    assert_eq!(&back, event);
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        // serde_json skips an unknown field without checking its text is UTF-8, so only
        // valid UTF-8 (which is all JSON text) must be refused both ways. Nothing decodes an
        // event from raw bytes: HQ goes through `Value`, the kiosk reads its outbox as text.
        if std::str::from_utf8(data).is_ok() {
            assert!(serde_json::from_slice::<Event>(data).is_err());
        }
        return;
    };
    let decoded = Event::from_value(value.clone());
    match &decoded {
        Ok(event) => check(event, &value),
        Err(e) => assert!(CODES.contains(&e.code()), "unknown code {}", e.code()),
    }
    // Straight from bytes is stricter (it refuses repeated keys), never looser.
    if let Ok(direct) = serde_json::from_slice::<Event>(data) {
        assert_eq!(
            decoded.as_ref().ok(),
            Some(&direct),
            "bytes and value disagree"
        );
    }
});
