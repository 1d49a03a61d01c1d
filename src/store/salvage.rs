//! Salvage: a damaged database never stops the kiosk.
//!
//! An SD card that loses a sector, or a power cut at the wrong moment, can leave
//! `countertop.db` unreadable ("file is not a database", "database disk image is
//! malformed"). Instead of exiting (and crash-looping under systemd with a dead screen), the
//! kiosk moves the damaged file and its WAL aside — never deleting them — and copies what
//! can still be read into a fresh database: unsynced outbox events first, then ratings,
//! regulars with the consent they gave, the enrollment, settings and PINs.
//!
//! Reading is row by row. The keys of each table are gathered through every path that
//! still reads (its b-tree forwards, backwards and past a bad page, and its indexes), then
//! each row is fetched alone, so one bad page loses only the rows it held.
//!
//! The order on disk makes every step restartable: the fresh database is built beside the
//! damaged one (`.salvaging`), completed and renamed `.salvaged`; only then is the damaged
//! file renamed aside and the salvaged one put in its place. A power cut at any point leaves
//! either the damaged file in place (salvage starts over) or a complete `.salvaged` file,
//! which the next start adopts.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError};

/// Where the last salvage's report is kept in the fresh database, for staff and HQ.
pub(super) const NOTICE_KEY: &str = "store.salvage";

/// When the device row (its sequence counter) is lost, or commits were dropped from a
/// damaged WAL, the counter restarts this far past the highest sequence still found. HQ sees
/// a gap, never a sequence number twice.
pub const SEQ_GAP: i64 = 1_000_000;

/// What a salvage recovered, and where the damaged file is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Salvage {
    pub at: DateTime<Utc>,
    /// Why the file was taken for damaged, in SQLite's or our own words.
    pub cause: String,
    /// The damaged database, renamed; its WAL and shared-memory files sit beside it with
    /// the usual `-wal` and `-shm` endings, so `sqlite3` opens it as it was.
    pub kept_as: PathBuf,
    /// Unsynced events recovered into the outbox.
    pub unsynced_events: u64,
    pub ratings: u64,
    pub regulars: u64,
    /// The enrollment at HQ (link, token, device id) was readable and kept.
    pub enrollment_kept: bool,
    /// Tables with rows that could not be read.
    pub losses: Vec<String>,
}

impl Salvage {
    /// One line for the manager's screen, HQ's `device_health` and the log. No personal
    /// data: counts and file names only.
    pub fn message(&self) -> String {
        let kept = self
            .kept_as
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut message = format!(
            "database was damaged and salvaged: {} unsynced events, {} ratings, {} regulars \
             recovered; damaged file kept as {kept}",
            self.unsynced_events, self.ratings, self.regulars
        );
        if !self.enrollment_kept {
            message.push_str("; the HQ enrollment was lost: enroll this kiosk again");
        }
        if !self.losses.is_empty() {
            message.push_str(&format!("; unreadable rows in {}", self.losses.join(", ")));
        }
        message
    }
}

/// True when SQLite says the file itself is damaged: the errors salvage is for.
pub fn is_damage(error: &StoreError) -> bool {
    match error {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
            matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
        }
        _ => false,
    }
}

/// `countertop.db` + `-wal` → `countertop.db-wal`, as SQLite names its side files.
pub fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Finishes a salvage that a power cut interrupted after the salvaged file was complete
/// but before it was put in place; removes a half-built one.
pub(super) fn finish_interrupted(path: &Path) -> Result<()> {
    let salvaged = sidecar(path, ".salvaged");
    if salvaged.exists() {
        if path.exists() {
            // The damaged file is still in place: the salvage starts over.
            std::fs::remove_file(&salvaged).map_err(io(&salvaged))?;
        } else {
            // The damaged file went aside but its WAL did not: it must never be played
            // onto the salvaged database, so it goes aside too (kept, not deleted).
            let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
            for suffix in ["-wal", "-shm"] {
                let stray = sidecar(path, suffix);
                if stray.exists() {
                    let to = sidecar(path, &format!(".damaged-{stamp}{suffix}"));
                    std::fs::rename(&stray, &to).map_err(io(&to))?;
                }
            }
            std::fs::rename(&salvaged, path).map_err(io(path))?;
            sync_dir(path);
            tracing::warn!("finished a salvage interrupted by a restart");
        }
    }
    for leftover in [
        ".salvaging",
        ".salvaging-wal",
        ".salvaging-shm",
        ".salvage-src",
    ] {
        let file = sidecar(path, leftover);
        if file.exists() {
            std::fs::remove_file(&file).map_err(io(&file))?;
        }
    }
    let src_wal = sidecar(path, ".salvage-src-wal");
    if src_wal.exists() {
        std::fs::remove_file(&src_wal).map_err(io(&src_wal))?;
    }
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
}

/// Salvages the damaged database at `path` into a fresh one at the same path and returns
/// what was recovered. No connection to `path` may be open (see [`Store::salvage_in_place`]).
/// `seq_uncertain`: commits are known to be lost, so the sequence counter jumps.
pub(super) fn salvage(path: &Path, cause: &str, seq_uncertain: bool) -> Result<Salvage> {
    let at = Utc::now();
    tracing::error!(
        "the database {} is damaged ({cause}); salvaging",
        path.display()
    );
    let building = sidecar(path, ".salvaging");
    let source = sidecar(path, ".salvage-src");
    finish_interrupted(path)?;

    // Read from a copy: SQLite may write to a database it opens (WAL recovery, the header),
    // and the damaged file is evidence to keep as it is.
    let source_readable = copy_tolerating_errors(path, &source)?;
    if sidecar(path, "-wal").exists() {
        copy_tolerating_errors(&sidecar(path, "-wal"), &sidecar(&source, "-wal"))?;
    }
    repair_header(&source)?;

    let mut report = Salvage {
        at,
        cause: cause.to_owned(),
        kept_as: sidecar(path, &format!(".damaged-{}", at.format("%Y%m%dT%H%M%SZ"))),
        unsynced_events: 0,
        ratings: 0,
        regulars: 0,
        enrollment_kept: false,
        losses: Vec::new(),
    };
    if !source_readable {
        report.losses.push("the file (unreadable sectors)".into());
    }
    {
        let mut fresh = Store::open(&building)?;
        let src = Connection::open_with_flags(
            &source,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A damaged schema must not stop the copy of what is still readable.
        let _ = src.execute_batch("PRAGMA writable_schema = ON; PRAGMA cell_size_check = ON;");
        copy_everything(&src, &fresh.conn, &mut report, seq_uncertain)?;
        let message = report.message();
        fresh.conn.execute(
            "UPDATE sync_state SET config_cursor = 0, regulars_cursor = 0, last_health = NULL,
                    last_error = ?1 WHERE id = 1",
            [&message],
        )?;
        // HQ hears of it in the next push, whatever happens to sync's own bookkeeping.
        let outbox = fresh.outbox_status()?;
        let health = countertop_protocol::NewDeviceHealth {
            queue_depth: outbox.pending,
            oldest_unsent_age_seconds: outbox
                .oldest_pending
                .map(|at| (Utc::now() - at).num_seconds().max(0) as u64),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            // HQ takes at most 500 characters here (the protocol's comment limit).
            last_error: Some(message.chars().take(500).collect()),
            quarantined: Some(outbox.quarantined),
        };
        fresh.queue_event("device_health", &health, crate::clock::local_now())?;
        let notice =
            serde_json::to_string(&report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        fresh.conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![NOTICE_KEY, notice],
        )?;
        drop(src);
        // Closing checkpoints the WAL into the file, so the salvaged database is one file.
        fresh.conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    }
    for scratch in [
        source.clone(),
        sidecar(&source, "-wal"),
        sidecar(&source, "-shm"),
    ] {
        let _ = std::fs::remove_file(scratch);
    }
    let salvaged = sidecar(path, ".salvaged");
    File::open(&building)
        .and_then(|f| f.sync_all())
        .map_err(io(&building))?;
    std::fs::rename(&building, &salvaged).map_err(io(&salvaged))?;
    sync_dir(path);

    // Only now is the damaged file moved aside, then its side files, and replaced.
    std::fs::rename(path, &report.kept_as).map_err(io(&report.kept_as))?;
    for suffix in ["-wal", "-shm"] {
        let from = sidecar(path, suffix);
        if from.exists() {
            let to = sidecar(&report.kept_as, suffix);
            std::fs::rename(&from, &to).map_err(io(&to))?;
        }
    }
    std::fs::rename(&salvaged, path).map_err(io(path))?;
    sync_dir(path);
    tracing::warn!("{}", report.message());
    Ok(report)
}

/// Copies `from` to `to` (created 0600), writing zeros for blocks that cannot be read.
/// Returns false when some could not.
fn copy_tolerating_errors(from: &Path, to: &Path) -> Result<bool> {
    let mut input = File::open(from).map_err(io(from))?;
    let mut output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(to)
        .map_err(io(to))?;
    let len = input.metadata().map_err(io(from))?.len();
    let mut block = vec![0u8; 4096];
    let mut all_read = true;
    let mut done = 0u64;
    while done < len {
        let want = block.len().min((len - done) as usize);
        let got = match input.read(&mut block[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                all_read = false;
                block[..want].fill(0);
                use std::io::Seek;
                input
                    .seek(std::io::SeekFrom::Start(done + want as u64))
                    .map_err(io(from))?;
                want
            }
        };
        output.write_all(&block[..got]).map_err(io(to))?;
        done += got as u64;
    }
    output.sync_all().map_err(io(to))?;
    Ok(all_read)
}

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Rewrites the 100-byte header of the copy at `path` if it is unusable, so the pages
/// behind it can be read. The schema starts right after the header, on the same page.
fn repair_header(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    if bytes.len() < 100 {
        return Ok(());
    }
    let stated = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65536,
        n => n as usize,
    };
    let sane = bytes[..16] == MAGIC[..]
        && (512..=65536).contains(&stated)
        && stated.is_power_of_two()
        && bytes[21..24] == [64, 32, 32]
        && (1..=4).contains(&bytes[44 + 3])
        && (1..=3).contains(&bytes[56 + 3]);
    if sane {
        return Ok(());
    }
    let page_size = if (512..=65536).contains(&stated) && stated.is_power_of_two() {
        stated
    } else {
        guess_page_size(&bytes)
    };
    let mut header = [0u8; 100];
    header[..16].copy_from_slice(MAGIC);
    let size_field = if page_size == 65536 {
        1
    } else {
        page_size as u16
    };
    header[16..18].copy_from_slice(&size_field.to_be_bytes());
    header[18] = 2; // WAL
    header[19] = 2;
    header[21..24].copy_from_slice(&[64, 32, 32]);
    header[24..28].copy_from_slice(&1u32.to_be_bytes()); // change counter
    let pages = (bytes.len() / page_size) as u32;
    header[28..32].copy_from_slice(&pages.to_be_bytes());
    header[40..44].copy_from_slice(&1u32.to_be_bytes()); // schema cookie
    header[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
    header[56..60].copy_from_slice(&1u32.to_be_bytes()); // UTF-8
    header[92..96].copy_from_slice(&1u32.to_be_bytes()); // size valid for change 1
    header[96..100].copy_from_slice(&3_046_000u32.to_be_bytes());
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(&header).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    tracing::warn!("rebuilt the unreadable database header of the salvage copy");
    Ok(())
}

/// The page size whose second page starts like a b-tree page; SQLite's default otherwise.
fn guess_page_size(bytes: &[u8]) -> usize {
    (9..=16)
        .map(|shift| 1usize << shift)
        .find(|size| {
            bytes
                .get(*size)
                .is_some_and(|b| matches!(b, 0x02 | 0x05 | 0x0a | 0x0d))
        })
        .unwrap_or(4096)
}

/// How a table's rows are found: by rowid, or by its one-column primary key.
struct TablePlan {
    name: &'static str,
    /// Columns to copy: the fresh table's, where the damaged one has them too.
    columns: Vec<String>,
    key: String,
}

/// The tables worth keeping, most precious first. The regulars' search index is rebuilt
/// from the profiles rather than copied.
const TABLES: &[&str] = &[
    "outbox",
    "device",
    "hq_link",
    "ratings",
    "regulars",
    "regular_tombstones",
    "visits",
    "settings",
    "staff_pins",
    "pin_lockout",
    "hq_survey",
    "sync_state",
];

fn plan(src: &Connection, dst: &Connection, name: &'static str) -> Result<Option<TablePlan>> {
    let columns_of = |conn: &Connection| -> rusqlite::Result<Vec<(String, i64)>> {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({name})"))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)?)))?;
        rows.collect()
    };
    let wanted = columns_of(dst)?;
    let present = match columns_of(src) {
        Ok(present) if !present.is_empty() => present,
        _ => return Ok(None),
    };
    let columns: Vec<String> = wanted
        .iter()
        .filter(|(c, _)| present.iter().any(|(p, _)| p == c))
        .map(|(c, _)| c.clone())
        .collect();
    let without_rowid: bool = src
        .query_row(
            "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    let key = if without_rowid {
        let pk: Vec<&String> = present
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, _)| c)
            .collect();
        match pk.as_slice() {
            [one] => (*one).clone(),
            _ => return Ok(None),
        }
    } else {
        "rowid".to_owned()
    };
    Ok(Some(TablePlan { name, columns, key }))
}

/// Keys read by one query until it fails.
fn keys_until_error(
    src: &Connection,
    sql: &str,
    from: Option<&Value>,
    keys: &mut BTreeSet<KeyValue>,
) -> (Option<Value>, bool) {
    let mut last = None;
    let Ok(mut stmt) = src.prepare(sql) else {
        return (None, true);
    };
    let rows = match from {
        Some(from) => stmt.query([from]),
        None => stmt.query([]),
    };
    let Ok(mut rows) = rows else {
        return (None, true);
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => match row.get::<_, Value>(0) {
                Ok(v) => {
                    keys.insert(KeyValue(v.clone()));
                    last = Some(v);
                }
                Err(_) => return (last, true),
            },
            Ok(None) => return (last, false),
            Err(_) => return (last, true),
        }
    }
}

/// A key value that sorts, for the set of keys found.
#[derive(Debug, Clone, PartialEq)]
struct KeyValue(Value);

impl Eq for KeyValue {}
impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for KeyValue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use Value::*;
        match (&self.0, &other.0) {
            (Integer(a), Integer(b)) => a.cmp(b),
            (Text(a), Text(b)) => a.cmp(b),
            (Blob(a), Blob(b)) => a.cmp(b),
            (Real(a), Real(b)) => a.total_cmp(b),
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Integer(_) => 1,
        Value::Real(_) => 2,
        Value::Text(_) => 3,
        Value::Blob(_) => 4,
    }
}

/// Every key of the table that some path still reaches.
fn find_keys(src: &Connection, plan: &TablePlan) -> (BTreeSet<KeyValue>, bool) {
    let (table, key) = (plan.name, plan.key.as_str());
    let mut keys = BTreeSet::new();
    let (mut last, mut hit_damage) = keys_until_error(
        src,
        &format!("SELECT {key} FROM {table} ORDER BY {key}"),
        None,
        &mut keys,
    );
    let (_, backwards_damage) = keys_until_error(
        src,
        &format!("SELECT {key} FROM {table} ORDER BY {key} DESC"),
        None,
        &mut keys,
    );
    hit_damage |= backwards_damage;
    // Past a bad page: seek further and further ahead until a seek reads again. Rowids
    // are integers, so the next key to try is known; other keys rely on the indexes below.
    if key == "rowid" && hit_damage {
        let max = keys.iter().next_back().and_then(|k| match k.0 {
            Value::Integer(i) => Some(i),
            _ => None,
        });
        let seek = format!("SELECT rowid FROM {table} WHERE rowid > ?1 ORDER BY rowid");
        while let (Some(Value::Integer(at)), Some(max)) = (last.clone(), max) {
            if at >= max {
                break;
            }
            let mut step = 1i64;
            let resumed = loop {
                let probe = at.saturating_add(step);
                if probe >= max {
                    break None;
                }
                let before = keys.len();
                let (reached, damaged) =
                    keys_until_error(src, &seek, Some(&Value::Integer(probe)), &mut keys);
                if keys.len() > before || !damaged {
                    break Some(reached);
                }
                step = step.saturating_mul(2);
            };
            match resumed {
                Some(reached) => last = reached,
                None => break,
            }
        }
    }
    // Each index holds the key too, in another b-tree that may have survived.
    let indexes: Vec<(String, bool)> = src
        .prepare(&format!("PRAGMA index_list({table})"))
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, bool>(4)?)))?
                .collect()
        })
        .unwrap_or_default();
    for (index, partial) in indexes {
        if partial || index.starts_with("sqlite_autoindex") && key != "rowid" {
            continue;
        }
        for order in ["", " DESC"] {
            let sql =
                format!("SELECT {key} FROM {table} INDEXED BY \"{index}\" ORDER BY {key}{order}");
            // An index cannot always serve a plain scan; then it is not a path.
            let sql = if src.prepare(&sql).is_ok() {
                sql
            } else {
                format!("SELECT {key} FROM {table} INDEXED BY \"{index}\"")
            };
            keys_until_error(src, &sql, None, &mut keys);
        }
    }
    (keys, hit_damage)
}

/// Copies the rows of one table found by key, one by one. Returns (rows copied, rows lost
/// or a path that failed).
fn copy_table(src: &Connection, dst: &Connection, plan: &TablePlan) -> Result<(u64, bool)> {
    let (keys, mut damaged) = find_keys(src, plan);
    let columns = plan.columns.join(", ");
    let marks = (1..=plan.columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut fetch = match src.prepare(&format!(
        "SELECT {columns} FROM {} WHERE {} = ?1",
        plan.name, plan.key
    )) {
        Ok(s) => s,
        Err(_) => return Ok((0, true)),
    };
    let mut insert = dst.prepare(&format!(
        "INSERT OR REPLACE INTO {} ({columns}) VALUES ({marks})",
        plan.name
    ))?;
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(keys.len());
    for key in keys {
        let row = fetch
            .query_row([&key.0], |r| {
                (0..plan.columns.len())
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .optional();
        match row {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {}
            Err(_) => damaged = true,
        }
    }
    // Unsynced events go in first: if the disk fills during the copy, they are what counts.
    if plan.name == "outbox" {
        let state = plan.columns.iter().position(|c| c == "state");
        rows.sort_by_key(|row| {
            state
                .and_then(|i| row.get(i))
                .is_none_or(|v| *v != Value::Text("pending".into()))
        });
    }
    let mut copied = 0;
    for row in &rows {
        match insert.execute(rusqlite::params_from_iter(row.iter())) {
            Ok(_) => copied += 1,
            // A row the current schema refuses (a CHECK, NOT NULL: never invented) is lost.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                damaged = true
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((copied, damaged))
}

fn copy_everything(
    src: &Connection,
    dst: &Connection,
    report: &mut Salvage,
    mut seq_uncertain: bool,
) -> Result<()> {
    dst.execute_batch("BEGIN")?;
    let mut device_kept = false;
    for &table in TABLES {
        let Some(plan) = plan(src, dst, table)? else {
            report.losses.push(table.to_owned());
            if table == "device" {
                seq_uncertain = true;
            }
            continue;
        };
        let (copied, damaged) = copy_table(src, dst, &plan)?;
        if damaged {
            report.losses.push(table.to_owned());
        }
        match table {
            "device" => device_kept = copied > 0,
            "hq_link" => report.enrollment_kept = copied > 0,
            _ => {}
        }
    }
    if !device_kept {
        seq_uncertain = true;
    }
    // The sequence never goes back: past every sequence still found, and far past it when
    // some may have been lost with the counter.
    let highest: i64 = dst.query_row(
        "SELECT max(coalesce((SELECT max(seq) FROM outbox), 0),
                    coalesce((SELECT max(seq) FROM ratings), 0))",
        [],
        |r| r.get(0),
    )?;
    let floor = highest + 1 + if seq_uncertain { SEQ_GAP } else { 0 };
    dst.execute(
        "UPDATE device SET next_seq = max(next_seq + ?2, ?1) WHERE id = 1",
        params![floor, if seq_uncertain { SEQ_GAP } else { 0 }],
    )?;
    rebuild_regular_index(dst)?;
    report.unsynced_events = dst.query_row(
        "SELECT count(*) FROM outbox WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    report.ratings = dst.query_row("SELECT count(*) FROM ratings", [], |r| r.get(0))?;
    report.regulars = dst.query_row("SELECT count(*) FROM regulars", [], |r| r.get(0))?;
    dst.execute_batch("COMMIT")?;
    Ok(())
}

/// The search index (name words, phone suffixes) from the salvaged profiles, the way
/// saving a profile writes it.
fn rebuild_regular_index(dst: &Connection) -> Result<()> {
    let mut profiles = dst.prepare("SELECT key, seen, folded, phone FROM regulars")?;
    let rows = profiles
        .query_map([], |r| {
            Ok(super::regulars::Indexed {
                key: r.get(0)?,
                seen: r.get(1)?,
                folded: r.get(2)?,
                phone: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for regular in &rows {
        super::regulars::index_regular(dst, regular)?;
    }
    Ok(())
}

/// The report of the last salvage, kept in the database until staff dismiss it.
pub(super) fn notice(conn: &Connection) -> Result<Option<Salvage>> {
    let json: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [NOTICE_KEY],
            |r| r.get(0),
        )
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// `PRAGMA quick_check` on a connection of its own: `Some(what)` when the file is damaged.
/// Reads the whole file, so the kiosk runs it beside the core, never in its way.
pub fn quick_check(path: &Path) -> Result<Option<String>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let found = (|| -> rusqlite::Result<Option<String>> {
        let mut stmt = conn.prepare("PRAGMA quick_check(5)")?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((lines != ["ok"]).then(|| lines.join("; ")))
    })();
    match found {
        Ok(found) => Ok(found),
        Err(e) => {
            let e = StoreError::from(e);
            if is_damage(&e) {
                Ok(Some(e.to_string()))
            } else {
                Err(e)
            }
        }
    }
}
