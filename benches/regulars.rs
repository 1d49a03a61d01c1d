//! Per-keystroke regular search with 100,000 (or `REGULARS`, e.g. 1,000,000) regulars
//! stored, through the core.
//!
//! Seeds `countertop-regulars-N.db` in `BENCH_DIR` (default `.`) with `REGULARS`
//! regulars (default 100,000; Vietnamese and English-like names with diacritics, most
//! with a phone), applied through `Store::apply_regulars` in HQ's pages of 500, as a first
//! pull would bring them, and prints how long that took and the process's peak memory.
//! A database left there by an earlier run with that many regulars is reused (seeding a
//! million takes minutes; `RESEED=1` seeds again); opening it runs any newer migration,
//! and the bench prints how long that took.
//! Then it types names, phone numbers, and names with digits ("mixed") one keystroke at a
//! time and times each search from the caller's side of `Core::search_regulars` (channel
//! to the core thread, query, cards, reply), as the UI sees it.
//!
//! Run: `cargo bench --bench regulars` (prints p50/p99/max per kind of query).

#[path = "../examples/common/regulars.rs"]
mod synthetic;

#[path = "common/stats.rs"]
mod stats;

use std::time::{Duration, Instant};

use countertop::config::KioskConfig;
use countertop::core::Core;

/// Results asked for per keystroke, as a search list on screen shows.
const LIMIT: usize = 20;

/// Every prefix of `text`, as typed one key at a time.
fn keystrokes(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    (1..=chars.len())
        .map(|n| chars[..n].iter().collect())
        .collect()
}

/// The seeded regulars' phone digits, in seeding order, if `database` holds `count`
/// regulars from an earlier run (after migrating it, timed); None to seed afresh.
fn reusable(database: &std::path::Path, count: usize) -> anyhow::Result<Option<Vec<String>>> {
    if !database.exists() || std::env::var_os("RESEED").is_some() {
        return Ok(None);
    }
    let started = Instant::now();
    let store = countertop::store::Store::open(database)?;
    let opened = started.elapsed();
    if store.regular_count()? != count as u64 {
        return Ok(None);
    }
    drop(store);
    let conn = rusqlite::Connection::open(database)?;
    let phones = conn
        .prepare("SELECT phone FROM regulars WHERE phone IS NOT NULL ORDER BY key")?
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|p| p.map(|p| countertop_protocol::phone_digits(&p)))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    println!(
        "reused {count} regulars in {} ({:.1} MB file); opening and migrating it took {:.1} s",
        database.display(),
        std::fs::metadata(database)?.len() as f64 / 1e6,
        opened.as_secs_f64()
    );
    Ok(Some(phones))
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let count: usize = stats::env_number("REGULARS", 100_000);
    let rounds: usize = stats::env_number("ROUNDS", 20);
    let database =
        std::path::Path::new(&stats::bench_dir()).join(format!("countertop-regulars-{count}.db"));
    let page: usize = stats::env_number("PAGE", 500);
    let phones = match reusable(&database, count)? {
        Some(phones) => phones,
        None => {
            for file in ["", "-wal", "-shm"] {
                let path = format!("{}{file}", database.display());
                if std::path::Path::new(&path).exists() {
                    std::fs::remove_file(&path)?;
                }
            }
            let started = Instant::now();
            let mut store = countertop::store::Store::open(&database)?;
            let (phones, timings) = synthetic::seed_in_pages_timed(&mut store, count, 7, page)?;
            println!(
                "pulled {count} regulars in pages of {page} in {:.1} s, {:.1} MB file, peak RSS \
                 {:.0} MB",
                started.elapsed().as_secs_f64(),
                std::fs::metadata(&database)?.len() as f64 / 1e6,
                stats::peak_rss_mb()
            );
            stats::report("  a page applied", timings.pages);
            stats::report(
                &format!(
                    "  a part of {} records applied (a tap's wait behind the pull)",
                    countertop::store::PULL_PART
                ),
                timings.parts,
            );
            phones
        }
    };

    let (core, _thread) = Core::start(database, KioskConfig::default())?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let search = |query: &str| -> anyhow::Result<(Duration, usize)> {
        let start = Instant::now();
        let found = runtime.block_on(core.search_regulars(query.to_owned(), LIMIT))?;
        Ok((start.elapsed(), found.len()))
    };
    // Warm the page cache and the statement cache as a kiosk in use would have them.
    for query in ["", "n", "a", "09"] {
        search(query)?;
    }

    let typed_names = [
        "nguyen van",
        "Nguyễn Thị Lan",
        "tran hung",
        "Đặng",
        "le thi mai",
        "emma sm",
        "zoe",
        "Lefèvre",
        "phuong",
        "xyz",
    ];
    // Names with digits, as staff type a name then the phone's last digits.
    let typed_mixed = ["lan 0", "nguyen 45", "Minh 9", "emma 2"];
    let mut rng = fastrand::Rng::with_seed(11);
    let mut names = Vec::new();
    let mut digits = Vec::new();
    let mut mixed = Vec::new();
    let mut empty_results = 0;
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    for _ in 0..rounds {
        for name in typed_names {
            for query in keystrokes(name) {
                let (took, found) = search(&query)?;
                empty_results += usize::from(found == 0);
                names.push(took);
                slowest.push((took, query));
            }
        }
        for typed in typed_mixed {
            for query in keystrokes(typed) {
                let took = search(&query)?.0;
                mixed.push(took);
                slowest.push((took, query));
            }
        }
        for _ in 0..5 {
            let phone = &phones[rng.usize(..phones.len())];
            // Staff type the last digits first ("ends with"), and some type from the start.
            let last_four = keystrokes(&phone[phone.len() - 4..]);
            for query in last_four.into_iter().chain(keystrokes(&phone[..7])) {
                let took = search(&query)?.0;
                digits.push(took);
                slowest.push((took, query));
            }
        }
    }
    let mut all = names.clone();
    all.extend(&digits);
    all.extend(&mixed);
    stats::report("name keystrokes", names);
    stats::report("phone-digit keystrokes", digits);
    stats::report("mixed keystrokes", mixed);
    stats::report("all keystrokes", all);
    println!("(name keystrokes with no match: {empty_results})");
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    let worst: Vec<String> = slowest
        .iter()
        .take(8)
        .map(|(d, q)| format!("{q:?} {:.2} ms", d.as_secs_f64() * 1000.0))
        .collect();
    println!("slowest keystrokes: {}", worst.join(", "));
    Ok(())
}
