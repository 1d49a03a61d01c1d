//! Demo data, so a newcomer's first look at the dashboard is not an empty page: 30 days of
//! plausible history for three cafés (two in Vietnam, one in London), pushed through the
//! same parsing and ingest code a kiosk's push goes through ([`crate::ingest::parse_batch`]
//! then [`Storage::ingest`]), never by raw inserts.
//!
//! The history is generated from a seed ([`DemoOptions::seed`]) by a portable RNG, so the
//! same seed gives the same ratings; event ids and device ids are derived from the seed
//! too, so loading twice stores nothing new (every event comes back `duplicate`). Stores
//! are found again by name, kiosks by id, the admin by email.
//!
//! The shape: mornings busy, a lunch bump, quiet evenings, weekends busier; at "Cà Phê Hồ
//! Tây" Tuesday afternoons go badly (slow service, complaints in both languages); reasons,
//! comments and NPS answers in English and Vietnamese; four kiosks with device health, one
//! of them offline for two days with a backlog and an error.

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, value::RawValue, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::admin::{self, AdminError};
use crate::ingest::{parse_batch, Parsed};
use crate::storage::accounts::Role;
use crate::storage::hours::OpeningHours;
use crate::storage::{DeviceRecord, Redeemed, Storage, StorageError, Stored};
use crate::web::users::{self, UserError};

/// The demo's default seed: `countertop-hq demo` without `--seed`.
pub const DEFAULT_SEED: u64 = 2026;
/// Days of history, today included.
pub const DAYS: u32 = 30;
/// The demo admin's sign-in (printed by `countertop-hq demo` and `./dev.sh run`).
pub const ADMIN_EMAIL: &str = "demo@countertop.example";
pub const ADMIN_PASSWORD: &str = "countertop-demo";

/// Why loading the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("the demo admin: {0}")]
    User(#[from] UserError),
    #[error("a demo kiosk could not enroll: {0:?}")]
    Enroll(Redeemed),
    #[error("a demo event was refused: {0}")]
    Refused(String),
    #[error("the demo store time zone {0:?} is unknown")]
    Timezone(String),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    /// The end of the history (normally now).
    pub now: DateTime<Utc>,
    /// Create this admin (email, password) unless an account with that email exists.
    pub admin: Option<(String, String)>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: DEFAULT_SEED,
            now: Utc::now(),
            admin: Some((ADMIN_EMAIL.to_owned(), ADMIN_PASSWORD.to_owned())),
        }
    }
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// The demo stores, first the one `./dev.sh run` enrolls its kiosk to.
    pub stores: Vec<(Uuid, String)>,
    pub accepted: u64,
    pub duplicates: u64,
    pub admin_created: bool,
}

struct StorePlan {
    name: &'static str,
    timezone: &'static str,
    /// Mean ratings per open hour at the busiest time.
    peak: f64,
    /// Shift of the score mix: positive is happier.
    mood: f64,
    bad_tuesday_afternoon: bool,
    asks_nps: bool,
    kiosks: &'static [KioskPlan],
}

struct KioskPlan {
    name: &'static str,
    /// Share of the store's taps.
    share: f64,
    app_version: &'static str,
    /// How far behind HQ its clock runs, in seconds.
    clock_behind: i64,
    /// Offline for this many hours before now (it has not pushed since).
    offline_hours: Option<i64>,
}

const PLANS: &[StorePlan] = &[
    StorePlan {
        name: "Corner Coffee",
        timezone: "Asia/Ho_Chi_Minh",
        peak: 14.0,
        mood: 0.3,
        bad_tuesday_afternoon: false,
        asks_nps: true,
        kiosks: &[
            KioskPlan {
                name: "Counter",
                share: 0.7,
                app_version: "0.9.0",
                clock_behind: 2,
                offline_hours: None,
            },
            KioskPlan {
                name: "Takeaway window",
                share: 0.3,
                app_version: "0.8.2",
                clock_behind: 95,
                offline_hours: Some(50),
            },
        ],
    },
    StorePlan {
        name: "Cà Phê Hồ Tây",
        timezone: "Asia/Ho_Chi_Minh",
        peak: 11.0,
        mood: 0.0,
        bad_tuesday_afternoon: true,
        asks_nps: false,
        kiosks: &[KioskPlan {
            name: "Quầy thu ngân",
            share: 1.0,
            app_version: "0.9.0",
            clock_behind: 0,
            offline_hours: None,
        }],
    },
    StorePlan {
        name: "Harbour Lane Coffee",
        timezone: "Europe/London",
        peak: 9.0,
        mood: -0.2,
        bad_tuesday_afternoon: false,
        asks_nps: true,
        kiosks: &[KioskPlan {
            name: "Till",
            share: 1.0,
            app_version: "0.9.0",
            clock_behind: -4,
            offline_hours: None,
        }],
    },
];

const PRAISE: &[&str] = &[
    "fast_service",
    "tasty",
    "good_value",
    "friendly_staff",
    "nice_place",
];
const PROBLEMS: &[&str] = &["slow_service", "quality", "price", "staff", "cleanliness"];

const HAPPY_COMMENTS: &[&str] = &[
    "Best flat white in the area, thank you!",
    "Lovely staff, always remember my order.",
    "Quick and friendly, as always.",
    "Cà phê sữa đá rất ngon, sẽ quay lại!",
    "Nhân viên dễ thương, phục vụ nhanh.",
    "Không gian yên tĩnh, hợp để làm việc.",
];
const MIXED_COMMENTS: &[&str] = &[
    "Good coffee but the music was too loud.",
    "Fine, a bit pricey for the size.",
    "Bánh mì hơi nguội, cà phê thì ổn.",
    "Wifi yếu quá.",
];
const UNHAPPY_COMMENTS: &[&str] = &[
    "Waited 20 minutes for a latte.",
    "Only one barista on a busy afternoon, queue to the door.",
    "Tables were sticky and nobody cleaned them.",
    "Chờ lâu quá, gần 20 phút mới có nước.",
    "Đông mà chỉ có một nhân viên pha chế.",
    "Bàn bẩn, không ai dọn.",
];

/// Load (or top up) the demo. Safe to run again: nothing is stored twice.
pub async fn load(storage: &dyn Storage, options: &DemoOptions) -> Result<DemoReport, DemoError> {
    let mut report = DemoReport::default();
    let existing = storage.stores().await?;
    for (index, plan) in PLANS.iter().enumerate() {
        let store_id = match existing.iter().find(|s| s.name == plan.name) {
            Some(s) => s.id,
            None => {
                let id = admin::add_store(storage, plan.name, plan.timezone).await?;
                // A café's hours, so a kiosk quiet at night is not "offline".
                let hours = OpeningHours::parse_days(&["06:30-21:30"; 7])
                    .map_err(|e| DemoError::Refused(e.to_string()))?;
                storage.set_opening_hours(id, &hours).await?;
                if plan.asks_nps {
                    ask_nps(storage, id).await?;
                }
                id
            }
        };
        report.stores.push((store_id, plan.name.to_owned()));
        let (accepted, duplicates) = load_store(storage, options, index, plan, store_id).await?;
        report.accepted += accepted;
        report.duplicates += duplicates;
    }
    if let Some((email, password)) = &options.admin {
        if storage.user_by_email(email).await?.is_none() {
            users::add_user(storage, email, Role::Admin, &[], Some(password)).await?;
            report.admin_created = true;
        }
    }
    Ok(report)
}

/// Turn on the NPS question of a new demo store's survey.
async fn ask_nps(storage: &dyn Storage, store_id: Uuid) -> Result<(), DemoError> {
    let Some(store) = storage.store(store_id).await? else {
        return Err(StorageError::NoSuchStore(store_id).into());
    };
    let mut config = store.config;
    config.nps_question = Some(
        [
            (
                "en".to_owned(),
                "How likely are you to recommend us to a friend?".to_owned(),
            ),
            (
                "vi".to_owned(),
                "Bạn có muốn giới thiệu quán cho bạn bè không?".to_owned(),
            ),
        ]
        .into(),
    );
    storage.set_config(store_id, &config).await?;
    Ok(())
}

/// An id derived from the seed and a path of numbers: the same every load.
fn derived_id(seed: u64, path: &[u64]) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(b"countertop demo");
    hash.update(seed.to_le_bytes());
    for p in path {
        hash.update(p.to_le_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The demo kiosk's device record, enrolling it (through a one-time code, as a kiosk
/// would) the first time.
async fn demo_device(
    storage: &dyn Storage,
    id: Uuid,
    name: &str,
    store_id: Uuid,
    timezone: &str,
) -> Result<DeviceRecord, DemoError> {
    let known = storage.devices(Some(&[store_id])).await?;
    if !known.iter().any(|d| d.device_id == id) {
        let code = admin::issue_enroll_code(storage, store_id, Duration::minutes(5)).await?;
        let code_hash = crate::secrets::hash_secret(&crate::secrets::normalize_enroll_code(&code));
        // The demo kiosks never push over HTTP: their token is thrown away.
        let token = crate::secrets::new_token().map_err(AdminError::from)?;
        let redeemed = storage
            .redeem_enroll_code(
                &code_hash,
                Utc::now(),
                id,
                Some(name),
                &crate::secrets::hash_secret(&token),
            )
            .await?;
        if !matches!(redeemed, Redeemed::Enrolled { .. }) {
            return Err(DemoError::Enroll(redeemed));
        }
    }
    Ok(DeviceRecord {
        id,
        store_id,
        store_timezone: timezone.to_owned(),
        revoked: false,
    })
}

/// How busy an hour is, relative to the peak (local hour, Monday = 0).
fn traffic(hour: u32, weekday: u32) -> f64 {
    let by_hour = match hour {
        7 => 0.7,
        8 => 1.0,
        9 => 0.9,
        10 => 0.55,
        11 => 0.6,
        12 => 0.75,
        13 => 0.6,
        14 => 0.45,
        15 => 0.5,
        16 => 0.45,
        17 => 0.4,
        18 => 0.3,
        19 => 0.25,
        20 => 0.2,
        _ => 0.0,
    };
    let by_day = match weekday {
        5 => 1.25,
        6 => 1.15,
        4 => 1.05,
        _ => 0.95,
    };
    by_hour * by_day
}

/// A score from 1 to 5: `mood` shifts the mix, a bad spell turns it sour.
fn score(rng: &mut ChaCha8Rng, mood: f64, bad: bool) -> u8 {
    let weights: [f64; 5] = if bad {
        [0.30, 0.28, 0.22, 0.12, 0.08]
    } else {
        [
            0.03,
            0.05 - mood * 0.02,
            0.12 - mood * 0.04,
            0.36,
            0.44 + mood * 0.06,
        ]
    };
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i as u8 + 1;
        }
        x -= w;
    }
    5
}

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// Generate and ingest one store's history, kiosk by kiosk and day by day.
async fn load_store(
    storage: &dyn Storage,
    options: &DemoOptions,
    store_index: usize,
    plan: &StorePlan,
    store_id: Uuid,
) -> Result<(u64, u64), DemoError> {
    let tz: Tz = plan
        .timezone
        .parse()
        .map_err(|_| DemoError::Timezone(plan.timezone.to_owned()))?;
    let today = options.now.with_timezone(&tz).date_naive();
    let mut accepted = 0;
    let mut duplicates = 0;
    for (kiosk_index, kiosk) in plan.kiosks.iter().enumerate() {
        let device_id = derived_id(options.seed, &[store_index as u64, kiosk_index as u64]);
        let device = demo_device(storage, device_id, kiosk.name, store_id, plan.timezone).await?;
        let silent_from = kiosk
            .offline_hours
            .map(|h| options.now - Duration::hours(h));
        let mut seq = 0u64;
        for day_back in (0..DAYS).rev() {
            let date = today - Duration::days(i64::from(day_back));
            // Each day its own stream, so a later day's shape never shifts an earlier one.
            let mut rng = ChaCha8Rng::seed_from_u64(
                options.seed
                    ^ ((store_index as u64) << 56)
                    ^ ((kiosk_index as u64) << 48)
                    ^ u64::from(day_back),
            );
            let day = DayPlan {
                plan,
                kiosk,
                tz,
                date,
                store_index,
                kiosk_index,
                day_back,
            };
            let end = silent_from.unwrap_or(options.now);
            let events = day_events(&mut rng, &day, options.seed, end, &mut seq);
            if events.is_empty() {
                continue;
            }
            let (a, d) = ingest_day(storage, &device, tz, events).await?;
            accepted += a;
            duplicates += d;
        }
        // A kiosk that is online reports its health now, as a real one does while idle;
        // one heartbeat per minute of loading, so a second load within it adds nothing.
        if silent_from.is_none() {
            seq += 1;
            let minute = options.now.timestamp() / 60;
            let offset = options
                .now
                .with_timezone(&tz)
                .offset()
                .fix()
                .local_minus_utc()
                / 60;
            let heartbeat = json!({
                "id": derived_id(options.seed, &[store_index as u64, kiosk_index as u64, u64::MAX, minute as u64]),
                "seq": seq,
                "device_time": options.now - Duration::seconds(kiosk.clock_behind),
                "utc_offset_minutes": offset,
                "kind": "device_health",
                "body": {"queue_depth": 0, "app_version": kiosk.app_version},
            });
            let (a, d) = ingest_day(storage, &device, tz, vec![(options.now, heartbeat)]).await?;
            accepted += a;
            duplicates += d;
        }
    }
    Ok((accepted, duplicates))
}

struct DayPlan<'a> {
    plan: &'a StorePlan,
    kiosk: &'a KioskPlan,
    tz: Tz,
    date: NaiveDate,
    store_index: usize,
    kiosk_index: usize,
    day_back: u32,
}

/// One kiosk's events of one local day, up to `end`, each with the time HQ received it.
fn day_events(
    rng: &mut ChaCha8Rng,
    day: &DayPlan<'_>,
    seed: u64,
    end: DateTime<Utc>,
    seq: &mut u64,
) -> Vec<(DateTime<Utc>, Value)> {
    use chrono::Datelike;
    let weekday = day.date.weekday().num_days_from_monday();
    let mut events = Vec::new();
    let mut n = 0u64;
    let path = |n: u64| {
        [
            day.store_index as u64,
            day.kiosk_index as u64,
            u64::from(day.day_back),
            n,
        ]
    };
    for hour in 6..22u32 {
        let mean = day.plan.peak * day.kiosk.share * traffic(hour, weekday);
        if mean <= 0.0 {
            continue;
        }
        // Poisson-ish: a mean plus or minus a third.
        let taps = (mean * rng.random_range(0.67..1.33)).round() as u32;
        let bad = day.plan.bad_tuesday_afternoon && weekday == 1 && (14..18).contains(&hour);
        let mut minutes: Vec<u32> = (0..taps).map(|_| rng.random_range(0..3600)).collect();
        minutes.sort_unstable();
        for second in minutes {
            let Some(local) = day
                .date
                .and_hms_opt(hour, second / 60, second % 60)
                .and_then(|t| day.tz.from_local_datetime(&t).earliest())
            else {
                continue;
            };
            let at = local.with_timezone(&Utc);
            if at > end {
                break;
            }
            n += 1;
            *seq += 1;
            let score = score(rng, day.plan.mood, bad);
            let mut reasons: Vec<&str> = Vec::new();
            if rng.random_bool(0.45) {
                let pool = if score >= 4 {
                    PRAISE
                } else if score <= 2 || bad {
                    PROBLEMS
                } else if rng.random_bool(0.5) {
                    PRAISE
                } else {
                    PROBLEMS
                };
                reasons.push(if bad && rng.random_bool(0.7) {
                    "slow_service"
                } else {
                    pick(rng, pool)
                });
                if rng.random_bool(0.3) {
                    let second = pick(rng, pool);
                    if !reasons.contains(&second) {
                        reasons.push(second);
                    }
                }
            }
            let comment = if rng.random_bool(if score <= 2 { 0.25 } else { 0.07 }) {
                Some(match score {
                    4 | 5 => pick(rng, HAPPY_COMMENTS),
                    3 => pick(rng, MIXED_COMMENTS),
                    _ => pick(rng, UNHAPPY_COMMENTS),
                })
            } else {
                None
            };
            let nps = (day.plan.asks_nps && rng.random_bool(0.3)).then(|| {
                let base: i64 = match score {
                    5 => 9,
                    4 => 8,
                    3 => 6,
                    2 => 4,
                    _ => 2,
                };
                (base + rng.random_range(-1..=1)).clamp(0, 10)
            });
            let device_time = at - Duration::seconds(day.kiosk.clock_behind);
            let offset = local.offset().fix().local_minus_utc() / 60;
            let mut body = json!({
                "survey_version": if day.plan.asks_nps { 2 } else { 1 },
                "touchpoint": "visit",
                "scale": 5,
                "score": score,
                "reasons": reasons,
                "suspected_repeat": rng.random_bool(0.01),
            });
            if let Some(c) = comment {
                body["comment"] = json!(c);
            }
            if let Some(v) = nps {
                body["nps"] = json!(v);
            }
            let received = at + Duration::seconds(rng.random_range(2..40));
            events.push((
                received.min(end.max(at)),
                json!({
                    "id": derived_id(seed, &path(n)),
                    "seq": *seq,
                    "device_time": device_time,
                    "utc_offset_minutes": offset,
                    "kind": "rating",
                    "body": body,
                }),
            ));
        }
    }
    // Health at closing, or at the last push of a kiosk that went quiet today.
    if let Some(&(last, _)) = events.last() {
        *seq += 1;
        let offline = day.kiosk.offline_hours.is_some();
        let today = day.day_back == 0;
        let going_quiet = offline && end < last + Duration::hours(6);
        let mut body = json!({
            "queue_depth": if going_quiet { 37 } else { rng.random_range(0..3) },
            "app_version": day.kiosk.app_version,
        });
        if going_quiet {
            body["oldest_unsent_age_seconds"] = json!(1800);
            body["last_error"] = json!("connect to HQ: connection timed out");
        } else if today {
            body["oldest_unsent_age_seconds"] = json!(rng.random_range(5..60));
        }
        let at = (last + Duration::seconds(30)).min(end.max(last));
        let offset = at.with_timezone(&day.tz).offset().fix().local_minus_utc() / 60;
        events.push((
            at,
            json!({
                "id": derived_id(seed, &path(u64::MAX)),
                "seq": *seq,
                "device_time": at - Duration::seconds(day.kiosk.clock_behind),
                "utc_offset_minutes": offset,
                "kind": "device_health",
                "body": body,
            }),
        ));
    }
    events
}

/// Push one day's events the way `POST /events` does: parse them as a batch, then
/// ingest what parsed, received in pushes of up to a few events as a kiosk syncs.
async fn ingest_day(
    storage: &dyn Storage,
    device: &DeviceRecord,
    tz: Tz,
    events: Vec<(DateTime<Utc>, Value)>,
) -> Result<(u64, u64), DemoError> {
    let mut accepted = 0;
    let mut duplicates = 0;
    // One push an hour or so: group by the hour HQ received them in.
    let mut batches: Vec<(DateTime<Utc>, Vec<Box<RawValue>>)> = Vec::new();
    for (received, event) in events {
        let raw = RawValue::from_string(event.to_string())
            .map_err(|e| DemoError::Refused(e.to_string()))?;
        match batches.last_mut() {
            Some((at, batch)) if received - *at < Duration::hours(1) => {
                *at = received;
                batch.push(raw);
            }
            _ => batches.push((received, vec![raw])),
        }
    }
    for (received_at, batch) in batches {
        let mut items = Vec::new();
        for (_, parsed) in parse_batch(batch, tz, received_at) {
            match parsed {
                Parsed::Store(item) => items.push(*item),
                Parsed::Decided(countertop_protocol::EventOutcome::Duplicate) => duplicates += 1,
                Parsed::Decided(other) => return Err(DemoError::Refused(format!("{other:?}"))),
            }
        }
        for stored in storage.ingest(device, items).await? {
            match stored {
                Stored::Inserted => accepted += 1,
                Stored::Duplicate => duplicates += 1,
                Stored::Rejected { code, reason } => {
                    return Err(DemoError::Refused(format!("{code}: {reason}")))
                }
            }
        }
    }
    Ok((accepted, duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_seed() {
        assert_eq!(derived_id(1, &[1, 2]), derived_id(1, &[1, 2]));
        assert_ne!(derived_id(1, &[1, 2]), derived_id(2, &[1, 2]));
        assert_ne!(derived_id(1, &[1, 2]), derived_id(1, &[2, 1]));
    }

    #[test]
    fn mornings_are_busier_than_evenings_and_nights_are_closed() {
        assert!(traffic(8, 2) > traffic(15, 2));
        assert!(traffic(15, 2) > traffic(20, 2));
        assert_eq!(traffic(3, 2), 0.0);
    }

    #[test]
    fn a_bad_spell_scores_lower() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mean = |rng: &mut ChaCha8Rng, bad| {
            (0..2000)
                .map(|_| f64::from(score(rng, 0.0, bad)))
                .sum::<f64>()
                / 2000.0
        };
        let good = mean(&mut rng, false);
        let bad = mean(&mut rng, true);
        assert!(good > 4.0 && bad < 2.7, "good {good}, bad {bad}");
    }
}
