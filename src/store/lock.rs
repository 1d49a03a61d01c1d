//! One kiosk per data directory.
//!
//! Two kiosk processes on one database would interleave sequence numbers, fight over the
//! outbox and double-send. A manual `countertop` started beside the service must therefore
//! be refused, whatever its PID namespace or however the first one was started. The lock
//! is `flock` on `<data>/countertop.lock`, held for the process's lifetime and released by
//! the kernel when it exits, however it exits (no stale PID files after a power cut). The
//! holder writes its PID and command line into the file, only so the refusal can name it.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The file the lock is taken on, inside the data directory.
pub const LOCK_FILE: &str = "countertop.lock";

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another Countertop kiosk{holder} is already using the data directory {dir}; \
         stop it first (for the service: `sudo systemctl stop countertop`), or give this one \
         its own directory with --data DIR"
    )]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Held while the process uses the data directory; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock on `dir` (created private if missing), or says who holds it.
    /// `doing`: what this process is, for the one refused next ("countertop run").
    pub fn acquire(dir: &Path, doing: &str) -> Result<DataDirLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_owned(),
            source,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    dir: dir.to_owned(),
                    holder: if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" ({holder})")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Ours now: say who we are, for the next one refused.
        let me = format!("pid {}: {doing}", std::process::id());
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        Ok(DataDirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data, "countertop test").unwrap();
        let err = DataDirLock::acquire(&data, "countertop test")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&data.display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid {}: countertop test", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(&data, "countertop test").expect("free again once released");
    }
}
