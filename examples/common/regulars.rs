//! Synthetic regulars for the seed example and the regulars benchmark: Vietnamese and
//! English-like names with diacritics, most with a Vietnamese mobile number, each with a
//! visit somewhere in the past year. Deterministic for a given seed.
#![allow(dead_code)]

use chrono::{Duration, Utc};
use countertop::store::Store;
use countertop_protocol::{
    Consent, Hlc, NewRegular, Regular, RegularsResponse, UsualOrder, Visit, VisitRecord,
    PROTOCOL_VERSION,
};
use uuid::Uuid;

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý",
];
const MIDDLE: &[&str] = &[
    "Thị", "Văn", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Gia", "Bảo",
];
const GIVEN: &[&str] = &[
    "Anh", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương",
    "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Nhung", "Phúc", "Phương", "Quân", "Sơn",
    "Thảo", "Trang", "Trung", "Tuấn", "Vy", "Yến", "Đào", "Tâm",
];
const FIRST: &[&str] = &[
    "James", "Emma", "Oliver", "Sophie", "Liam", "Chloé", "Noah", "Zoë", "Lucas", "Amélie", "Jack",
    "Mia", "Henry", "Isla", "Leo", "Ruby", "José", "Renée", "Björn", "Nora",
];
const LAST: &[&str] = &[
    "Smith", "Brown", "Wilson", "Taylor", "Müller", "Martin", "Dubois", "García", "O'Neill",
    "Nguyen", "Clarke", "Walker", "Hughes", "Lefèvre", "Novák", "Kowalski",
];

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(..from.len())]
}

/// A name: seven in ten Vietnamese (family, sometimes a middle name, given), the rest
/// English-like.
pub fn name(rng: &mut fastrand::Rng) -> String {
    if rng.u8(..10) < 7 {
        if rng.bool() {
            format!(
                "{} {} {}",
                pick(rng, FAMILY),
                pick(rng, MIDDLE),
                pick(rng, GIVEN)
            )
        } else {
            format!("{} {}", pick(rng, FAMILY), pick(rng, GIVEN))
        }
    } else {
        format!("{} {}", pick(rng, FIRST), pick(rng, LAST))
    }
}

/// A Vietnamese mobile number, as typed with spaces; one regular in seven gives none.
pub fn phone(rng: &mut fastrand::Rng) -> Option<String> {
    (rng.u8(..7) != 0).then(|| {
        format!(
            "09{} {:03} {:03}",
            rng.u8(0..10),
            rng.u16(0..1000),
            rng.u16(0..1000)
        )
    })
}

/// `count` regulars as pages a pull from HQ would bring, applied through the real store
/// (profiles, index, one visit each), 5,000 at a time. Returns the phones given.
pub fn seed(store: &mut Store, count: usize, seed: u64) -> anyhow::Result<Vec<String>> {
    seed_in_pages(store, count, seed, 5000)
}

/// Like [`seed`], `page` regulars per page (HQ sends 500).
pub fn seed_in_pages(
    store: &mut Store,
    count: usize,
    seed: u64,
    page: usize,
) -> anyhow::Result<Vec<String>> {
    Ok(seed_in_pages_timed(store, count, seed, page)?.0)
}

/// How long applying the seed took: each page, and each of the parts
/// (`countertop::store::pull_parts`) the core applies one transaction each, taking other
/// commands between them: a part is how long a tap waits behind a pull.
#[derive(Debug, Default, Clone)]
pub struct Timings {
    pub pages: Vec<std::time::Duration>,
    pub parts: Vec<std::time::Duration>,
}

/// Like [`seed_in_pages`], each page applied in parts as the kiosk's pull does, and timed.
pub fn seed_in_pages_timed(
    store: &mut Store,
    count: usize,
    seed: u64,
    page: usize,
) -> anyhow::Result<(Vec<String>, Timings)> {
    let mut timings = Timings::default();
    let page = page.max(1);
    let mut rng = fastrand::Rng::with_seed(seed);
    let node = Uuid::now_v7();
    let now = Utc::now();
    let mut phones = Vec::new();
    let first_cursor = store.regulars_cursor()? + 1;
    for (cursor, start) in (first_cursor..).zip((0..count).step_by(page)) {
        let mut profiles = Vec::with_capacity(page);
        let mut visits = Vec::with_capacity(page);
        for i in start..(start + page).min(count) {
            let phone = phone(&mut rng);
            if let Some(p) = &phone {
                phones.push(countertop_protocol::phone_digits(p));
            }
            let given_at = now - Duration::days(400);
            let regular = Regular::new(NewRegular {
                regular_id: Uuid::now_v7(),
                hlc: Hlc::tick(None, given_at.timestamp_millis() + i as i64, node),
                name: name(&mut rng),
                phone,
                usual: UsualOrder::default(),
                dietary: None,
                consent: Consent {
                    version: 1,
                    given_at,
                    dietary_given_at: None,
                },
                code_hash: None,
            })?;
            visits.push(VisitRecord {
                id: Uuid::now_v7(),
                at: now - Duration::seconds(rng.i64(0..365 * 86_400)),
                visit: Visit {
                    regular_id: regular.id(),
                    rating_id: None,
                    unhappy: None,
                },
            });
            profiles.push(regular);
        }
        let pulled = RegularsResponse {
            protocol: PROTOCOL_VERSION,
            cursor,
            more: false,
            profiles,
            visits,
            erased: vec![],
            server_time: now,
        };
        let started = std::time::Instant::now();
        for part in countertop::store::pull_parts(&pulled, countertop::store::PULL_PART) {
            let part_started = std::time::Instant::now();
            store.apply_pull_part(&part)?;
            timings.parts.push(part_started.elapsed());
        }
        timings.pages.push(started.elapsed());
    }
    Ok((phones, timings))
}
