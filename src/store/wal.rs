//! Telling a damaged write-ahead log from an ordinary one, before SQLite reads it.
//!
//! SQLite never reports a bad WAL: it stops at the first frame whose checksum fails and
//! silently drops every later commit, so ratings that were confirmed on screen (and the
//! device's sequence counter) would go back in time without a word. This reads the WAL
//! the way SQLite does (file format: <https://sqlite.org/fileformat.html#the_write_ahead_log>)
//! and names what would be dropped.
//!
//! Frames left over from before the log was last restarted carry other salts and are
//! ignored by SQLite on purpose; they are not damage. A frame of the current log with a
//! bad checksum is damage only when a committed frame of the current log follows it:
//! otherwise it is the torn tail of a commit that never finished, which SQLite rightly
//! drops and nobody was told had been saved.

use std::io::Read;
use std::path::Path;

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// What a damaged WAL would lose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalDamage {
    /// Plain words for the log and the report.
    pub what: String,
    /// Committed frames after the damage, which SQLite would drop.
    pub frames_lost: u64,
}

/// Checks the WAL of the database at `db`, if it has one. `None`: no WAL, an empty or
/// sound one, or only a torn final commit.
pub fn check(db: &Path) -> std::io::Result<Option<WalDamage>> {
    let path = super::salvage::sidecar(db, "-wal");
    let mut bytes = Vec::new();
    match std::fs::File::open(&path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    Ok(damage(&bytes))
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing from `s`.
fn checksum(data: &[u8], big_endian: bool, mut s: (u32, u32)) -> (u32, u32) {
    for pair in data.chunks_exact(8) {
        let word = |b: &[u8]| {
            let b = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        s.0 = s.0.wrapping_add(word(&pair[0..4])).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(word(&pair[4..8])).wrapping_add(s.0);
    }
    s
}

/// The damage in a WAL's bytes, if any.
pub(crate) fn damage(bytes: &[u8]) -> Option<WalDamage> {
    if bytes.len() < HEADER {
        // Empty (reset after a checkpoint) or too short to hold a header: nothing to lose.
        return None;
    }
    let magic = be32(bytes, 0);
    let big_endian = match magic {
        0x377f_0682 => false,
        0x377f_0683 => true,
        _ if bytes.iter().all(|b| *b == 0) => return None,
        _ => {
            return Some(WalDamage {
                what: "the write-ahead log's header is unreadable".into(),
                frames_lost: frames_in(bytes, 4096),
            })
        }
    };
    let page_size = match be32(bytes, 8) {
        1 => 65536,
        n => n as usize,
    };
    let header_sum = checksum(&bytes[..24], big_endian, (0, 0));
    if !(512..=65536).contains(&page_size)
        || !page_size.is_power_of_two()
        || header_sum != (be32(bytes, 24), be32(bytes, 28))
    {
        return Some(WalDamage {
            what: "the write-ahead log's header is damaged".into(),
            frames_lost: frames_in(bytes, page_size.clamp(512, 65536)),
        });
    }
    let salts = (be32(bytes, 16), be32(bytes, 20));
    let frame = FRAME_HEADER + page_size;
    let mut sum = header_sum;
    let mut first_bad: Option<usize> = None;
    let mut lost = 0u64;
    let mut at = HEADER;
    let mut index = 0usize;
    while at + frame <= bytes.len() {
        let head = &bytes[at..at + FRAME_HEADER];
        let current = (be32(head, 8), be32(head, 12)) == salts;
        let commit = be32(head, 4) != 0;
        match first_bad {
            None if current => {
                let s = checksum(&head[..8], big_endian, sum);
                let s = checksum(&bytes[at + FRAME_HEADER..at + frame], big_endian, s);
                if s == (be32(head, 16), be32(head, 20)) {
                    sum = s;
                } else {
                    first_bad = Some(index);
                }
            }
            // Frames of an older log: SQLite stops here, and so do valid logs.
            None => break,
            Some(_) if current && commit => lost = (index - first_bad.unwrap_or(index)) as u64 + 1,
            Some(_) => {}
        }
        at += frame;
        index += 1;
    }
    match first_bad {
        Some(bad) if lost > 0 => Some(WalDamage {
            what: format!("frame {} of the write-ahead log is damaged", bad + 1),
            frames_lost: lost,
        }),
        _ => None,
    }
}

fn frames_in(bytes: &[u8], page_size: usize) -> u64 {
    (bytes.len().saturating_sub(HEADER) / (FRAME_HEADER + page_size)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRating, Store};

    /// A kiosk database whose last ratings live only in the WAL, and that WAL's bytes.
    fn wal_with_commits() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("countertop.db");
        let mut store = Store::open(&path).unwrap();
        let _: i64 = store
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        for score in 1..=5 {
            store
                .record_rating(&NewRating::now_for_test(score))
                .unwrap();
        }
        let bytes = std::fs::read(super::super::salvage::sidecar(&path, "-wal")).unwrap();
        store.close_keeping_wal();
        (dir, path, bytes)
    }

    #[test]
    fn a_sound_wal_and_a_missing_one_are_not_damage() {
        let (_dir, path, bytes) = wal_with_commits();
        assert!(bytes.len() > HEADER);
        assert_eq!(damage(&bytes), None);
        assert_eq!(check(&path.with_extension("nothing")).unwrap(), None);
        assert_eq!(damage(&[]), None);
    }

    #[test]
    fn a_flipped_byte_before_later_commits_is_damage_but_a_torn_tail_is_not() {
        let (_dir, _path, bytes) = wal_with_commits();
        let page = be32(&bytes, 8) as usize;
        let mut early = bytes.clone();
        early[HEADER + FRAME_HEADER + 100] ^= 0xff;
        let found = damage(&early).expect("damage in the first frame");
        assert!(found.frames_lost >= 1, "{found:?}");
        assert!(found.what.contains("frame 1"), "{found:?}");

        let mut torn = bytes.clone();
        let last = bytes.len() - page + 10;
        torn[last] ^= 0xff;
        assert_eq!(damage(&torn), None, "only the final commit is torn");

        let mut header = bytes;
        header[5] ^= 0x01;
        assert!(damage(&header).unwrap().what.contains("header"));
    }
}
