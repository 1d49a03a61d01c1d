use super::*;
use crate::store::temp_store;
use chrono::{Duration, TimeZone};
use countertop_protocol::{ReasonSlug, UsualOrder};

fn at(minutes: i64) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(7 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 11, 23, 8, 0, 0)
        .unwrap()
        + Duration::minutes(minutes)
}

fn edit(name: &str, phone: Option<&str>) -> RegularEdit {
    RegularEdit {
        id: None,
        name: name.into(),
        phone: phone.map(Into::into),
        usual: UsualOrder {
            item: Some(ReasonSlug::new("latte").unwrap()),
            ..UsualOrder::default()
        },
        dietary: None,
        consent_version: 1,
        dietary_consent: false,
        code: None,
    }
}

fn save(store: &mut Store, name: &str, phone: Option<&str>, minute: i64) -> Uuid {
    store
        .save_regular(&edit(name, phone), at(minute))
        .unwrap()
        .regular
        .id()
}

fn names(cards: &[RegularCard]) -> Vec<&str> {
    cards.iter().map(|c| c.regular.name()).collect()
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_new_regular_is_stamped_validated_and_queued_in_one_go() {
    let (_dir, mut store) = temp_store();
    let card = store
        .save_regular(&edit("  Nguyễn Thị Lan ", Some("+84 90 123 4567")), at(0))
        .unwrap();
    let r = &card.regular;
    assert_eq!(r.id().get_version_num(), 7);
    assert_eq!(r.name(), "Nguyễn Thị Lan");
    assert_eq!(r.phone(), Some("84901234567"));
    assert_eq!(r.consent().given_at, at(0).with_timezone(&Utc));
    assert_eq!(card.visit_count, 0);
    let device: String = store
        .conn
        .query_row("SELECT device_uuid FROM device", [], |r| r.get(0))
        .unwrap();
    assert_eq!(r.hlc().node.to_string(), device);
    assert_eq!(r.hlc().wall_ms, at(0).timestamp_millis());
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].1, "regular_upserted");
    let sent: Regular = serde_json::from_value(outbox[0].2.clone()).unwrap();
    assert_eq!(&sent, r);
    assert_eq!(store.regular_count().unwrap(), 1);
}

#[test]
fn refused_input_is_invalid_with_a_plain_message_and_nothing_is_written() {
    let (_dir, mut store) = temp_store();
    let err = store.save_regular(&edit("  ", None), at(0)).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    assert_eq!(err.to_string(), "a regular needs a name or nickname");
    let err = store
        .save_regular(&edit("Lan", Some("12-34")), at(0))
        .unwrap_err();
    assert_eq!(err.to_string(), "a phone number has 6 to 15 digits");
    assert_eq!(store.regular_count().unwrap(), 0);
    assert!(store.outbox().unwrap().is_empty());
}

#[test]
fn edits_keep_consent_unless_its_version_changes_and_dietary_notes_follow_their_consent() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Lan", None, 0);
    let first = store.regular_card(id).unwrap().unwrap().regular;

    let mut change = edit("Lan B", None);
    change.id = Some(id);
    change.dietary = Some("nut allergy".into());
    change.dietary_consent = true;
    let second = store.save_regular(&change, at(5)).unwrap().regular;
    assert!(second.hlc() > first.hlc());
    assert_eq!(second.consent().given_at, first.consent().given_at, "kept");
    assert_eq!(
        second.consent().dietary_given_at,
        Some(at(5).with_timezone(&Utc))
    );
    assert_eq!(second.dietary(), Some("nut allergy"));

    change.consent_version = 2;
    let third = store.save_regular(&change, at(9)).unwrap().regular;
    assert_eq!(third.consent().given_at, at(9).with_timezone(&Utc));
    assert_eq!(
        third.consent().dietary_given_at,
        Some(at(5).with_timezone(&Utc)),
        "dietary consent kept while given"
    );

    change.dietary_consent = false;
    let fourth = store.save_regular(&change, at(10)).unwrap().regular;
    assert_eq!(fourth.dietary(), None, "withdrawn consent clears the note");
    assert_eq!(fourth.consent().dietary_given_at, None);

    // The old name's words left the index with the edit.
    assert!(store.search_regulars("b", 10).unwrap().len() == 1);
    change.name = "Mai".into();
    store.save_regular(&change, at(11)).unwrap();
    assert!(store.search_regulars("lan", 10).unwrap().is_empty());
    assert_eq!(count(&store, "SELECT count(*) FROM regular_words"), 1);
    assert_eq!(store.outbox().unwrap().len(), 5);
}

#[test]
fn the_clock_never_goes_back_even_when_the_wall_clock_does() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Lan", None, 10);
    let mut change = edit("Lan", None);
    change.id = Some(id);
    let before = store.regular_card(id).unwrap().unwrap().regular.hlc();
    let after = store.save_regular(&change, at(0)).unwrap().regular.hlc();
    assert!(after > before);
}

#[test]
fn names_match_by_word_prefix_without_case_or_diacritics_most_recent_visit_first() {
    let (_dir, mut store) = temp_store();
    let lan = save(&mut store, "Nguyễn Thị Lan", None, 0);
    let _hung = save(&mut store, "Trần Hùng", None, 1);
    let dao = save(&mut store, "ĐÀO Nguyên", None, 2);
    let _john = save(&mut store, "John Nguyen-Smith", None, 3);
    assert_eq!(
        names(&store.search_regulars("nguy", 10).unwrap()),
        ["John Nguyen-Smith", "ĐÀO Nguyên", "Nguyễn Thị Lan"]
    );
    // A visit moves Lan to the front.
    store.log_visit(lan, None, at(30)).unwrap();
    assert_eq!(
        names(&store.search_regulars("NGUYỄN", 10).unwrap())[0],
        "Nguyễn Thị Lan"
    );
    // Every word must match the start of a name word.
    assert_eq!(
        names(&store.search_regulars("dao ng", 10).unwrap()),
        ["ĐÀO Nguyên"]
    );
    assert_eq!(
        names(&store.search_regulars("đào", 10).unwrap()),
        ["ĐÀO Nguyên"]
    );
    assert!(store.search_regulars("guyen", 10).unwrap().is_empty());
    assert!(store.search_regulars("lan hung", 10).unwrap().is_empty());
    // Empty: the most recently seen.
    let recent = store.search_regulars("", 2).unwrap();
    assert_eq!(recent[0].regular.id(), lan);
    assert_eq!(recent.len(), 2);
    let _ = dao;
}

/// Writes `n` regulars straight through the index writer, the i-th seen `i` seconds
/// after the first and stamped with wall time `i`.
fn bulk(store: &mut Store, n: i64, name: impl Fn(i64) -> String) {
    let tx = store.conn.transaction().unwrap();
    for i in 0..n {
        let regular = Regular::new(NewRegular {
            regular_id: Uuid::now_v7(),
            hlc: Hlc::tick(None, i, Uuid::nil()),
            name: name(i),
            phone: Some(format!("0901{i:06}")),
            usual: UsualOrder::default(),
            dietary: None,
            consent: Consent {
                version: 1,
                given_at: Utc::now(),
                dietary_given_at: None,
            },
            code_hash: None,
        })
        .unwrap();
        let seen = at(0).with_timezone(&Utc) + Duration::seconds(i);
        write_profile(&tx, &regular, seen).unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn common_words_with_a_rare_combination_are_found_beyond_the_walk() {
    let (_dir, mut store) = temp_store();
    // Both words are common, and the newest regulars (walked first) never match either:
    // the walk gives up, and the word pairs find the oldest hundred.
    bulk(&mut store, 10_100, |i| match i {
        0..100 => "Alpha Omega".into(),
        100..1100 => "Gamma Omega".into(),
        1100..2100 => "Alpha Beta".into(),
        _ => format!("Delta Kappa {i}"),
    });
    let found = store.search_regulars("alp ome", 5).unwrap();
    let stamps: Vec<i64> = found.iter().map(|c| c.regular.hlc().wall_ms).collect();
    assert_eq!(stamps, [99, 98, 97, 96, 95]);
    // In either order, by whole words or prefixes.
    for query in ["alpha omega", "omega alpha", "o a"] {
        assert_eq!(
            store.search_regulars(query, 500).unwrap().len(),
            100,
            "{query}"
        );
    }
    assert_index_matches_profiles(&store);
}

#[test]
fn two_terms_may_match_one_word() {
    let (_dir, mut store) = temp_store();
    bulk(&mut store, 3000, |i| {
        if i % 1000 == 0 {
            "Nguyen Lan".into()
        } else {
            format!("Tran Minh {i}")
        }
    });
    let found = store.search_regulars("ng nguyen", 10).unwrap();
    assert_eq!(names(&found), ["Nguyen Lan", "Nguyen Lan", "Nguyen Lan"]);
    assert_eq!(store.search_regulars("tr tran m", 5).unwrap().len(), 5);
}

#[test]
fn common_prefixes_are_walked_by_recency_and_still_ranked_right() {
    let (_dir, mut store) = temp_store();
    let n = 2000;
    bulk(&mut store, n, |i| format!("Nguyen {i}"));
    let found = store.search_regulars("ng", 3).unwrap();
    let last = format!("Nguyen {}", n - 1);
    assert_eq!(names(&found)[0], last);
    assert_eq!(found.len(), 3);
    // Ends-with digits: the newest first; fewer than asked, then "contains".
    let ends = store.search_regulars("0", 5).unwrap();
    assert_eq!(names(&ends)[0], format!("Nguyen {}", (n - 1) / 10 * 10));
    let one = store.search_regulars(&format!("{:06}", 7), 3).unwrap();
    assert_eq!(names(&one)[0], "Nguyen 7", "ends with 000007");
    assert!(names(&one).len() == 1 || one[1].regular.phone().unwrap().contains("000007"));
    let contains = store.search_regulars("901000", 200).unwrap();
    assert!(contains.len() >= 100);
    assert!(contains
        .iter()
        .all(|c| c.regular.phone().unwrap().contains("901000")));
}

#[test]
fn vietnamese_names_are_found_typed_without_marks() {
    let (_dir, mut store) = temp_store();
    save(&mut store, "Trần Thị Phượng", None, 0);
    save(&mut store, "Lê Đức Anh", None, 1);
    save(&mut store, "Phương Nguyễn", None, 2);
    save(&mut store, "Dương Quốc Tuấn", None, 3);
    assert_eq!(
        names(&store.search_regulars("phuong", 10).unwrap()),
        ["Phương Nguyễn", "Trần Thị Phượng"]
    );
    assert_eq!(
        names(&store.search_regulars("PHUONG tran", 10).unwrap()),
        ["Trần Thị Phượng"]
    );
    assert_eq!(
        names(&store.search_regulars("duc", 10).unwrap()),
        ["Lê Đức Anh"]
    );
    assert_eq!(
        names(&store.search_regulars("Đức", 10).unwrap()),
        ["Lê Đức Anh"]
    );
    assert_eq!(
        names(&store.search_regulars("du", 10).unwrap()),
        ["Dương Quốc Tuấn", "Lê Đức Anh"]
    );
    assert_eq!(
        names(&store.search_regulars("quoc tuan", 10).unwrap()),
        ["Dương Quốc Tuấn"]
    );
}

/// The search tables say exactly what the profiles and the word index say.
fn assert_index_matches_profiles(store: &Store) {
    let rows = |sql: &str| -> Vec<String> {
        let mut stmt = store.conn.prepare(sql).unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(
        rows("SELECT last_seen || '|' || key || '|' || folded || '|' || coalesce(phone, '') FROM regular_search"),
        rows("SELECT last_seen || '|' || key || '|' || folded || '|' || coalesce(phone, '') FROM regulars"),
    );
    assert_eq!(
        rows("SELECT word || '|' || regulars FROM regular_vocab"),
        rows("SELECT word || '|' || count(*) FROM regular_words GROUP BY word"),
    );
    let mut pairs = Vec::new();
    let mut stmt = store
        .conn
        .prepare("SELECT key, folded FROM regulars")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (key, folded) = row.unwrap();
        let words: Vec<&str> = folded.split(' ').collect();
        pairs.extend(word_pairs(&words).into_iter().map(|p| format!("{p}|{key}")));
    }
    pairs.sort();
    assert_eq!(
        rows("SELECT pair || '|' || regular FROM regular_pairs"),
        pairs
    );
}

#[test]
fn edits_visits_and_erasures_keep_the_search_tables_in_step() {
    let (_dir, mut store) = temp_store();
    let lan = save(&mut store, "Nguyễn Thị Lan", Some("0901234567"), 0);
    let minh = save(&mut store, "Trần Văn Minh", Some("0907654321"), 1);
    save(&mut store, "Lê Thị Mai", None, 2);
    assert_index_matches_profiles(&store);
    let mut rename = edit("Nguyễn Ngọc Lan", Some("0911111111"));
    rename.id = Some(lan);
    store.save_regular(&rename, at(3)).unwrap();
    store.log_visit(minh, None, at(40)).unwrap();
    assert_index_matches_profiles(&store);
    assert_eq!(
        names(&store.search_regulars("", 1).unwrap()),
        ["Trần Văn Minh"]
    );
    assert!(store.search_regulars("nguyen thi", 10).unwrap().is_empty());
    assert_eq!(
        names(&store.search_regulars("ngoc lan", 10).unwrap()),
        ["Nguyễn Ngọc Lan"]
    );
    assert!(store.search_regulars("4567", 10).unwrap().is_empty());
    store.erase_regular(minh, at(50)).unwrap();
    assert_index_matches_profiles(&store);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM regular_vocab WHERE word = 'minh'"
        ),
        0
    );
    assert!(store.search_regulars("tran", 10).unwrap().is_empty());
}

#[test]
fn digits_find_phones_ending_with_them_first_then_containing_them() {
    let (_dir, mut store) = temp_store();
    save(&mut store, "Ends", Some("0901 234 567"), 0);
    save(&mut store, "Contains", Some("0956 700 000"), 5);
    save(&mut store, "Neither", Some("0912 000 000"), 9);
    save(&mut store, "No phone", None, 10);
    assert_eq!(
        names(&store.search_regulars("4567", 10).unwrap()),
        ["Ends"],
        "only one ends with or contains 4567"
    );
    assert_eq!(
        names(&store.search_regulars("567", 10).unwrap()),
        ["Ends", "Contains"],
        "ending before containing, whatever the recency"
    );
    assert_eq!(
        names(&store.search_regulars("+84 567", 10).unwrap()),
        Vec::<&str>::new()
    );
    let card = store.find_by_phone("090-123-4567").unwrap().unwrap();
    assert_eq!(card.regular.name(), "Ends");
    assert!(store.find_by_phone("1234567").unwrap().is_none());
}

#[test]
fn visits_are_counted_and_queued_under_their_own_id() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Lan", None, 0);
    let rating = Uuid::now_v7();
    store.log_visit(id, None, at(10)).unwrap();
    let visit = store.log_visit(id, Some((rating, true)), at(20)).unwrap();
    store.log_visit(id, None, at(30)).unwrap();
    let card = store.regular_card(id).unwrap().unwrap();
    assert_eq!(card.visit_count, 3);
    assert_eq!(card.last_visit, Some(at(30).with_timezone(&Utc)));
    assert!(card.last_rating_unhappy);
    let batch = store.pending_batch(10).unwrap();
    let queued = batch.iter().find(|e| e.id == visit).expect("queued by id");
    assert_eq!(queued.kind, "visit");
    assert_eq!(queued.body["rating_id"], rating.to_string());
    assert_eq!(queued.body["unhappy"], true);
    let err = store.log_visit(Uuid::now_v7(), None, at(40)).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
}

#[test]
fn erasure_removes_every_trace_queues_only_the_tombstone_and_refuses_the_id_after() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Zyxwquorth", Some("0987654321"), 0);
    let other = save(&mut store, "Lan", Some("0901234567"), 1);
    store.log_visit(id, None, at(5)).unwrap();
    store.log_visit(other, None, at(6)).unwrap();
    // Some events acknowledged, some pending: both go.
    let first = store.pending_batch(1).unwrap();
    store
        .settle(&[(first[0].seq, crate::store::Settlement::Acknowledged)])
        .unwrap();
    store.erase_regular(id, at(10)).unwrap();

    assert!(store.regular_card(id).unwrap().is_none());
    assert!(store.search_regulars("zyx", 10).unwrap().is_empty());
    assert!(store.search_regulars("4321", 10).unwrap().is_empty());
    assert_eq!(count(&store, "SELECT count(*) FROM visits"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM regular_words"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM regular_phones"), 10);
    let kinds: Vec<(String, serde_json::Value)> = store
        .outbox()
        .unwrap()
        .into_iter()
        .map(|(_, kind, body)| (kind, body))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(!serde_json::to_string(&kinds)
        .unwrap()
        .contains("Zyxwquorth"));
    let erased = kinds.iter().find(|(k, _)| k == "regular_erased").unwrap();
    assert_eq!(erased.1["regular_id"], id.to_string());
    assert!(store.is_erased(id).unwrap());

    let mut again = edit("Zyxwquorth", None);
    again.id = Some(id);
    let err = store.save_regular(&again, at(20)).unwrap_err();
    assert!(err.to_string().contains("forgotten"), "{err}");
}

fn remote(id: Uuid, name: &str, wall_ms: i64, node: u8) -> Regular {
    Regular::new(NewRegular {
        regular_id: id,
        hlc: Hlc {
            wall_ms,
            counter: 0,
            node: Uuid::from_bytes([node; 16]),
        },
        name: name.into(),
        phone: None,
        usual: UsualOrder::default(),
        dietary: None,
        consent: Consent {
            version: 1,
            given_at: Utc::now(),
            dietary_given_at: None,
        },
        code_hash: None,
    })
    .unwrap()
}

fn page(cursor: u64) -> RegularsResponse {
    RegularsResponse {
        protocol: countertop_protocol::PROTOCOL_VERSION,
        cursor,
        more: false,
        profiles: vec![],
        visits: vec![],
        erased: vec![],
        server_time: Utc::now(),
    }
}

#[test]
fn pulled_profiles_replace_ours_only_when_later_and_move_our_clock_past_them() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Local", None, 0);
    let local_hlc = store.regular_card(id).unwrap().unwrap().regular.hlc();

    let mut older = page(3);
    older.profiles = vec![remote(id, "Older", local_hlc.wall_ms - 1, 9)];
    let applied = store.apply_regulars(&older).unwrap();
    assert_eq!(applied.profiles, 0);
    assert_eq!(
        store.regular_card(id).unwrap().unwrap().regular.name(),
        "Local"
    );
    assert_eq!(store.regulars_cursor().unwrap(), 3);

    let far = local_hlc.wall_ms + 3_600_000;
    let stranger = Uuid::now_v7();
    let mut newer = page(7);
    newer.profiles = vec![remote(id, "Remote", far, 9), remote(stranger, "Mai", 5, 9)];
    let applied = store.apply_regulars(&newer).unwrap();
    assert_eq!(applied.profiles, 2);
    assert_eq!(
        store.regular_card(id).unwrap().unwrap().regular.name(),
        "Remote"
    );
    assert_eq!(names(&store.search_regulars("mai", 5).unwrap()), ["Mai"]);
    assert!(store.search_regulars("local", 5).unwrap().is_empty());

    // Our next edit orders after the remote one, though our wall clock is behind it.
    let mut change = edit("Local again", None);
    change.id = Some(id);
    let mine = store.save_regular(&change, at(1)).unwrap().regular.hlc();
    assert!(mine > remote(id, "Remote", far, 9).hlc());
    assert_eq!(store.regulars_cursor().unwrap(), 7);
}

#[test]
fn pulled_visits_add_once_by_id_and_tombstones_purge() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Lan", Some("0901234567"), 0);
    let mine = store.log_visit(id, None, at(1)).unwrap();
    let mut visits = page(1);
    let record = |vid: Uuid, minute: i64| countertop_protocol::VisitRecord {
        id: vid,
        at: at(minute).with_timezone(&Utc),
        visit: Visit {
            regular_id: id,
            rating_id: None,
            unhappy: None,
        },
    };
    let theirs = Uuid::now_v7();
    visits.visits = vec![record(mine, 1), record(theirs, 50), record(theirs, 50)];
    assert_eq!(store.apply_regulars(&visits).unwrap().visits, 1);
    let card = store.regular_card(id).unwrap().unwrap();
    assert_eq!(card.visit_count, 2);
    assert_eq!(card.last_visit, Some(at(50).with_timezone(&Utc)));

    let mut erased = page(2);
    erased.erased = vec![RegularErased {
        regular_id: id,
        erased_at: Utc::now(),
    }];
    erased.profiles = vec![remote(id, "Lan", Hlc::MAX_WALL_MS, 9)];
    store.apply_regulars(&erased).unwrap();
    assert!(store.regular_card(id).unwrap().is_none(), "not revived");
    assert_eq!(count(&store, "SELECT count(*) FROM visits"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM regular_phones"), 0);
    let kinds: Vec<String> = store.outbox().unwrap().into_iter().map(|e| e.1).collect();
    assert!(
        kinds.is_empty(),
        "nothing queued for an erasure from HQ: {kinds:?}"
    );
}

#[test]
fn events_refused_as_erased_name_their_regular() {
    let (_dir, mut store) = temp_store();
    let id = save(&mut store, "Lan", None, 0);
    let event = store.pending_batch(1).unwrap()[0].id;
    assert_eq!(store.regulars_of_events(&[event]).unwrap(), [id]);
    store.purge_regular(id, Utc::now()).unwrap();
    assert!(store.regular_card(id).unwrap().is_none());
    assert!(store.outbox().unwrap().is_empty());
}

#[test]
fn a_regular_is_erased_twelve_months_after_their_last_visit_and_not_before() {
    let (_dir, mut store) = temp_store();
    let kept = save(&mut store, "Lan", Some("0901234567"), 0);
    let lapsed = save(&mut store, "Minh", None, 0);
    let a_year = 365 * 24 * 60;
    // Lan came back a month later; Minh never did.
    store.log_visit(kept, None, at(30 * 24 * 60)).unwrap();
    assert_eq!(store.erase_lapsed_regulars(at(a_year - 1)).unwrap(), 0);
    assert_eq!(store.erase_lapsed_regulars(at(a_year + 1)).unwrap(), 1);
    assert!(store.is_erased(lapsed).unwrap());
    assert!(store.regular_card(lapsed).unwrap().is_none());
    assert!(store.regular_card(kept).unwrap().is_some());
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM outbox WHERE kind = 'regular_erased'"
        ),
        1,
        "the erasure goes to HQ like a customer's own"
    );
}

#[test]
fn a_database_of_100000_regulars_migrates_to_the_search_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("countertop.db");
    let search = crate::store::migrations::version_starting("CREATE TABLE regular_search")
        .expect("the search migration");
    let families = ["Nguyễn", "Trần", "Lê", "Phạm", "Đặng"];
    let middles = ["Thị", "Văn", "Đức", "Ngọc"];
    let givens = ["Phượng", "Mai", "Lan", "Hùng", "Anh", "Minh", "Thảo"];
    let name = |i: usize| {
        format!(
            "{} {} {}",
            families[i % 5],
            middles[(i / 5) % 4],
            givens[(i / 20) % 7]
        )
    };
    let n = 100_000;
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        crate::store::migrations::apply_until(&mut conn, search - 1).unwrap();
        let tx = conn.transaction().unwrap();
        let consent = to_json(&Consent {
            version: 1,
            given_at: Utc::now(),
            dietary_given_at: None,
        })
        .unwrap();
        let mut regular = tx
            .prepare(
                "INSERT INTO regulars (key, id, hlc, name, phone, consent, folded, created_at,
                                       updated_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)",
            )
            .unwrap();
        let mut word = tx
            .prepare("INSERT OR IGNORE INTO regular_words (word, regular) VALUES (?1, ?2)")
            .unwrap();
        for i in 0..n {
            let name = name(i);
            let folded = words(&name).join(" ");
            let seen = time_text(at(0).with_timezone(&Utc) + Duration::seconds(i as i64));
            regular
                .execute(params![
                    i as i64 + 1,
                    Uuid::now_v7().to_string(),
                    Hlc::tick(None, i as i64, Uuid::nil()).to_sortable(),
                    name,
                    format!("0901{i:06}"),
                    consent,
                    folded,
                    seen,
                ])
                .unwrap();
            for w in folded.split(' ') {
                word.execute(params![w, i as i64 + 1]).unwrap();
            }
        }
        drop((regular, word));
        tx.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        crate::store::migrations::LATEST
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM regular_search"),
        n as i64
    );
    assert_index_matches_profiles(&store);
    // The search finds exactly what a scan of every name finds, newest first.
    for query in ["le thi phuong", "duc", "tran ngoc m", "phuong dang"] {
        let terms = words(query);
        let expected: Vec<usize> = (0..n)
            .rev()
            .filter(|&i| {
                let folded = words(&name(i)).join(" ");
                terms.iter().all(|t| word_starts(&folded, t))
            })
            .take(50)
            .collect();
        let found = store.search_regulars(query, 50).unwrap();
        let stamps: Vec<usize> = found
            .iter()
            .map(|c| c.regular.hlc().wall_ms as usize)
            .collect();
        assert_eq!(stamps, expected, "{query}");
    }
}

/// Every index row (words, pairs, phone suffixes, the narrow search table) is exactly
/// what the profiles say, each with its regular's current `seen`.
fn assert_index_rows_carry_seen(store: &Store) {
    let rows = |sql: &str| -> Vec<String> {
        let mut stmt = store.conn.prepare(sql).unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        rows
    };
    let mut expected = [Vec::new(), Vec::new(), Vec::new()];
    let mut stmt = store
        .conn
        .prepare(&format!("SELECT {} FROM regulars", Indexed::COLUMNS))
        .unwrap();
    for regular in stmt.query_map([], Indexed::from_row).unwrap() {
        let regular = regular.unwrap();
        for (i, (_, _, tokens)) in index_rows(&regular).into_iter().enumerate() {
            expected[i].extend(
                tokens
                    .into_iter()
                    .map(|t| format!("{t}|{}|{}", regular.seen, regular.key)),
            );
        }
    }
    for (i, (table, column)) in [
        ("regular_words", "word"),
        ("regular_pairs", "pair"),
        ("regular_phones", "suffix"),
    ]
    .into_iter()
    .enumerate()
    {
        expected[i].sort();
        expected[i].dedup();
        assert_eq!(
            rows(&format!(
                "SELECT {column} || '|' || seen || '|' || regular FROM {table}"
            )),
            expected[i],
            "{table}"
        );
    }
    assert_eq!(
        rows("SELECT seen || '|' || key || '|' || folded || '|' || coalesce(phone, '') FROM regular_search"),
        rows("SELECT seen || '|' || key || '|' || folded || '|' || coalesce(phone, '') FROM regulars"),
    );
}

#[test]
fn seen_is_last_seen_in_milliseconds() {
    let (_dir, mut store) = temp_store();
    let lan = save(&mut store, "Lan", None, 0);
    store.log_visit(lan, None, at(90)).unwrap();
    let (last_seen, seen): (String, i64) = store
        .conn
        .query_row("SELECT last_seen, seen FROM regulars", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(parse_time(&last_seen).unwrap().timestamp_millis(), seen);
    assert_eq!(seen, at(90).timestamp_millis());
}

#[test]
fn erasing_a_regular_leaves_no_row_of_theirs_in_any_search_index() {
    let (_dir, mut store) = temp_store();
    let lan = save(&mut store, "Nguyễn Thị Lan", Some("0901234567"), 0);
    save(&mut store, "Trần Văn Minh", Some("0907654321"), 1);
    store.log_visit(lan, None, at(30)).unwrap();
    let key: i64 = store
        .conn
        .query_row(
            "SELECT key FROM regulars WHERE id = ?1",
            [lan.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    store.erase_regular(lan, at(40)).unwrap();
    for table in ["regular_words", "regular_pairs", "regular_phones"] {
        assert_eq!(
            count(
                &store,
                &format!("SELECT count(*) FROM {table} WHERE regular = {key}")
            ),
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &store,
            &format!("SELECT count(*) FROM regular_search WHERE key = {key}")
        ),
        0
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM regular_vocab WHERE word = 'lan'"
        ),
        0
    );
    assert_index_rows_carry_seen(&store);
    for query in ["lan", "nguyen thi", "4567", "0901", "123"] {
        assert!(
            store.search_regulars(query, 10).unwrap().is_empty(),
            "{query}"
        );
    }
}

#[test]
fn a_rename_or_new_phone_moves_every_index_row_and_a_visit_moves_its_seen() {
    let (_dir, mut store) = temp_store();
    let lan = save(&mut store, "Nguyễn Thị Lan", Some("0901234567"), 0);
    let mai = save(&mut store, "Nguyễn Thị Mai", Some("0911234567"), 1);
    assert_index_rows_carry_seen(&store);
    // Mai is the more recent, so she comes first by every plan (walk, drive, pair).
    for query in ["nguyen thi", "4567", "thi nguyen"] {
        assert_eq!(
            names(&store.search_regulars(query, 10).unwrap()),
            ["Nguyễn Thị Mai", "Nguyễn Thị Lan"],
            "{query}"
        );
    }
    store.log_visit(lan, None, at(60)).unwrap();
    assert_index_rows_carry_seen(&store);
    for query in ["nguyen thi", "4567", "thi nguyen", "1234567"] {
        assert_eq!(
            names(&store.search_regulars(query, 10).unwrap()),
            ["Nguyễn Thị Lan", "Nguyễn Thị Mai"],
            "{query}"
        );
    }
    let mut rename = edit("Phạm Ngọc Lan", Some("0988888888"));
    rename.id = Some(lan);
    store.save_regular(&rename, at(61)).unwrap();
    assert_index_rows_carry_seen(&store);
    assert_eq!(
        names(&store.search_regulars("4567", 10).unwrap()),
        ["Nguyễn Thị Mai"]
    );
    assert_eq!(
        names(&store.search_regulars("nguyen thi", 10).unwrap()),
        ["Nguyễn Thị Mai"]
    );
    assert_eq!(
        names(&store.search_regulars("pham ngoc", 10).unwrap()),
        ["Phạm Ngọc Lan"]
    );
    assert_eq!(
        names(&store.search_regulars("8888", 10).unwrap()),
        ["Phạm Ngọc Lan"]
    );
    // A visit older than the last one moves nothing.
    store.log_visit(mai, None, at(-30)).unwrap();
    assert_index_rows_carry_seen(&store);
    assert_eq!(
        names(&store.search_regulars("", 10).unwrap()),
        ["Phạm Ngọc Lan", "Nguyễn Thị Mai"]
    );
}

#[test]
fn a_database_from_before_seen_migrates_with_every_index_row_in_last_seen_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("countertop.db");
    let before = crate::store::migrations::version_starting("ALTER TABLE regulars ADD COLUMN seen")
        .expect("the seen migration")
        - 1;
    let n = 300;
    let name = |i: usize| {
        let families = ["Nguyễn", "Trần", "Lê"];
        let givens = ["Mai", "Lan", "Hùng", "Anh"];
        format!("{} Thị {}", families[i % 3], givens[(i / 3) % 4])
    };
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        crate::store::migrations::apply_until(&mut conn, before).unwrap();
        let tx = conn.transaction().unwrap();
        let consent = to_json(&Consent {
            version: 1,
            given_at: Utc::now(),
            dietary_given_at: None,
        })
        .unwrap();
        for i in 0..n {
            let key = i as i64 + 1;
            let name = name(i);
            let folded = words(&name).join(" ");
            let phone = format!("09{:08}", i * 7);
            // Last seen in an order that is not the keys' order, with milliseconds.
            let seen = time_text(
                at(0).with_timezone(&Utc) + Duration::milliseconds(((i * 37) % n) as i64 * 1001),
            );
            tx.execute(
                "INSERT INTO regulars (key, id, hlc, name, phone, consent, folded, created_at,
                                       updated_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)",
                params![
                    key,
                    Uuid::now_v7().to_string(),
                    Hlc::tick(None, i as i64, Uuid::nil()).to_sortable(),
                    name,
                    phone,
                    consent,
                    folded,
                    seen
                ],
            )
            .unwrap();
            let words: Vec<&str> = folded.split(' ').collect();
            for w in &words {
                tx.execute(
                    "INSERT OR IGNORE INTO regular_words (word, regular) VALUES (?1, ?2)",
                    params![w, key],
                )
                .unwrap();
            }
            for p in word_pairs(&words) {
                tx.execute(
                    "INSERT OR IGNORE INTO regular_pairs (pair, regular) VALUES (?1, ?2)",
                    params![p, key],
                )
                .unwrap();
            }
            for s in suffixes(&phone) {
                tx.execute(
                    "INSERT OR IGNORE INTO regular_phones (suffix, regular) VALUES (?1, ?2)",
                    params![s, key],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        crate::store::migrations::LATEST
    );
    assert_index_rows_carry_seen(&store);
    assert_index_matches_profiles(&store);
    // Every plan gives what a scan of every profile gives, most recently seen first.
    let all: Vec<(String, String, String)> = store
        .conn
        .prepare("SELECT last_seen, folded, phone FROM regulars ORDER BY last_seen DESC, key DESC")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for query in [
        "",
        "nguyen",
        "tran thi lan",
        "thi hung",
        "le a",
        "7",
        "0900000",
    ] {
        let found: Vec<String> = store
            .search_regulars(query, 25)
            .unwrap()
            .iter()
            .map(|c| c.regular.phone().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = match Query::parse(query) {
            Query::Recent => all.iter().map(|r| r.2.clone()).take(25).collect(),
            Query::Words(terms) => all
                .iter()
                .filter(|r| terms.iter().all(|t| word_starts(&r.1, t)))
                .map(|r| r.2.clone())
                .take(25)
                .collect(),
            Query::Phone(d) => {
                let ends = all.iter().filter(|r| r.2.ends_with(&d));
                let inner = all
                    .iter()
                    .filter(|r| r.2.contains(&d) && !r.2.ends_with(&d));
                ends.chain(inner).map(|r| r.2.clone()).take(25).collect()
            }
        };
        assert!(!expected.is_empty(), "{query}");
        assert_eq!(found, expected, "{query}");
    }
}

#[test]
fn a_pull_of_profiles_visits_and_tombstones_keeps_every_index_row_at_its_seen() {
    let (_dir, mut store) = temp_store();
    let local = save(&mut store, "Nguyễn Thị Lan", Some("0901234567"), 0);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut first = page(1);
    first.profiles = vec![
        remote(a, "Trần Văn Minh", 10, 3),
        remote(b, "Lê Thị Mai", 11, 3),
    ];
    // A visit far in the future moves Minh ahead of everyone, by every plan.
    first.visits = vec![countertop_protocol::VisitRecord {
        id: Uuid::now_v7(),
        at: Utc::now() + Duration::days(3),
        visit: Visit {
            regular_id: a,
            rating_id: None,
            unhappy: None,
        },
    }];
    store.apply_regulars(&first).unwrap();
    assert_index_rows_carry_seen(&store);
    assert_eq!(
        names(&store.search_regulars("", 1).unwrap()),
        ["Trần Văn Minh"]
    );
    assert_eq!(
        names(&store.search_regulars("minh", 5).unwrap()),
        ["Trần Văn Minh"]
    );
    // An edit from HQ renames Mai; a tombstone erases our own Lan.
    let mut second = page(2);
    second.profiles = vec![remote(b, "Lê Ngọc Mai", 12, 3)];
    second.erased = vec![RegularErased {
        regular_id: local,
        erased_at: Utc::now(),
    }];
    store.apply_regulars(&second).unwrap();
    assert_index_rows_carry_seen(&store);
    assert!(store.search_regulars("le thi", 5).unwrap().is_empty());
    assert_eq!(
        names(&store.search_regulars("le ngoc", 5).unwrap()),
        ["Lê Ngọc Mai"]
    );
    assert!(store.search_regulars("4567", 5).unwrap().is_empty());
    assert!(store.search_regulars("lan", 5).unwrap().is_empty());
}

/// A regular as the scan reads it: seen, key, folded name, phone digits.
type Scanned = (i64, i64, String, Option<String>);

/// Every regular, most recently seen first (then by key).
fn scan(store: &Store) -> Vec<Scanned> {
    let mut stmt = store
        .conn
        .prepare("SELECT seen, key, folded, phone FROM regulars")
        .unwrap();
    let mut all: Vec<Scanned> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    all.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    all
}

/// The regulars a search must return, found the slow way: every profile read, checked
/// against the filters, ordered most recently seen first (then by key), cut at `limit`;
/// digits take the phones ending with them, then those containing them.
fn searched_by_scan(all: &[Scanned], text: &str, limit: usize) -> Vec<i64> {
    let matching = |filters: &[Filter]| -> Vec<i64> {
        all.iter()
            .filter(|(_, _, folded, phone)| {
                filters.iter().all(|f| f.matches(folded, phone.as_deref()))
            })
            .map(|r| r.1)
            .collect()
    };
    let mut found = match Query::parse(text) {
        Query::Recent => matching(&[]),
        Query::Words(words) => matching(&words.into_iter().map(Filter::Word).collect::<Vec<_>>()),
        Query::Phone(digits) => {
            let mut found = matching(&[Filter::PhoneEndsWith(digits.clone())]);
            found.extend(matching(&[Filter::PhoneContainsOnly(digits)]));
            found
        }
    };
    found.truncate(limit);
    found
}

/// Regulars named as the bench's synthetic ones are (a few common Vietnamese family and
/// middle names, English-like names with diacritics), seen at random times with ties.
fn bulk_vietnamese(store: &mut Store, n: usize) {
    let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Vũ", "Võ", "Lý"];
    let middle = ["Thị", "Văn", "Hữu", "Minh", "Thanh"];
    let given = [
        "Lan", "Linh", "Long", "Mai", "Hùng", "Hương", "Thảo", "Trang", "Vy", "Tâm", "Nam",
    ];
    let first = ["Emma", "Leo", "Mia", "Liam", "Zoë", "Chloé"];
    let last = ["Smith", "Lefèvre", "Martin", "Nguyen", "Müller"];
    let mut rng = fastrand::Rng::with_seed(5);
    let tx = store.conn.transaction().unwrap();
    for _ in 0..n {
        let kind = rng.u8(..10);
        let mut pick = |from: &[&'static str]| from[rng.usize(..from.len())];
        let name = match kind {
            0..4 => format!("{} {} {}", pick(&family), pick(&middle), pick(&given)),
            4..7 => format!("{} {}", pick(&family), pick(&given)),
            _ => format!("{} {}", pick(&first), pick(&last)),
        };
        let regular = Regular::new(NewRegular {
            regular_id: Uuid::now_v7(),
            hlc: Hlc::tick(None, 1, Uuid::nil()),
            name,
            phone: Some(format!("09{:08}", rng.u32(..100_000_000))),
            usual: UsualOrder::default(),
            dietary: None,
            consent: Consent {
                version: 1,
                given_at: Utc::now(),
                dietary_given_at: None,
            },
            code_hash: None,
        })
        .unwrap();
        // Whole seconds over a few hours: many regulars share a `seen`.
        let seen = at(0).with_timezone(&Utc) + Duration::seconds(rng.i64(0..20_000));
        write_profile(&tx, &regular, seen).unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn every_plan_returns_what_a_scan_of_every_regular_returns() {
    let (_dir, mut store) = temp_store();
    bulk_vietnamese(&mut store, 20_000);
    let all = scan(&store);
    let typed = [
        "le thi mai",
        "Nguyễn Thị L",
        "nguyen van",
        "tran hu",
        "vo thanh tam",
        "ly minh long",
        "pham t h",
        "mia le",
        "emma sm",
        "l n t",
        "thi le m",
        "huynh huu hu",
        "nguyen nguyen",
        "zoe mu",
        "090",
        "lan 4",
    ];
    let mut queries = 0;
    for name in typed {
        let chars: Vec<char> = name.chars().collect();
        for n in 1..=chars.len() {
            let query: String = chars[..n].iter().collect();
            for limit in [1, 5, 20] {
                let found: Vec<i64> = store
                    .search_regulars(&query, limit)
                    .unwrap()
                    .iter()
                    .map(|card| {
                        store
                            .conn
                            .query_row(
                                "SELECT key FROM regulars WHERE id = ?1",
                                [card.regular.id().to_string()],
                                |r| r.get(0),
                            )
                            .unwrap()
                    })
                    .collect();
                assert_eq!(
                    found,
                    searched_by_scan(&all, &query, limit),
                    "{query:?}, limit {limit}"
                );
                queries += 1;
            }
        }
    }
    assert!(queries > 400);
}

/// A page of `n` regulars with a visit each, and `erased` erasures of regulars stored
/// before it.
fn big_page(cursor: u64, n: usize, erased: &[Uuid]) -> RegularsResponse {
    let mut page = page(cursor);
    for i in 0..n {
        let id = Uuid::now_v7();
        page.profiles
            .push(remote(id, &format!("Lan {i}"), 1_000 + i as i64, 7));
        page.visits.push(countertop_protocol::VisitRecord {
            id: Uuid::now_v7(),
            at: at(i as i64).with_timezone(&Utc),
            visit: Visit {
                regular_id: id,
                rating_id: None,
                unhappy: None,
            },
        });
    }
    page.erased = erased
        .iter()
        .map(|id| RegularErased {
            regular_id: *id,
            erased_at: Utc::now(),
        })
        .collect();
    page
}

/// What a store holds of its regulars, to compare two stores.
fn holdings(store: &Store) -> (i64, i64, i64, i64, u64) {
    (
        count(store, "SELECT count(*) FROM regulars"),
        count(store, "SELECT count(*) FROM visits"),
        count(store, "SELECT count(*) FROM regular_words"),
        count(store, "SELECT count(*) FROM regular_tombstones"),
        store.regulars_cursor().unwrap(),
    )
}

#[test]
fn a_page_splits_into_parts_in_order_erasures_profiles_visits_and_only_the_last_has_the_cursor() {
    let pulled = big_page(9, 250, &[Uuid::now_v7(), Uuid::now_v7()]);
    let parts = pull_parts(&pulled, 100);
    assert_eq!(parts.len(), 6, "502 records in parts of 100");
    let sizes: Vec<(usize, usize, usize)> = parts
        .iter()
        .map(|p| (p.erased.len(), p.profiles.len(), p.visits.len()))
        .collect();
    assert_eq!(
        sizes,
        [
            (2, 98, 0),
            (0, 100, 0),
            (0, 52, 48),
            (0, 0, 100),
            (0, 0, 100),
            (0, 0, 2)
        ]
    );
    let cursors: Vec<Option<u64>> = parts.iter().map(|p| p.cursor).collect();
    assert_eq!(cursors, [None, None, None, None, None, Some(9)]);
    let profiles: Vec<Uuid> = parts
        .iter()
        .flat_map(|p| p.profiles)
        .map(Regular::id)
        .collect();
    let expected: Vec<Uuid> = pulled.profiles.iter().map(Regular::id).collect();
    assert_eq!(
        profiles, expected,
        "every profile once, in the page's order"
    );

    let empty = page(4);
    let parts = pull_parts(&empty, 100);
    assert_eq!(parts.len(), 1, "an empty page still moves the cursor");
    assert_eq!(parts[0].cursor, Some(4));
    assert_eq!(
        pull_parts(&big_page(1, 3, &[]), 0).len(),
        6,
        "a part holds one at least"
    );
}

#[test]
fn a_page_applied_in_parts_holds_what_one_transaction_holds_and_a_stop_between_parts_loses_nothing()
{
    let (_a, mut whole) = temp_store();
    let (_b, mut parted) = temp_store();
    let (_c, mut stopped) = temp_store();
    let gone: Vec<Uuid> = (0..3)
        .map(|i| {
            let id = Uuid::now_v7();
            let mut first = page(1);
            first.profiles = vec![remote(id, &format!("Mai {i}"), 500, 3)];
            for store in [&mut whole, &mut parted, &mut stopped] {
                store.apply_regulars(&first).unwrap();
            }
            id
        })
        .collect();
    let page = big_page(2, 230, &gone);

    let all = whole.apply_regulars(&page).unwrap();
    assert_eq!((all.profiles, all.visits, all.erased), (230, 230, 3));

    let mut sum = PullApplied::default();
    for part in pull_parts(&page, 100) {
        if part.cursor.is_none() {
            assert_eq!(
                parted.regulars_cursor().unwrap(),
                1,
                "not moved before the last part"
            );
        }
        sum += parted.apply_pull_part(&part).unwrap();
    }
    assert_eq!(sum, all);
    assert_eq!(holdings(&parted), holdings(&whole));
    assert_index_matches_profiles(&parted);

    // Stopped after two parts: the cursor has not moved, so the page comes again whole.
    for part in &pull_parts(&page, 100)[..2] {
        stopped.apply_pull_part(part).unwrap();
    }
    assert_eq!(stopped.regulars_cursor().unwrap(), 1);
    stopped.apply_regulars(&page).unwrap();
    assert_eq!(holdings(&stopped), holdings(&whole));
    assert_index_matches_profiles(&stopped);
    let last = page.profiles.last().unwrap().id();
    assert!(stopped.regular_card(last).unwrap().is_some());
    assert!(stopped.regular_card(gone[0]).unwrap().is_none());
}
