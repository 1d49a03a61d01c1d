//! The ingest rules, written once for both backends.
//!
//! A backend never decides what happens to an event. It fetches, in bulk, the few facts
//! the rules need ([`Facts`]: tombstoned regulars, the owners of rated ratings, stored
//! profile clocks), asks [`screen`] which events to try, inserts those into `events` with
//! `ON CONFLICT (id) DO NOTHING` (the last line of defence against a concurrent copy),
//! and hands the ids that really went in to [`decide`], which returns every outcome and
//! every row to write ([`Plan`]). The backend applies the plan in the same transaction.
//!
//! The rules:
//! - the first copy of an event id wins: a later copy, in the same batch or in a later
//!   one, is a duplicate (decided from what the insert really inserted, so two HQ
//!   processes racing on one PostgreSQL still accept each event once);
//! - an upload about an erased regular (a profile or a visit, including one later in the
//!   same batch as the erasure) is refused with `regular_erased`;
//! - `rating_details` may only touch a rating of the device's own store;
//! - a regular's profile is replaced only by a greater hybrid logical clock
//!   (last-writer-wins); an older edit is accepted and changes nothing;
//! - an erasure tombstones the id once, and deletes the profile and every visit;
//! - an enrollment code is used once, before it expires ([`redeem`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{DeviceRecord, IngestItem, ProfileJson, RatingRow, Redeemed, RegularOp, Stored};

/// What a stored profile tells the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProfile {
    /// The clock of the stored edit, in its sortable text form.
    pub hlc: String,
    pub home_store_id: Uuid,
}

/// What the database already holds about a batch, fetched in bulk before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Regular ids of the batch that have a tombstone.
    pub tombstoned: HashSet<Uuid>,
    /// For each rating a `rating_details` event of the batch names, and that is stored:
    /// the store that recorded it.
    pub rating_owners: HashMap<Uuid, Uuid>,
    /// Stored profiles of the batch's regulars.
    pub profiles: HashMap<Uuid, StoredProfile>,
}

/// The ids a batch needs facts about, each once, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Regulars named by regulars events (tombstones and profiles).
    pub regular_ids: Vec<Uuid>,
    /// Ratings named by `rating_details` events (their owners).
    pub rating_ids: Vec<Uuid>,
}

/// The ids whose facts `items` need.
pub fn wanted(items: &[IngestItem]) -> Wanted {
    let mut regular_ids: Vec<Uuid> = items
        .iter()
        .filter_map(|i| i.regular.as_ref().map(RegularOp::regular_id))
        .collect();
    regular_ids.sort_unstable();
    regular_ids.dedup();
    let mut rating_ids: Vec<Uuid> = items
        .iter()
        .filter_map(|i| i.details.as_ref().map(|d| d.rating_id))
        .collect();
    rating_ids.sort_unstable();
    rating_ids.dedup();
    Wanted {
        regular_ids,
        rating_ids,
    }
}

/// The first pass: events refused outright, and those to try inserting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    /// Per item: `Some` when decided without an insert (refused, or a later copy of an id
    /// in this batch), `None` for a candidate.
    decided: Vec<Option<Stored>>,
    /// Candidates' positions, in event id order, so concurrent batches lock rows in the
    /// same order.
    pub candidates: Vec<usize>,
}

/// The outcome for an upload about a regular who has been erased.
pub fn erased_rejection() -> Stored {
    Stored::Rejected {
        code: "regular_erased".into(),
        reason: "this regular asked to be forgotten; HQ keeps nothing for this id any more: \
                 delete the local copy"
            .into(),
    }
}

/// The outcome for details about a rating recorded in another store.
pub fn other_store_rejection() -> Stored {
    Stored::Rejected {
        code: "rating_of_another_store".into(),
        reason: "rating_id names a rating recorded in another store".into(),
    }
}

/// Refuse what needs no insert to refuse; everything else is a candidate.
pub fn screen(store_id: Uuid, items: &[IngestItem], facts: &Facts) -> Screened {
    let mut erased: HashSet<Uuid> = HashSet::new();
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut decided = Vec::with_capacity(items.len());
    let mut candidates = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let outcome = match &item.regular {
            // An erasure is never refused, and refuses what follows it in the batch.
            Some(RegularOp::Erase { regular_id, .. }) => {
                erased.insert(*regular_id);
                None
            }
            Some(op)
                if facts.tombstoned.contains(&op.regular_id())
                    || erased.contains(&op.regular_id()) =>
            {
                Some(erased_rejection())
            }
            _ => None,
        };
        let outcome = outcome.or_else(|| {
            let d = item.details.as_ref()?;
            let owner = facts.rating_owners.get(&d.rating_id)?;
            (*owner != store_id).then(other_store_rejection)
        });
        let outcome = match outcome {
            Some(o) => Some(o),
            None if !seen.insert(item.id) => Some(Stored::Duplicate),
            None => {
                candidates.push(i);
                None
            }
        };
        decided.push(outcome);
    }
    candidates.sort_by_key(|i| items[*i].id);
    Screened {
        decided,
        candidates,
    }
}

/// A profile row to insert, or to update when one is stored (its home store and first
/// day are kept then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileWrite<'a> {
    pub regular_id: Uuid,
    pub home_store_id: Uuid,
    pub hlc: &'a str,
    pub profile: &'a ProfileJson,
    pub first_local_date: NaiveDate,
    /// Position of this row's change sequence among the plan's (see [`Plan::change_seqs`]).
    pub seq: usize,
}

/// A visit row to insert; its id is the visit event's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitWrite {
    pub id: Uuid,
    pub regular_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub rating_id: Option<Uuid>,
    pub unhappy: Option<bool>,
    pub seq: usize,
}

/// A tombstone to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TombstoneWrite {
    pub regular_id: Uuid,
    pub erased_at: DateTime<Utc>,
    pub home_store_id: Uuid,
    pub local_date: NaiveDate,
    pub seq: usize,
}

/// Everything one batch writes besides its `events` rows, and every outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'a> {
    /// One per item, in order.
    pub outcomes: Vec<Stored>,
    /// Rating rows of the events that went in: (event id, row).
    pub ratings: Vec<(Uuid, &'a RatingRow)>,
    /// (rating id, reason), each once, sorted.
    pub reasons: Vec<(Uuid, &'a str)>,
    /// (rating id, comment) from details; the last one in the batch wins. Sorted by id.
    pub comments: Vec<(Uuid, &'a str)>,
    /// (rating id, NPS answer) from details, for the rating's own `nps`; the last one in
    /// the batch wins. Sorted by id. Applied after the ratings above are inserted.
    pub nps: Vec<(Uuid, u8)>,
    /// Regulars whose profile and visits are deleted (erased in this batch). Applied
    /// before the writes below, none of which names these regulars.
    pub purged: Vec<Uuid>,
    pub tombstones: Vec<TombstoneWrite>,
    pub profiles: Vec<ProfileWrite<'a>>,
    pub visits: Vec<VisitWrite>,
    /// How many change sequences to draw, in order: the write whose `seq` is k takes
    /// the k-th (0-based) of them, so rows change in batch order.
    pub change_seqs: usize,
    /// Ratings that details of this batch name and that are not stored yet, nor in the
    /// batch: their reasons and comment wait for them (see `storage/early_details.rs`).
    /// Sorted.
    pub early: Vec<Uuid>,
}

impl Plan<'_> {
    /// Whether the batch writes regulars rows (on PostgreSQL they need the regulars lock,
    /// taken before the facts are read).
    pub fn writes_regulars(&self) -> bool {
        self.change_seqs > 0 || !self.purged.is_empty()
    }
}

/// A profile as the batch leaves it.
enum Profile<'a> {
    Stored(&'a StoredProfile),
    Write(ProfileWrite<'a>, usize),
    /// Not stored, or erased earlier in the batch.
    Absent,
}

/// The second pass: given which candidates' `events` rows really went in, every outcome
/// and the rows to write. A candidate that did not go in was stored before (or by a
/// concurrent batch): a duplicate, with no writes.
pub fn decide<'a>(
    device: &DeviceRecord,
    items: &'a [IngestItem],
    facts: &'a Facts,
    screened: Screened,
    inserted: &HashSet<Uuid>,
) -> Plan<'a> {
    let mut outcomes = Vec::with_capacity(items.len());
    let mut ratings = Vec::new();
    let mut reasons: Vec<(Uuid, &str)> = Vec::new();
    let mut comments: BTreeMap<Uuid, &str> = BTreeMap::new();
    let mut nps: BTreeMap<Uuid, u8> = BTreeMap::new();
    let mut purged: Vec<Uuid> = Vec::new();
    let mut tombstoned: HashSet<Uuid> = HashSet::new();
    // Writes carry their item's position until the change sequences are numbered.
    let mut tombstones: Vec<(usize, TombstoneWrite)> = Vec::new();
    let mut visits: Vec<(usize, VisitWrite)> = Vec::new();
    let mut profiles: HashMap<Uuid, Profile<'a>> = HashMap::new();
    let mut went_in: HashSet<Uuid> = HashSet::new();

    for (i, (item, decided)) in items.iter().zip(screened.decided).enumerate() {
        if let Some(o) = decided {
            outcomes.push(o);
            continue;
        }
        // Only the first candidate with an id can have inserted it.
        if !inserted.contains(&item.id) || !went_in.insert(item.id) {
            outcomes.push(Stored::Duplicate);
            continue;
        }
        outcomes.push(Stored::Inserted);
        if let Some(r) = &item.rating {
            ratings.push((item.id, r));
            reasons.extend(r.reasons.iter().map(|s| (item.id, s.as_str())));
        }
        if let Some(d) = &item.details {
            reasons.extend(d.reasons.iter().map(|s| (d.rating_id, s.as_str())));
            if let Some(c) = &d.comment {
                comments.insert(d.rating_id, c.as_str());
            }
            if let Some(n) = d.nps {
                nps.insert(d.rating_id, n);
            }
        }
        let Some(op) = &item.regular else { continue };
        let id = op.regular_id();
        let current = profiles.entry(id).or_insert_with(|| {
            facts
                .profiles
                .get(&id)
                .map_or(Profile::Absent, Profile::Stored)
        });
        match op {
            RegularOp::Upsert {
                hlc,
                profile,
                local_date,
                ..
            } => {
                let write = |home_store_id, first_local_date| ProfileWrite {
                    regular_id: id,
                    home_store_id,
                    hlc: hlc.as_str(),
                    profile,
                    first_local_date,
                    seq: 0,
                };
                match current {
                    Profile::Absent => {
                        *current = Profile::Write(write(device.store_id, *local_date), i)
                    }
                    Profile::Stored(s) if s.hlc < *hlc => {
                        *current = Profile::Write(write(s.home_store_id, *local_date), i)
                    }
                    Profile::Write(w, _) if w.hlc < hlc.as_str() => {
                        *current = Profile::Write(write(w.home_store_id, w.first_local_date), i)
                    }
                    // An older (or the same) edit lost the merge: accepted, nothing changes.
                    Profile::Stored(_) | Profile::Write(..) => {}
                }
            }
            RegularOp::Visit {
                occurred_at,
                local_date,
                rating_id,
                unhappy,
                ..
            } => visits.push((
                i,
                VisitWrite {
                    id: item.id,
                    regular_id: id,
                    occurred_at: *occurred_at,
                    local_date: *local_date,
                    rating_id: *rating_id,
                    unhappy: *unhappy,
                    seq: 0,
                },
            )),
            RegularOp::Erase {
                erased_at,
                local_date,
                ..
            } => {
                let home = match current {
                    Profile::Stored(s) => s.home_store_id,
                    Profile::Write(w, _) => w.home_store_id,
                    Profile::Absent => device.store_id,
                };
                if !facts.tombstoned.contains(&id) && tombstoned.insert(id) {
                    tombstones.push((
                        i,
                        TombstoneWrite {
                            regular_id: id,
                            erased_at: *erased_at,
                            home_store_id: home,
                            local_date: *local_date,
                            seq: 0,
                        },
                    ));
                }
                *current = Profile::Absent;
                visits.retain(|(_, v)| v.regular_id != id);
                if !purged.contains(&id) {
                    purged.push(id);
                }
            }
        }
    }

    // Profiles left as writes, except those of regulars erased later in the batch (the
    // erasure set them to Absent).
    let mut profiles: Vec<(usize, ProfileWrite<'a>)> = profiles
        .into_values()
        .filter_map(|p| match p {
            Profile::Write(w, at) => Some((at, w)),
            Profile::Stored(_) | Profile::Absent => None,
        })
        .collect();
    profiles.sort_by_key(|(at, _)| *at);
    // Number the change sequences in batch order.
    let mut order: Vec<usize> = tombstones
        .iter()
        .map(|(at, _)| *at)
        .chain(visits.iter().map(|(at, _)| *at))
        .chain(profiles.iter().map(|(at, _)| *at))
        .collect();
    order.sort_unstable();
    let seq_of = |at: usize| order.binary_search(&at).unwrap_or(0);
    reasons.sort_unstable();
    reasons.dedup();
    purged.sort_unstable();
    let mut early: Vec<Uuid> = items
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == Stored::Inserted)
        .filter_map(|(item, _)| item.details.as_ref().map(|d| d.rating_id))
        .filter(|id| !facts.rating_owners.contains_key(id))
        .collect();
    early.sort_unstable();
    early.dedup();
    if !early.is_empty() {
        let new: HashSet<Uuid> = ratings.iter().map(|(id, _)| *id).collect();
        early.retain(|id| !new.contains(id));
    }
    Plan {
        outcomes,
        ratings,
        reasons,
        comments: comments.into_iter().collect(),
        nps: nps.into_iter().collect(),
        purged,
        tombstones: tombstones
            .into_iter()
            .map(|(at, t)| TombstoneWrite {
                seq: seq_of(at),
                ..t
            })
            .collect(),
        profiles: profiles
            .into_iter()
            .map(|(at, p)| ProfileWrite {
                seq: seq_of(at),
                ..p
            })
            .collect(),
        visits: visits
            .into_iter()
            .map(|(at, v)| VisitWrite {
                seq: seq_of(at),
                ..v
            })
            .collect(),
        change_seqs: order.len(),
        early,
    }
}

/// What a stored enrollment code tells the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollCode {
    pub store_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// Whether `code` (the stored row for the presented code, if any) may enroll a device
/// at `now`: `Ok(store)` to go ahead (the backend then marks it used and records the
/// device in the same transaction), or the refusal.
pub fn redeem(code: Option<&EnrollCode>, now: DateTime<Utc>) -> Result<Uuid, Redeemed> {
    let code = code.ok_or(Redeemed::UnknownCode)?;
    if code.used {
        Err(Redeemed::AlreadyUsed)
    } else if code.expires_at <= now {
        Err(Redeemed::Expired)
    } else {
        Ok(code.store_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{DetailsRow, ProfileJson, RatingRow};

    const STORE: u128 = 0x5;
    const OTHER_STORE: u128 = 0x6;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn device() -> DeviceRecord {
        DeviceRecord {
            id: id(0xd),
            store_id: id(STORE),
            store_timezone: "UTC".into(),
            revoked: false,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
    }

    fn item(event: u128) -> IngestItem {
        IngestItem {
            id: id(event),
            seq: 1,
            kind: "rating".into(),
            device_time: DateTime::UNIX_EPOCH,
            utc_offset_minutes: 0,
            received_at: DateTime::UNIX_EPOCH,
            flags: String::new(),
            body: None,
            rating: None,
            details: None,
            regular: None,
        }
    }

    fn rating(event: u128, reasons: &[&str]) -> IngestItem {
        IngestItem {
            rating: Some(RatingRow {
                occurred_at: DateTime::UNIX_EPOCH,
                local_date: day(),
                local_hour: 8,
                touchpoint: "visit".into(),
                survey_version: 1,
                scale: 5,
                score: 5,
                satisfied: true,
                nps: None,
                suspected_repeat: false,
                comment: None,
                reasons: reasons.iter().map(|s| s.to_string()).collect(),
            }),
            ..item(event)
        }
    }

    fn details(event: u128, rating: u128, comment: &str) -> IngestItem {
        IngestItem {
            kind: "rating_details".into(),
            details: Some(DetailsRow {
                rating_id: id(rating),
                reasons: vec!["slow_service".into()],
                comment: Some(comment.into()),
                nps: None,
            }),
            ..item(event)
        }
    }

    fn upsert(event: u128, regular: u128, hlc: &str) -> IngestItem {
        IngestItem {
            kind: "regular_upserted".into(),
            regular: Some(RegularOp::Upsert {
                regular_id: id(regular),
                hlc: hlc.into(),
                profile: ProfileJson(format!("{{\"hlc\":\"{hlc}\"}}")),
                local_date: day(),
            }),
            ..item(event)
        }
    }

    fn visit(event: u128, regular: u128) -> IngestItem {
        IngestItem {
            kind: "visit".into(),
            regular: Some(RegularOp::Visit {
                regular_id: id(regular),
                occurred_at: DateTime::UNIX_EPOCH,
                local_date: day(),
                rating_id: None,
                unhappy: None,
            }),
            ..item(event)
        }
    }

    fn erase(event: u128, regular: u128) -> IngestItem {
        IngestItem {
            kind: "regular_erased".into(),
            regular: Some(RegularOp::Erase {
                regular_id: id(regular),
                erased_at: DateTime::UNIX_EPOCH,
                local_date: day(),
            }),
            ..item(event)
        }
    }

    /// Run both passes, with `stored` the event ids the database already holds (the
    /// insert skips them, as `ON CONFLICT DO NOTHING` does).
    fn run<'a>(items: &'a [IngestItem], facts: &'a Facts, stored: &[u128]) -> Plan<'a> {
        let screened = screen(id(STORE), items, facts);
        let stored: HashSet<Uuid> = stored.iter().map(|n| id(*n)).collect();
        let inserted: HashSet<Uuid> = screened
            .candidates
            .iter()
            .map(|i| items[*i].id)
            .filter(|i| !stored.contains(i))
            .collect();
        decide(&device(), items, facts, screened, &inserted)
    }

    fn code(s: &Stored) -> &str {
        match s {
            Stored::Inserted => "inserted",
            Stored::Duplicate => "duplicate",
            Stored::Rejected { code, .. } => code,
        }
    }

    #[test]
    fn outcomes_follow_the_rules() {
        let tombstoned = Facts {
            tombstoned: [id(0xa1)].into(),
            ..Facts::default()
        };
        let owned_elsewhere = Facts {
            rating_owners: [(id(0x71), id(OTHER_STORE)), (id(0x72), id(STORE))].into(),
            ..Facts::default()
        };
        let none = Facts::default();
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&str, Vec<IngestItem>, &Facts, &[u128], &[&str])> = vec![
            (
                "a new event is inserted",
                vec![rating(1, &[])],
                &none,
                &[],
                &["inserted"],
            ),
            (
                "an event stored before is a duplicate",
                vec![rating(1, &[])],
                &none,
                &[1],
                &["duplicate"],
            ),
            (
                "the first copy in a batch wins",
                vec![rating(1, &[]), rating(1, &[]), rating(2, &[])],
                &none,
                &[],
                &["inserted", "duplicate", "inserted"],
            ),
            (
                "an upload about an erased regular is refused, even when stored before",
                vec![upsert(1, 0xa1, "2"), visit(2, 0xa1), visit(3, 0xa2)],
                &tombstoned,
                &[1],
                &["regular_erased", "regular_erased", "inserted"],
            ),
            (
                "an erasure refuses what follows it in the batch, not what precedes it",
                vec![
                    visit(1, 0xa2),
                    erase(2, 0xa2),
                    upsert(3, 0xa2, "9"),
                    visit(4, 0xa2),
                ],
                &none,
                &[],
                &["inserted", "inserted", "regular_erased", "regular_erased"],
            ),
            (
                "erasing an erased regular again is accepted",
                vec![erase(1, 0xa1)],
                &tombstoned,
                &[],
                &["inserted"],
            ),
            (
                "details only for the store's own rating",
                vec![
                    details(1, 0x71, "x"),
                    details(2, 0x72, "y"),
                    details(3, 0x73, "z"),
                ],
                &owned_elsewhere,
                &[],
                &["rating_of_another_store", "inserted", "inserted"],
            ),
        ];
        for (what, items, facts, stored, want) in cases {
            let plan = run(&items, facts, stored);
            let got: Vec<&str> = plan.outcomes.iter().map(code).collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn only_details_that_reach_hq_before_their_rating_mark_it_early() {
        let stored_here = Facts {
            rating_owners: [(id(0x72), id(STORE))].into(),
            ..Facts::default()
        };
        let items = vec![
            details(1, 0x73, "before its rating"),
            details(2, 0x72, "its rating is stored"),
            rating(3, &[]),
            details(4, 3, "its rating is in the batch"),
            details(5, 0x73, "the same rating again"),
            details(6, 0x74, "a duplicate"),
        ];
        let plan = run(&items, &stored_here, &[6]);
        assert_eq!(plan.early, [id(0x73)]);
        assert!(run(&items[1..4], &stored_here, &[]).early.is_empty());
    }

    #[test]
    fn a_duplicate_writes_nothing_but_its_outcome() {
        let items = vec![rating(1, &["tasty"]), details(2, 1, "late")];
        let facts = Facts::default();
        let plan = run(&items, &facts, &[1, 2]);
        assert!(plan.ratings.is_empty() && plan.reasons.is_empty() && plan.comments.is_empty());
        let plan = run(&items, &facts, &[]);
        assert_eq!(plan.ratings.len(), 1);
        assert_eq!(
            plan.reasons,
            vec![(id(1), "slow_service"), (id(1), "tasty")],
            "details add their reasons to the rating they name"
        );
        assert_eq!(plan.comments, vec![(id(1), "late")]);
    }

    #[test]
    fn an_nps_answer_in_details_fills_the_rating_it_names_and_the_last_one_wins() {
        let mut first = details(2, 1, "late");
        let mut second = details(3, 1, "late");
        first.details.as_mut().expect("details").nps = Some(6);
        second.details.as_mut().expect("details").nps = Some(9);
        let items = vec![rating(1, &[]), first, second, details(4, 1, "no answer")];
        let facts = Facts::default();
        let plan = run(&items, &facts, &[]);
        assert_eq!(
            plan.nps,
            vec![(id(1), 9)],
            "details without an answer keep it"
        );
    }

    #[test]
    fn the_last_details_comment_in_a_batch_wins() {
        let items = vec![details(1, 9, "first"), details(2, 9, "second")];
        let facts = Facts::default();
        let plan = run(&items, &facts, &[]);
        assert_eq!(plan.comments, vec![(id(9), "second")]);
        assert_eq!(
            plan.reasons,
            vec![(id(9), "slow_service")],
            "each reason once"
        );
    }

    #[test]
    fn profiles_merge_last_writer_wins_on_the_clock() {
        let stored = Facts {
            profiles: [(
                id(0xa1),
                StoredProfile {
                    hlc: "5".into(),
                    home_store_id: id(OTHER_STORE),
                },
            )]
            .into(),
            ..Facts::default()
        };
        // Older than stored: accepted, nothing written.
        let items = vec![upsert(1, 0xa1, "4")];
        let plan = run(&items, &stored, &[]);
        assert_eq!(plan.outcomes, vec![Stored::Inserted]);
        assert!(plan.profiles.is_empty() && plan.change_seqs == 0);
        // Newer edits in one batch, out of order: the greatest clock wins, the home
        // store stays the stored one.
        let items = vec![
            upsert(1, 0xa1, "7"),
            upsert(2, 0xa1, "6"),
            upsert(3, 0xa1, "8"),
        ];
        let plan = run(&items, &stored, &[]);
        assert_eq!(plan.profiles.len(), 1);
        let p = &plan.profiles[0];
        assert_eq!((p.hlc, p.home_store_id), ("8", id(OTHER_STORE)));
        assert_eq!(plan.change_seqs, 1);
        // A new regular gets the pushing device's store as home.
        let none = Facts::default();
        let items = vec![upsert(1, 0xb1, "1")];
        let plan = run(&items, &none, &[]);
        assert_eq!(plan.profiles[0].home_store_id, id(STORE));
        assert_eq!(plan.profiles[0].first_local_date, day());
    }

    #[test]
    fn an_erasure_tombstones_once_and_drops_the_batchs_earlier_writes() {
        let none = Facts::default();
        let items = vec![
            upsert(1, 0xa1, "1"),
            visit(2, 0xa1),
            visit(3, 0xa2),
            erase(4, 0xa1),
            erase(5, 0xa1),
        ];
        let plan = run(&items, &none, &[]);
        assert_eq!(plan.purged, vec![id(0xa1)]);
        assert_eq!(plan.tombstones.len(), 1, "one tombstone per regular");
        assert_eq!(plan.tombstones[0].home_store_id, id(STORE));
        assert!(
            plan.profiles.is_empty(),
            "the erased profile is not written"
        );
        assert_eq!(plan.visits.len(), 1);
        assert_eq!(plan.visits[0].regular_id, id(0xa2));
        // Change sequences: the surviving visit (item 2) before the tombstone (item 3).
        assert_eq!(plan.change_seqs, 2);
        assert_eq!((plan.visits[0].seq, plan.tombstones[0].seq), (0, 1));
        assert!(plan.writes_regulars());
        // Already tombstoned: no second tombstone, but the purge still runs.
        let tombstoned = Facts {
            tombstoned: [id(0xa1)].into(),
            ..Facts::default()
        };
        let items = vec![erase(1, 0xa1)];
        let plan = run(&items, &tombstoned, &[]);
        assert!(plan.tombstones.is_empty());
        assert_eq!(plan.purged, vec![id(0xa1)]);
    }

    #[test]
    fn erasing_a_stored_profile_keeps_its_home_store_on_the_tombstone() {
        let facts = Facts {
            profiles: [(
                id(0xa1),
                StoredProfile {
                    hlc: "5".into(),
                    home_store_id: id(OTHER_STORE),
                },
            )]
            .into(),
            ..Facts::default()
        };
        let items = vec![erase(1, 0xa1)];
        let plan = run(&items, &facts, &[]);
        assert_eq!(plan.tombstones[0].home_store_id, id(OTHER_STORE));
    }

    #[test]
    fn candidates_are_in_id_order_so_concurrent_batches_lock_alike() {
        let items = vec![rating(3, &[]), rating(1, &[]), rating(2, &[])];
        let s = screen(id(STORE), &items, &Facts::default());
        assert_eq!(s.candidates, vec![1, 2, 0]);
    }

    #[test]
    fn wanted_names_each_regular_and_rating_once() {
        let items = vec![visit(1, 0xa1), upsert(2, 0xa1, "1"), details(3, 7, "x")];
        let w = wanted(&items);
        assert_eq!(w.regular_ids, vec![id(0xa1)]);
        assert_eq!(w.rating_ids, vec![id(7)]);
    }

    #[test]
    fn an_enrollment_code_works_once_before_it_expires() {
        let now: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().expect("time");
        let code = |used, expires: &str| EnrollCode {
            store_id: id(STORE),
            expires_at: expires.parse().expect("time"),
            used,
        };
        let cases = [
            (None, Err(Redeemed::UnknownCode)),
            (Some(code(false, "2026-11-23T10:00:01Z")), Ok(id(STORE))),
            (
                Some(code(true, "2026-11-24T00:00:00Z")),
                Err(Redeemed::AlreadyUsed),
            ),
            (
                Some(code(false, "2026-11-23T10:00:00Z")),
                Err(Redeemed::Expired),
            ),
            (
                Some(code(true, "2026-11-01T00:00:00Z")),
                Err(Redeemed::AlreadyUsed),
            ),
        ];
        for (c, want) in cases {
            assert_eq!(redeem(c.as_ref(), now), want, "{c:?}");
        }
    }
}
