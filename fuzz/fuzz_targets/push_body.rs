//! The push body (`POST /api/v1/events`) exactly as HQ decodes it: the wire limit and
//! `Content-Encoding` ([`countertop_hq::body::decode`]), the push request, then
//! [`countertop_hq::ingest::parse_batch`] over its events, in a fixed time zone at a fixed
//! time.
//!
//! The first byte chooses how the rest is sent, so both paths get coverage:
//! - `% 3 == 0`: a plain JSON body;
//! - `% 3 == 1`: the rest is the gzip stream itself (the decoder meets broken and hostile
//!   streams: truncated, bombs);
//! - `% 3 == 2`: the target gzips the rest (JSON mutations reach the parser through gzip).
//!
//! Its other bits pick the header spelling, or an encoding HQ does not support.
//!
//! Properties: nothing panics; every refusal is a 4xx with a stable code (never a 5xx);
//! gzip undoes exactly and never inflates past the decoded limit; `parse_batch` answers once
//! per event, in order, names the id `peek_id` reads, keeps only the first copy of an id,
//! and builds rows within their ranges; a push the kiosk's own type accepts has no event
//! refused as malformed.
#![no_main]

use std::collections::HashSet;
use std::io::Write;

use chrono::{DateTime, Utc};
use countertop_hq::error::ApiError;
use countertop_hq::ingest::{parse_batch, Parsed, FLAG_FUTURE};
use countertop_hq::routes::events::IncomingPush;
use countertop_hq::Limits;
use countertop_protocol::{Event, EventOutcome, PushRequest, PROTOCOL_VERSION};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_body_bytes: 64 * 1024,
    max_decoded_bytes: 256 * 1024,
    max_events: 1000,
};

const DECODE_CODES: &[&str] = &[
    "body_too_large",
    "bad_gzip",
    "decoded_body_too_large",
    "unsupported_content_encoding",
];

const KINDS: &[&str] = &[
    "rating",
    "rating_details",
    "device_health",
    "regular_upserted",
    "visit",
    "regular_erased",
];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

fn check_refusal(e: ApiError) {
    match e {
        ApiError::Client { status, code, .. } => {
            assert!(status.is_client_error(), "{code} answered {status}");
            assert!(DECODE_CODES.contains(&code), "unexpected code {code}");
        }
        other => panic!("decoding failed with a server error: {other:?}"),
    }
}

fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_464_000, 0).expect("a fixed time") // 2026-11-23T20:00Z
}

fn check_batch(events: Vec<Box<serde_json::value::RawValue>>, strict: bool) {
    let received_at = received_at();
    let ids: Vec<_> = events.iter().map(|e| Event::peek_id_json(e.get())).collect();
    let parsed = parse_batch(events, chrono_tz::Europe::London, received_at);
    assert_eq!(parsed.len(), ids.len(), "one answer per event");
    let mut seen = HashSet::new();
    for ((id, p), peeked) in parsed.iter().zip(ids) {
        assert_eq!(*id, peeked);
        match p {
            Parsed::Store(item) => {
                assert_eq!(*id, Some(item.id), "an accepted event must be named");
                assert!(seen.insert(item.id), "a second copy of an id was kept");
                assert!(KINDS.contains(&item.kind.as_str()));
                assert!(item.seq >= 0);
                assert!(item.flags.is_empty() || item.flags == FLAG_FUTURE);
                if let Some(r) = &item.rating {
                    assert!(r.local_hour < 24);
                    assert!((1..=r.scale).contains(&r.score));
                    assert!(r.nps.is_none_or(|n| n <= 10));
                    assert!(r.occurred_at <= item.device_time.max(received_at));
                    if !item.flags.is_empty() {
                        assert_eq!(r.occurred_at, received_at);
                    }
                }
                assert_eq!(item.body.is_some(), item.kind == "device_health");
            }
            Parsed::Decided(EventOutcome::Duplicate) => {
                let id = id.expect("a duplicate has an id");
                assert!(seen.contains(&id), "a duplicate of nothing earlier");
            }
            Parsed::Decided(EventOutcome::Rejected { code, reason }) => {
                assert!(!code.is_empty() && !reason.is_empty());
                if strict {
                    assert!(
                        code == "seq_out_of_range" || code == "unstorable_text",
                        "a valid event was refused: {code}: {reason}"
                    );
                }
            }
            Parsed::Decided(EventOutcome::Accepted { .. }) => {
                panic!("parse_batch never accepts on its own")
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let spelling = usize::from(mode >> 2) % 4;
    let (raw, encoding) = match mode % 3 {
        0 => (
            rest.to_vec(),
            [None, Some("identity"), Some(" Identity "), Some("br")][spelling],
        ),
        1 => (
            rest.to_vec(),
            [Some("gzip"), Some("GZIP"), Some(" gzip "), Some("deflate")][spelling],
        ),
        _ => (
            gzip(rest),
            [Some("gzip"), Some("GZIP"), Some(" gzip "), Some("x-gzip")][spelling],
        ),
    };
    let supported = spelling < 3;
    let decoded = match countertop_hq::body::decode(&raw, encoding, &LIMITS) {
        Ok(decoded) => decoded,
        Err(e) => {
            check_refusal(e);
            return;
        }
    };
    assert!(supported, "{encoding:?} was accepted");
    assert!(decoded.len() <= LIMITS.max_decoded_bytes.max(LIMITS.max_body_bytes));
    if mode % 3 != 1 {
        assert_eq!(decoded, rest, "decoding did not give back what was sent");
    }

    let Ok(push) = serde_json::from_slice::<IncomingPush>(&decoded) else {
        return;
    };
    if PROTOCOL_VERSION.check_compatible(push.protocol).is_err()
        || push.events.len() > LIMITS.max_events
    {
        return;
    }
    // A push the kiosk's own type reads (every event valid) must be refused nothing but
    // what HQ's storage cannot hold.
    let strict = serde_json::from_slice::<PushRequest>(&decoded).is_ok();
    check_batch(push.events, strict);
});
