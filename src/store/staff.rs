//! Staff PINs, the first day, and the PIN pad's lockout.
//!
//! PINs are kept only as argon2 hashes with a random salt. A role with no stored hash
//! still answers to its default PIN (manager `1234`, barista `0000`); the first time the
//! default is used its hash is stored, so the plain default never sits in the database.
//!
//! The defaults are public, so they open nothing for long: until the manager has chosen
//! new PINs for both roles (the "first day", [`Store::complete_first_day`]), the manager's
//! PIN opens only the screen that sets them ([`PinCheck::FirstDay`]) and the barista's
//! opens nothing ([`PinCheck::FirstDayPending`]). That the first day is done is kept in the
//! `settings` table, so it survives a restart.
//!
//! Wrong PINs lock the pad for growing periods, and the lockout is stored so a restart
//! does not clear it. Nothing here ever logs a PIN.

use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};

use super::{Result, Store, StoreError};
use crate::refusal::Refusal;

/// The `settings` key set once the manager has replaced the default PINs.
const FIRST_DAY_DONE_KEY: &str = "staff_pins_first_day_done";

/// Who a PIN lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    Barista,
    Manager,
}

impl StaffRole {
    /// Checked in this order, so a PIN shared by both roles opens the manager's view.
    const ALL: [StaffRole; 2] = [StaffRole::Manager, StaffRole::Barista];

    pub fn key(self) -> &'static str {
        match self {
            StaffRole::Barista => "barista",
            StaffRole::Manager => "manager",
        }
    }

    /// The PIN a role answers to until one is set. The README says to change them.
    fn default_pin(self) -> &'static str {
        match self {
            StaffRole::Barista => "0000",
            StaffRole::Manager => "1234",
        }
    }
}

/// What the PIN pad made of an entered PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    Granted(StaffRole),
    /// The manager's default PIN on the first day: it opens only the screen that sets the
    /// new manager and barista PINs.
    FirstDay,
    /// The barista's default PIN on the first day: it opens nothing until the manager has
    /// set new PINs. Not counted as a wrong try.
    FirstDayPending,
    /// Wrong PIN; `locked_for` is set when this try started a lockout.
    Wrong {
        locked_for: Option<Duration>,
    },
    /// The pad is locked; the PIN was not even looked at.
    Locked {
        remaining: Duration,
    },
}

/// Wrong tries allowed before the pad locks.
const FREE_TRIES: u32 = 3;
const FIRST_LOCKOUT: Duration = Duration::from_secs(30);
const LONGEST_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// How long the pad locks after `failures` wrong tries in a row: nothing before the
/// third, then 30 s, doubling with each further wrong try, at most 15 minutes.
pub fn lockout_for(failures: u32) -> Option<Duration> {
    if failures < FREE_TRIES {
        return None;
    }
    let doublings = (failures - FREE_TRIES).min(16);
    Some((FIRST_LOCKOUT * 2u32.pow(doublings)).min(LONGEST_LOCKOUT))
}

/// An argon2 hash of `pin` with a fresh random salt, as a PHC string.
pub fn hash_pin(pin: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Corrupt(format!("cannot hash a PIN: {e}")))
}

/// Whether `pin` matches a stored PHC hash. A malformed hash matches nothing.
pub fn verify_pin(pin: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(pin.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether `pin` is too easy to guess for a staff PIN: a default, one digit repeated
/// ("5555"), or a run up or down ("3456", "9876").
pub fn is_weak_pin(pin: &str) -> bool {
    let digits: Vec<i16> = pin
        .bytes()
        .map(|b| i16::from(b) - i16::from(b'0'))
        .collect();
    let steps: Vec<i16> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    StaffRole::ALL.iter().any(|r| r.default_pin() == pin)
        || steps.iter().all(|s| *s == 0)
        || steps.iter().all(|s| *s == 1)
        || steps.iter().all(|s| *s == -1)
}

/// Why `pin` cannot be a staff PIN, if it cannot: its format, then its strength.
pub fn check_new_pin(pin: &str) -> std::result::Result<(), Refusal> {
    crate::regulars::check_pin_format(pin)?;
    if is_weak_pin(pin) {
        return Err(Refusal::PinWeak);
    }
    Ok(())
}

/// Why the first day's two PINs cannot be taken, if they cannot: each must be a good
/// PIN, and they must differ (the pad could not tell the two roles apart).
pub fn check_first_day_pins(manager: &str, barista: &str) -> std::result::Result<(), Refusal> {
    check_new_pin(manager)?;
    check_new_pin(barista)?;
    if manager == barista {
        return Err(Refusal::PinsEqual);
    }
    Ok(())
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Checks an entered PIN at `now`, counting wrong tries and locking the pad.
    pub fn check_pin(&mut self, pin: &str, now: DateTime<Utc>) -> Result<PinCheck> {
        let (failures, locked_until): (u32, Option<String>) = self.conn.query_row(
            "SELECT failed_attempts, locked_until FROM pin_lockout WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if let Some(until) = &locked_until {
            let until = DateTime::parse_from_rfc3339(until)
                .map_err(|e| StoreError::Corrupt(format!("pin lockout time: {e}")))?
                .with_timezone(&Utc);
            if until > now {
                let remaining = (until - now).to_std().unwrap_or(Duration::ZERO);
                return Ok(PinCheck::Locked { remaining });
            }
        }
        let first_day = !self.first_day_done()?;
        let mut hashes = Vec::with_capacity(StaffRole::ALL.len());
        for role in StaffRole::ALL {
            hashes.push(self.stored_pin_hash(role)?);
        }
        let verdicts = verify_each(pin, &hashes);
        for ((role, hash), verdict) in StaffRole::ALL.into_iter().zip(hashes).zip(verdicts) {
            let matched = match hash {
                Some(_) => verdict,
                None => self.default_matches(role, pin)?,
            };
            if matched {
                if first_day && role == StaffRole::Barista {
                    return Ok(PinCheck::FirstDayPending);
                }
                // Only a count to reset is written: a commit waits for the disk's fsync.
                if failures > 0 || locked_until.is_some() {
                    self.conn.execute(
                        "UPDATE pin_lockout SET failed_attempts = 0, locked_until = NULL
                         WHERE id = 1",
                        [],
                    )?;
                }
                return Ok(if first_day {
                    PinCheck::FirstDay
                } else {
                    PinCheck::Granted(role)
                });
            }
        }
        let failures = failures.saturating_add(1);
        let locked_for = lockout_for(failures);
        let until = match locked_for.map(chrono::Duration::from_std) {
            Some(Ok(period)) => Some(time_text(now + period)),
            _ => None,
        };
        self.conn.execute(
            "UPDATE pin_lockout SET failed_attempts = ?1, locked_until = ?2 WHERE id = 1",
            params![failures, until],
        )?;
        Ok(PinCheck::Wrong { locked_for })
    }

    /// Sets `role`'s PIN (stored only as a hash). Refused ([`Refusal`]) unless it has 4 to
    /// 8 digits and is hard to guess, or when it is the other role's PIN: the pad could
    /// not tell the two apart.
    pub fn set_pin(&mut self, role: StaffRole, pin: &str) -> Result<()> {
        check_new_pin(pin)?;
        for other in StaffRole::ALL.into_iter().filter(|r| *r != role) {
            if self.pin_is(other, pin)? {
                return Err(Refusal::PinTaken(other.key()).into());
            }
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO staff_pins (role, hash) VALUES (?1, ?2)",
            params![role.key(), hash_pin(pin)?],
        )?;
        Ok(())
    }

    /// The first day's change: both new PINs at once, each hard to guess, and different
    /// from each other. Nothing is stored unless both are taken.
    pub fn complete_first_day(&mut self, manager: &str, barista: &str) -> Result<()> {
        check_first_day_pins(manager, barista)?;
        let (manager, barista) = (hash_pin(manager)?, hash_pin(barista)?);
        let tx = self.conn.transaction()?;
        for (role, hash) in [(StaffRole::Manager, manager), (StaffRole::Barista, barista)] {
            tx.execute(
                "INSERT OR REPLACE INTO staff_pins (role, hash) VALUES (?1, ?2)",
                params![role.key(), hash],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![FIRST_DAY_DONE_KEY, time_text(Utc::now())],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether the default PINs have been replaced: the first-day change was made, or
    /// (a kiosk from before it existed) both roles already have PINs of their own, which
    /// is then marked so the hashes are checked only once.
    pub fn first_day_done(&mut self) -> Result<bool> {
        let marked: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [FIRST_DAY_DONE_KEY],
                |row| row.get(0),
            )
            .optional()?;
        if marked.is_some() {
            return Ok(true);
        }
        for role in StaffRole::ALL {
            match self.stored_pin_hash(role)? {
                Some(hash) if !verify_pin(role.default_pin(), &hash) => {}
                _ => return Ok(false),
            }
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![FIRST_DAY_DONE_KEY, time_text(Utc::now())],
        )?;
        Ok(true)
    }

    /// The argon2 hash stored for `role`, or `None` while it still takes its default.
    fn stored_pin_hash(&self, role: StaffRole) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT hash FROM staff_pins WHERE role = ?1",
                [role.key()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Whether `pin` is `role`'s PIN, without storing a default's hash.
    fn pin_is(&self, role: StaffRole, pin: &str) -> Result<bool> {
        let stored = self.stored_pin_hash(role)?;
        Ok(match stored {
            Some(hash) => verify_pin(pin, &hash),
            None => pin == role.default_pin(),
        })
    }

    /// Whether `pin` is the default of `role`, which has no stored hash: the default's
    /// hash is stored the first time it is used.
    fn default_matches(&mut self, role: StaffRole, pin: &str) -> Result<bool> {
        if pin != role.default_pin() {
            return Ok(false);
        }
        self.conn.execute(
            "INSERT OR IGNORE INTO staff_pins (role, hash) VALUES (?1, ?2)",
            params![role.key(), hash_pin(pin)?],
        )?;
        Ok(true)
    }
}

/// Whether `pin` matches each stored hash (`None`: no hash, no match), one after the
/// other. Verifying them at the same time, one thread each, was tried and measured slower
/// on a loaded 2-core machine (148 ms against 117 ms for two in a row): argon2 fills 19 MiB
/// per run, and two runs at once contend for the cores and the memory.
fn verify_each(pin: &str, hashes: &[Option<String>]) -> Vec<bool> {
    hashes
        .iter()
        .map(|hash| hash.as_deref().is_some_and(|hash| verify_pin(pin, hash)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store as open;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn the_pad_locks_from_the_third_wrong_try_doubling_up_to_fifteen_minutes() {
        assert_eq!(lockout_for(0), None);
        assert_eq!(lockout_for(2), None);
        assert_eq!(lockout_for(3), Some(Duration::from_secs(30)));
        assert_eq!(lockout_for(4), Some(Duration::from_secs(60)));
        assert_eq!(lockout_for(5), Some(Duration::from_secs(120)));
        assert_eq!(lockout_for(7), Some(Duration::from_secs(480)));
        assert_eq!(lockout_for(8), Some(Duration::from_secs(900)));
        assert_eq!(lockout_for(9), Some(Duration::from_secs(900)));
        assert_eq!(lockout_for(u32::MAX), Some(Duration::from_secs(900)));
    }

    #[test]
    fn a_pin_hash_is_salted_and_verifies_only_the_same_pin() {
        let hash = hash_pin("4711").unwrap();
        assert!(!hash.contains("4711"));
        assert_ne!(
            hash,
            hash_pin("4711").unwrap(),
            "each hash has its own salt"
        );
        assert!(verify_pin("4711", &hash));
        assert!(!verify_pin("4712", &hash));
        assert!(!verify_pin("4711", "not a hash"));
    }

    /// The first day done with PINs no test elsewhere uses.
    fn past_first_day(store: &mut Store) {
        store.complete_first_day("2468", "1357").unwrap();
    }

    #[test]
    fn a_pin_both_roles_share_opens_the_manager_view_and_a_grant_writes_only_a_count_to_reset() {
        let (_dir, mut store) = open();
        past_first_day(&mut store);
        // A kiosk from before shared PINs were refused: both hashes hold one PIN.
        let shared = hash_pin("8642").unwrap();
        store
            .conn
            .execute("UPDATE staff_pins SET hash = ?1", [&shared])
            .unwrap();
        assert_eq!(
            store.check_pin("8642", at(0)).unwrap(),
            PinCheck::Granted(StaffRole::Manager)
        );
        past_first_day(&mut store);
        let before = store.conn.total_changes();
        assert_eq!(
            store.check_pin("1357", at(1)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
        assert_eq!(
            store.conn.total_changes(),
            before,
            "nothing to reset, nothing written"
        );
        assert!(matches!(
            store.check_pin("9999", at(2)).unwrap(),
            PinCheck::Wrong { .. }
        ));
        assert_eq!(
            store.check_pin("1357", at(3)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
        let failures: u32 = store
            .conn
            .query_row("SELECT failed_attempts FROM pin_lockout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(failures, 0, "a grant after a wrong try resets the count");
    }

    #[test]
    fn each_stored_hash_is_verified_and_a_missing_or_bad_one_matches_nothing() {
        let hashes = [
            Some(hash_pin("2468").unwrap()),
            None,
            Some("not a hash".to_owned()),
            Some(hash_pin("1357").unwrap()),
        ];
        assert_eq!(verify_each("1357", &hashes), [false, false, false, true]);
        assert_eq!(verify_each("2468", &hashes), [true, false, false, false]);
        assert!(verify_each("2468", &[]).is_empty());
    }

    #[test]
    fn on_the_first_day_the_manager_default_opens_only_the_change_and_the_barista_default_nothing()
    {
        let (dir, mut store) = open();
        assert!(!store.first_day_done().unwrap());
        assert_eq!(store.check_pin("1234", at(0)).unwrap(), PinCheck::FirstDay);
        assert_eq!(
            store.check_pin("0000", at(1)).unwrap(),
            PinCheck::FirstDayPending
        );
        // Neither default sits in the database in plain.
        let hashes: Vec<String> = store
            .conn
            .prepare("SELECT hash FROM staff_pins ORDER BY role")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(hashes.len(), 2);
        assert!(hashes.iter().all(|h| h.starts_with("$argon2")));
        // Asking again and again is not a wrong try: the pad does not lock.
        for i in 0..5 {
            assert_eq!(
                store.check_pin("0000", at(2 + i)).unwrap(),
                PinCheck::FirstDayPending
            );
        }
        assert_eq!(store.check_pin("1234", at(9)).unwrap(), PinCheck::FirstDay);

        store.complete_first_day("2468", "1357").unwrap();
        assert!(store.first_day_done().unwrap());
        assert_eq!(
            store.check_pin("2468", at(10)).unwrap(),
            PinCheck::Granted(StaffRole::Manager)
        );
        assert_eq!(
            store.check_pin("1357", at(11)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
        for default in ["1234", "0000"] {
            assert!(matches!(
                store.check_pin(default, at(12)).unwrap(),
                PinCheck::Wrong { .. }
            ));
        }
        // It survives a restart.
        drop(store);
        let mut store = Store::open(&dir.path().join("countertop.db")).unwrap();
        assert!(store.first_day_done().unwrap());
    }

    #[test]
    fn the_first_day_change_refuses_equal_weak_or_ill_formed_pins_and_stores_nothing() {
        let (_dir, mut store) = open();
        let refused = |store: &mut Store, m: &str, b: &str| match store.complete_first_day(m, b) {
            Err(StoreError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(refused(&mut store, "2468", "2468"), Refusal::PinsEqual);
        for weak in ["1234", "0000", "5555", "3456", "9876", "43210"] {
            assert_eq!(
                refused(&mut store, weak, "1357"),
                Refusal::PinWeak,
                "{weak}"
            );
            assert_eq!(
                refused(&mut store, "1357", weak),
                Refusal::PinWeak,
                "{weak}"
            );
        }
        for bad in ["135", "135792468", "13a7", ""] {
            assert_eq!(
                refused(&mut store, bad, "2468"),
                Refusal::PinFormat,
                "{bad:?}"
            );
        }
        assert!(!store.first_day_done().unwrap());
        assert_eq!(store.check_pin("1234", at(0)).unwrap(), PinCheck::FirstDay);
    }

    #[test]
    fn a_kiosk_whose_both_pins_were_changed_before_the_first_day_existed_is_past_it() {
        let (_dir, mut store) = open();
        store.set_pin(StaffRole::Manager, "2468").unwrap();
        assert!(
            !store.first_day_done().unwrap(),
            "the barista's is still 0000"
        );
        store.set_pin(StaffRole::Barista, "1357").unwrap();
        assert!(store.first_day_done().unwrap());
        assert_eq!(
            store.check_pin("1357", at(0)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
    }

    #[test]
    fn a_new_pin_replaces_the_old_and_bad_weak_or_shared_pins_are_refused() {
        let (_dir, mut store) = open();
        past_first_day(&mut store);
        store.set_pin(StaffRole::Manager, "9786").unwrap();
        assert_eq!(
            store.check_pin("2468", at(0)).unwrap(),
            PinCheck::Wrong { locked_for: None }
        );
        assert_eq!(
            store.check_pin("9786", at(1)).unwrap(),
            PinCheck::Granted(StaffRole::Manager)
        );
        for bad in ["123", "123456789", "12ab"] {
            let err = store.set_pin(StaffRole::Barista, bad).unwrap_err();
            assert_eq!(err.to_string(), "a PIN has 4 to 8 digits");
            assert!(matches!(err, StoreError::Refused(Refusal::PinFormat)));
        }
        assert!(matches!(
            store.set_pin(StaffRole::Barista, "7777"),
            Err(StoreError::Refused(Refusal::PinWeak))
        ));
        let err = store.set_pin(StaffRole::Barista, "9786").unwrap_err();
        assert!(err.to_string().contains("manager"), "{err}");
        assert!(matches!(
            err,
            StoreError::Refused(Refusal::PinTaken("manager"))
        ));
        store.set_pin(StaffRole::Barista, "55565").unwrap();
        assert_eq!(
            store.check_pin("55565", at(2)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
    }

    #[test]
    fn three_wrong_pins_lock_the_pad_even_for_the_right_pin_until_the_period_ends() {
        let (dir, mut store) = open();
        past_first_day(&mut store);
        let wrong = PinCheck::Wrong { locked_for: None };
        assert_eq!(store.check_pin("9999", at(0)).unwrap(), wrong);
        assert_eq!(store.check_pin("9998", at(1)).unwrap(), wrong);
        assert_eq!(
            store.check_pin("9997", at(2)).unwrap(),
            PinCheck::Wrong {
                locked_for: Some(Duration::from_secs(30))
            }
        );
        assert_eq!(
            store.check_pin("2468", at(12)).unwrap(),
            PinCheck::Locked {
                remaining: Duration::from_secs(20)
            }
        );

        // The lockout survives a restart.
        drop(store);
        let mut store = Store::open(&dir.path().join("countertop.db")).unwrap();
        assert!(matches!(
            store.check_pin("2468", at(31)).unwrap(),
            PinCheck::Locked { .. }
        ));

        // Once it ends, a fourth wrong try locks for twice as long...
        assert_eq!(
            store.check_pin("9996", at(33)).unwrap(),
            PinCheck::Wrong {
                locked_for: Some(Duration::from_secs(60))
            }
        );
        // ...and the right PIN afterwards resets the count.
        assert_eq!(
            store.check_pin("2468", at(100)).unwrap(),
            PinCheck::Granted(StaffRole::Manager)
        );
        assert_eq!(
            store.check_pin("9999", at(101)).unwrap(),
            PinCheck::Wrong { locked_for: None }
        );
    }
}
