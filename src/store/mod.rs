//! The kiosk's local store: one SQLite file that every tap is committed to before the
//! screen moves on, and the outbox that sync drains to head office.
//!
//! The file is private to the kiosk user (0600), written with `synchronous=FULL` in WAL
//! mode, and upgraded by versioned migrations. Only the core thread owns a [`Store`]; the
//! UI thread never touches it.

mod lock;
mod migrations;
mod outbox;
mod ratings;
mod regulars;
mod reports;
pub mod salvage;
mod staff;
pub mod wal;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::Connection;

pub use lock::{DataDirLock, LockError, LOCK_FILE};
pub use outbox::{HqLink, OutboxStatus, PendingEvent, Settlement, SyncState};
pub use ratings::{NewRating, RatingRow, RecordedRating, Summary};
pub use regulars::{pull_parts, PullApplied, PullPart, CODE_DIGITS, PULL_PART};
pub use salvage::{is_damage, Salvage};
pub use staff::{
    check_first_day_pins, check_new_pin, hash_pin, lockout_for, verify_pin, PinCheck, StaffRole,
};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot prepare the database at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database was written by a newer Countertop (schema {found}, this one knows {known}); \
         upgrade Countertop or restore a backup"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("no rating with id {0}")]
    UnknownRating(uuid::Uuid),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Input refused; the message is meant for the person at the kiosk.
    #[error("{0}")]
    Invalid(String),
    /// Input refused, as a kind the UI words in the language on screen.
    #[error(transparent)]
    Refused(#[from] crate::refusal::Refusal),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Below this many free pages under the size cap, the store counts as full.
const HEADROOM_PAGES: i64 = 4;
/// Below this much free space on the filesystem (and in the file's free pages), the store
/// counts as full: SQLite needs room for the WAL as well as the pages.
const HEADROOM_BYTES: u64 = 1024 * 1024;

/// True for a write refused because the disk or the size cap is full (`SQLITE_FULL`).
pub fn is_full_error(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DiskFull
    )
}

/// An open kiosk database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    max_mb: f64,
}

impl Store {
    /// Opens (or creates) the database at `path`, applying pragmas and migrations.
    /// A new file and its directory are created private to this user.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_capped(path, 0.0)
    }

    /// Like [`Store::open`], with the file capped at `max_mb` megabytes (0: no cap). At
    /// the cap writes fail as on a full disk, and nothing already stored is touched.
    pub fn open_capped(path: &Path, max_mb: f64) -> Result<Self> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        // Create the file ourselves so it is 0600 from its first byte; SQLite gives the
        // -wal and -shm files the same mode as the database.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let mut perms = file.metadata().map_err(io)?.permissions();
        if perms.mode() & 0o077 != 0 {
            perms.set_mode(0o600);
            file.set_permissions(perms).map_err(io)?;
        }
        drop(file);

        let mut conn = Connection::open(path)?;
        if let Err(e) = configure(&conn).and_then(|()| migrations::apply(&mut conn)) {
            if salvage::is_damage(&e) {
                // Leave a damaged file as it is: no checkpoint into it on the way out.
                let _ = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
            }
            return Err(e);
        }
        if max_mb > 0.0 {
            let page_size: f64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (max_mb * 1024.0 * 1024.0 / page_size).ceil() as i64;
            // Answers with the limit in force; never below the file's current size.
            let _: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })?;
        }
        Ok(Store {
            conn,
            path: path.to_owned(),
            max_mb,
        })
    }

    /// Opens the kiosk's database for a start: like [`Store::open_capped`], but a damaged
    /// file (an unreadable header or page, a damaged WAL) is salvaged into a fresh one
    /// instead of failing, and the salvage's report comes back with the store.
    pub fn open_or_salvage(path: &Path, max_mb: f64) -> Result<(Self, Option<Salvage>)> {
        salvage::finish_interrupted(path)?;
        let mut seq_uncertain = false;
        let mut cause = match wal::check(path) {
            Ok(Some(damage)) => {
                // Commits after the damage would be dropped, and their sequence numbers
                // may already be at HQ.
                seq_uncertain = true;
                Some(format!(
                    "{} ({} frames would be dropped)",
                    damage.what, damage.frames_lost
                ))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("cannot read the WAL to check it: {e}");
                None
            }
        };
        if cause.is_none() {
            match Self::open_capped(path, max_mb) {
                Ok(store) => match store.probe() {
                    Ok(()) => return Ok((store, None)),
                    Err(e) if salvage::is_damage(&e) => {
                        store.close_keeping_wal();
                        cause = Some(e.to_string());
                    }
                    Err(e) => return Err(e),
                },
                Err(e) if salvage::is_damage(&e) => cause = Some(e.to_string()),
                Err(e) => return Err(e),
            }
        }
        let cause = cause.unwrap_or_default();
        let report = salvage::salvage(path, &cause, seq_uncertain)?;
        Ok((Self::open_capped(path, max_mb)?, Some(report)))
    }

    /// Reads what every start and every tap needs (the sequence counter, the newest rating
    /// and event, the queue, the enrollment, the settings), so damage there is found now.
    /// Damage elsewhere is for [`salvage::quick_check`], which reads the whole file.
    fn probe(&self) -> Result<()> {
        self.conn.query_row(
            "SELECT (SELECT next_seq FROM device WHERE id = 1),
                    (SELECT max(seq) FROM outbox),
                    (SELECT count(*) FROM outbox WHERE state = 'pending'),
                    (SELECT max(id) FROM ratings),
                    (SELECT count(*) FROM hq_link),
                    (SELECT count(*) FROM settings),
                    (SELECT count(*) FROM sync_state)",
            [],
            |_| Ok(()),
        )?;
        Ok(())
    }

    /// Salvages this store's file while the kiosk runs (a write reported damage): the
    /// connection is closed without touching the file, the file is salvaged, and the fresh
    /// database takes its place. If the salvage itself fails, the store reopens the
    /// damaged file so writes keep failing visibly rather than going nowhere.
    pub fn salvage_in_place(&mut self, cause: &str) -> Result<Salvage> {
        let path = self.path.clone();
        let max_mb = self.max_mb;
        let placeholder = Store {
            conn: Connection::open_in_memory()?,
            path: path.clone(),
            max_mb,
        };
        std::mem::replace(self, placeholder).close_keeping_wal();
        match salvage::salvage(&path, cause, false) {
            Ok(report) => {
                *self = Self::open_capped(&path, max_mb)?;
                Ok(report)
            }
            Err(e) => {
                if let Ok(store) = Self::open_capped(&path, max_mb) {
                    *self = store;
                }
                Err(e)
            }
        }
    }

    /// Closes the connection without checkpointing, leaving the file and its WAL as they
    /// are on disk, as a power cut would.
    pub fn close_keeping_wal(self) {
        let _ = self
            .conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
    }

    /// True when new taps may not fit: the `store.max_size_mb` cap, or the filesystem
    /// holding the database, has less than a few pages' room left.
    pub fn is_full(&self) -> Result<bool> {
        let pragma = |name: &str| -> Result<i64> {
            Ok(self
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?)
        };
        let free_pages = pragma("freelist_count")?;
        if self.max_mb > 0.0 {
            let room = pragma("max_page_count")? - pragma("page_count")? + free_pages;
            if room < HEADROOM_PAGES {
                return Ok(true);
            }
        }
        let page_size = pragma("page_size")?;
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Ok(match rustix::fs::statvfs(dir) {
            Ok(vfs) => {
                let room = vfs.f_bavail.saturating_mul(vfs.f_frsize);
                room < HEADROOM_BYTES && free_pages * page_size < HEADROOM_BYTES as i64
            }
            Err(_) => false,
        })
    }

    /// The last salvage's report, until staff dismiss it.
    pub fn salvage_notice(&self) -> Result<Option<Salvage>> {
        salvage::notice(&self.conn)
    }

    /// Staff have seen the salvage: the red mark goes.
    pub fn dismiss_salvage_notice(&mut self) -> Result<()> {
        self.conn
            .execute("DELETE FROM settings WHERE key = ?1", [salvage::NOTICE_KEY])?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }
}

fn configure(conn: &Connection) -> Result<()> {
    // journal_mode answers with a row, so it is read rather than executed.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "the database refused WAL mode (got {mode})"
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )?;
    // A 32 MB page cache (the default is 2 MB) keeps the search table's recent pages and
    // the indexes' upper levels in memory: without `mmap_size` (a bad SD card sector would
    // be a SIGBUS), every page miss is a read.
    conn.execute_batch("PRAGMA cache_size = -32768;")?;
    // search: a name prefix is read as up to 8 merged index streams, each its own cached
    // statement, beside the search's other statements (the default cache holds 16).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// A store in a fresh temp dir, for the store's unit tests.
#[cfg(test)]
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("countertop.db")).expect("store opens");
    (dir, store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_private_and_uses_wal_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/countertop.db");
        let store = Store::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let pragma = |name: &str| -> i64 {
            store
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma("synchronous"), 2, "FULL");
        assert_eq!(pragma("journal_size_limit"), 67_108_864);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn an_existing_world_readable_file_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("countertop.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Store::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("countertop.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 999").unwrap();
        drop(conn);
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer Countertop"), "{err}");
    }

    #[test]
    fn reopening_keeps_the_data_and_does_not_migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("countertop.db");
        let mut store = Store::open(&path).unwrap();
        let id = store.record_rating(&NewRating::now_for_test(5)).unwrap().id;
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.rating(id).unwrap().score, 5);
    }
}
