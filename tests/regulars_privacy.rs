//! "Forget me" leaves nothing behind: after an erasure, neither the database file nor its
//! write-ahead log holds the regular's name, phone number or code hash in any byte, live
//! or deleted.

use std::path::Path;

use countertop::config::KioskConfig;
use countertop::core::{Core, RegularEdit};
use uuid::Uuid;

const NAME: &str = "Zyxwquorth";
const PHONE: &str = "0987 613 245";
const DIGITS: &str = "0987613245";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The database and every SQLite file beside it (-wal, -shm, journals).
fn database_files(database: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = database.parent().expect("database dir");
    let stem = database
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    std::fs::read_dir(dir)
        .expect("reads dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&stem))
        })
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("reads file"),
            )
        })
        .collect()
}

fn assert_clean(database: &Path, secrets: &[&str]) {
    for (file, bytes) in database_files(database) {
        for secret in secrets {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{file} still holds {secret:?} after the erasure"
            );
        }
    }
}

#[test]
fn an_erased_regular_leaves_no_byte_in_the_database_or_its_wal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("countertop.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (kept, hash) = {
        let (core, _thread) =
            Core::start(database.clone(), KioskConfig::default()).expect("core starts");
        runtime.block_on(async {
            let edit = |name: &str, phone: &str| RegularEdit {
                id: None,
                name: name.into(),
                phone: Some(phone.into()),
                usual: Default::default(),
                dietary: Some(format!("no peanuts for {name}")),
                consent_version: 1,
                dietary_consent: true,
                code: None,
            };
            let mut first = edit(NAME, PHONE);
            first.code = Some("4826".into());
            let card = core.save_regular(first).await.expect("saved");
            let hash = card.regular.code_hash().expect("a code hash").to_owned();
            let kept = core
                .save_regular(edit("Lan", "0901 111 222"))
                .await
                .expect("saved")
                .regular
                .id();
            // An edit writes a second version of the profile (and a second event).
            let mut again = edit(&format!("{NAME} Q"), PHONE);
            again.id = Some(card.regular.id());
            core.save_regular(again).await.expect("edited");
            for _ in 0..3 {
                core.log_visit(card.regular.id(), Some((Uuid::now_v7(), false)))
                    .await
                    .expect("visit");
                core.log_visit(kept, None).await.expect("visit");
            }
            let found = core.search_regulars("zyxw".into(), 5).await.expect("found");
            assert_eq!(found.len(), 1, "saved and searchable before the erasure");

            core.erase_regular(card.regular.id()).await.expect("erased");
            assert!(core
                .search_regulars(DIGITS[4..].into(), 5)
                .await
                .expect("searched")
                .is_empty());
            // Still checked while the core holds the database open: the WAL is live.
            assert_clean(&database, &[NAME, DIGITS, &hash]);
            (kept, hash)
        })
    };
    assert_clean(&database, &[NAME, DIGITS, &hash]);

    // The other regular is untouched.
    let store = countertop::store::Store::open(&database).expect("opens");
    let card = store.regular_card(kept).expect("reads").expect("kept");
    assert_eq!(card.visit_count, 3);
    assert_eq!(store.integrity_check().expect("checks"), "ok");
}
