//! The hybrid logical clock's text form, as both databases store and compare it.
//!
//! The input is read twice:
//! - as text: two lines, each given to `Hlc::from_sortable`. It must never panic, what it
//!   accepts must be exactly `to_sortable`'s output (so no two texts name one clock), and
//!   for two accepted texts byte order must be clock order (HQ's last-writer-wins compares
//!   the text, the kiosk compares the parsed clock: they must agree);
//! - as two arbitrary clocks: each one a profile may carry must round-trip through JSON
//!   and the text form, their texts must order like the clocks, and a local edit after
//!   seeing one must order after it.
#![no_main]

use countertop_protocol::Hlc;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

/// The largest wall time the text form holds (15 digits).
const MAX_WALL_MS: i64 = Hlc::MAX_WALL_MS;

fn check_text(text: &str) -> Option<Hlc> {
    let hlc = Hlc::from_sortable(text)?;
    assert_eq!(
        hlc.to_sortable(),
        text,
        "accepted a non-canonical text form"
    );
    assert_eq!(Hlc::from_sortable(&hlc.to_sortable()), Some(hlc));
    Some(hlc)
}

fn arbitrary_hlc(u: &mut Unstructured<'_>) -> Result<Hlc> {
    Ok(Hlc {
        wall_ms: u.arbitrary()?,
        counter: u.arbitrary()?,
        node: Uuid::from_bytes(u.arbitrary()?),
    })
}

/// A clock a profile may carry: `None` when `Regular::new` would refuse it (its wall time
/// is outside what the text form holds). It must survive JSON and the text form.
fn from_wire(hlc: Hlc) -> Option<Hlc> {
    if !hlc.in_range() {
        return None;
    }
    let json = serde_json::to_value(hlc).expect("a clock serialises");
    let parsed: Hlc = serde_json::from_value(json).expect("a clock re-parses");
    assert_eq!(parsed, hlc, "the wire form changed the clock");
    let text = hlc.to_sortable();
    assert_eq!(
        Hlc::from_sortable(&text),
        Some(hlc),
        "text form lost {hlc:?}"
    );
    Some(hlc)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut lines = text.splitn(2, '\n');
        let a = lines.next().and_then(|a| Some((a, check_text(a)?)));
        let b = lines.next().and_then(|b| Some((b, check_text(b)?)));
        if let (Some((ta, a)), Some((tb, b))) = (a, b) {
            assert_eq!(ta.cmp(tb), a.cmp(&b), "text order differs from clock order");
        }
    }

    let mut u = Unstructured::new(data);
    let (Ok(a), Ok(b)) = (arbitrary_hlc(&mut u), arbitrary_hlc(&mut u)) else {
        return;
    };
    if let (Some(a), Some(b)) = (from_wire(a), from_wire(b)) {
        assert_eq!(
            a.to_sortable().cmp(&b.to_sortable()),
            a.cmp(&b),
            "text order differs from clock order for {a:?} and {b:?}"
        );
    }
    // A local edit after seeing `b` orders after `b`, in both forms, unless `b` is the
    // very last stamp the text form can hold.
    if let Some(b) = from_wire(b) {
        let seen = Hlc::observe(Some(a).and_then(from_wire), b);
        let next = Hlc::tick(Some(seen), a.wall_ms, a.node);
        let at_the_end = seen.wall_ms == MAX_WALL_MS && seen.counter == u32::MAX;
        assert!(
            next > seen || at_the_end,
            "{next:?} does not follow {seen:?}"
        );
        let next = from_wire(next).expect("a tick is a valid clock");
        assert!(next.to_sortable() > seen.to_sortable() || at_the_end);
    }
});
