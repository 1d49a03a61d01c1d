//! Regulars' profiles: `NewRegular` and `Regular` from JSON, and `Regular::new`.
//!
//! The first byte chooses how the rest is read: as JSON text, or as the fields of a
//! profile built with `arbitrary` (which reaches the validation rules far more often than
//! mutated JSON does). Properties:
//! - nothing panics;
//! - a profile that validates is normalised once and for all (validating it again changes
//!   nothing), serialises and re-parses to an equal value, and keeps every limit;
//! - `Regular` from JSON accepts exactly what `NewRegular` + `Regular::new` accept;
//! - `Debug` never shows a name, phone or note.
#![no_main]

use chrono::{DateTime, Utc};
use countertop_protocol::regular::{MAX_EXTRAS, MAX_NAME_CHARS, MAX_NOTE_CHARS, PHONE_DIGITS};
use countertop_protocol::{Consent, Hlc, NewRegular, ReasonSlug, Regular, UsualOrder};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fn time(u: &mut Unstructured<'_>) -> Result<DateTime<Utc>> {
    let secs = u.int_in_range(0..=4_102_444_800i64)?;
    Ok(DateTime::from_timestamp(secs, 0).unwrap_or_default())
}

fn slug(u: &mut Unstructured<'_>) -> Result<Option<ReasonSlug>> {
    let s: String = u.arbitrary()?;
    Ok(ReasonSlug::new(s).ok())
}

fn arbitrary_profile(u: &mut Unstructured<'_>) -> Result<NewRegular> {
    Ok(NewRegular {
        regular_id: Uuid::from_bytes(u.arbitrary()?),
        hlc: Hlc {
            wall_ms: if u.arbitrary()? {
                u.int_in_range(0..=Hlc::MAX_WALL_MS)?
            } else {
                u.arbitrary()?
            },
            counter: u.arbitrary()?,
            node: Uuid::from_bytes(u.arbitrary()?),
        },
        name: u.arbitrary()?,
        phone: u.arbitrary()?,
        usual: UsualOrder {
            item: slug(u)?,
            size: slug(u)?,
            milk: slug(u)?,
            extras: (0..u.int_in_range(0..=10)?)
                .filter_map(|_| slug(u).ok().flatten())
                .collect(),
            note: u.arbitrary()?,
        },
        dietary: u.arbitrary()?,
        consent: Consent {
            version: u.arbitrary()?,
            given_at: time(u)?,
            dietary_given_at: if u.arbitrary()? { Some(time(u)?) } else { None },
        },
        code_hash: u.arbitrary()?,
    })
}

fn check_limits(r: &Regular) {
    assert!(
        r.hlc().in_range(),
        "a profile stamped outside the text form's range"
    );
    assert!(!r.name().is_empty() && r.name() == r.name().trim());
    assert!(r.name().chars().count() <= MAX_NAME_CHARS);
    if let Some(p) = r.phone() {
        assert!(PHONE_DIGITS.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    }
    assert!(r.usual().extras.len() <= MAX_EXTRAS);
    for note in [r.usual().note.as_deref(), r.dietary()]
        .into_iter()
        .flatten()
    {
        assert!(!note.is_empty() && note == note.trim());
        assert!(note.chars().count() <= MAX_NOTE_CHARS);
    }
    if r.dietary().is_some() {
        assert!(r.consent().dietary_given_at.is_some());
    }
}

fn check(new: NewRegular) {
    let validated = Regular::new(new.clone());
    let json = serde_json::to_vec(&new).expect("a profile serialises");
    let direct = serde_json::from_slice::<Regular>(&json);
    assert_eq!(
        validated.as_ref().ok(),
        direct.as_ref().ok(),
        "JSON and new() disagree"
    );
    let Ok(r) = validated else { return };
    check_limits(&r);
    assert_eq!(
        Regular::new(r.to_new()).as_ref(),
        Ok(&r),
        "validation is not idempotent"
    );
    let text = serde_json::to_string(&r).expect("a profile serialises");
    let back: Regular = serde_json::from_str(&text).expect("a valid profile re-parses");
    assert_eq!(back, r, "round trip changed the profile");
    // Debug shows the same whatever the personal fields hold.
    let mut masked = r.to_new();
    masked.name = "n".into();
    masked.phone = masked.phone.map(|_| "000000".into());
    masked.usual.note = masked.usual.note.map(|_| "n".into());
    masked.dietary = masked.dietary.map(|_| "n".into());
    let masked_new = masked.clone();
    let masked = Regular::new(masked).expect("the masked profile is valid");
    assert_eq!(
        format!("{r:?}"),
        format!("{masked:?}"),
        "Debug shows personal data"
    );
    assert_eq!(format!("{:?}", r.to_new()), format!("{masked_new:?}"));
    assert_eq!(format!("{:?}", r.usual()), format!("{:?}", masked.usual()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(new) = serde_json::from_slice::<NewRegular>(rest) {
            check(new);
        } else {
            assert!(serde_json::from_slice::<Regular>(rest).is_err());
        }
    } else if let Ok(new) = arbitrary_profile(&mut Unstructured::new(rest)) {
        check(new);
    }
});
