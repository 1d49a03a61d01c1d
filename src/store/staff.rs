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
/// Set once the two stored PINs are known to differ: every PIN set since shared PINs were
/// refused, or a barista PIN the manager's hash did not match.
const PINS_DISTINCT_KEY: &str = "staff_pins_distinct";

/// Who a PIN lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    Barista,
    Manager,
}

impl StaffRole {
    const ALL: [StaffRole; 2] = [StaffRole::Manager, StaffRole::Barista];

    /// The order an entered PIN is checked in, one argon2 run per stored hash until one
    /// matches. While the PINs may be shared (a kiosk from before that was refused), the
    /// manager's comes first, so a shared PIN opens the manager's view; once they are known
    /// to differ, the barista's, so the PIN entered most often costs one run, not two.
    fn check_order(pins_distinct: bool) -> [StaffRole; 2] {
        if pins_distinct {
            [StaffRole::Barista, StaffRole::Manager]
        } else {
            StaffRole::ALL
        }
    }

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
        let pins_distinct = self.setting_is_set(PINS_DISTINCT_KEY)?;
        let mut a_hash_missed = false;
        for role in StaffRole::check_order(pins_distinct) {
            let matched = match self.stored_pin_hash(role)? {
                Some(hash) => {
                    let matched = verify_pin(pin, &hash);
                    a_hash_missed |= !matched;
                    matched
                }
                None => self.default_matches(role, pin)?,
            };
            if !matched {
                continue;
            }
            if first_day && role == StaffRole::Barista {
                return Ok(PinCheck::FirstDayPending);
            }
            // Only what changed is written: a commit waits for the disk's fsync.
            if failures > 0 || locked_until.is_some() {
                self.conn.execute(
                    "UPDATE pin_lockout SET failed_attempts = 0, locked_until = NULL
                     WHERE id = 1",
                    [],
                )?;
            }
            if !pins_distinct && role == StaffRole::Barista && a_hash_missed {
                // The manager's hash did not match the barista's PIN: the two differ.
                mark_setting(&self.conn, PINS_DISTINCT_KEY)?;
            }
            return Ok(if first_day {
                PinCheck::FirstDay
            } else {
                PinCheck::Granted(role)
            });
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
        let hash = hash_pin(pin)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO staff_pins (role, hash) VALUES (?1, ?2)",
            params![role.key(), hash],
        )?;
        mark_setting(&tx, PINS_DISTINCT_KEY)?;
        tx.commit()?;
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
        mark_setting(&tx, FIRST_DAY_DONE_KEY)?;
        mark_setting(&tx, PINS_DISTINCT_KEY)?;
        tx.commit()?;
        Ok(())
    }

    /// Whether the default PINs have been replaced: the first-day change was made, or
    /// (a kiosk from before it existed) both roles already have PINs of their own, which
    /// is then marked so the hashes are checked only once.
    pub fn first_day_done(&mut self) -> Result<bool> {
        if self.setting_is_set(FIRST_DAY_DONE_KEY)? {
            return Ok(true);
        }
        for role in StaffRole::ALL {
            match self.stored_pin_hash(role)? {
                Some(hash) if !verify_pin(role.default_pin(), &hash) => {}
                _ => return Ok(false),
            }
        }
        mark_setting(&self.conn, FIRST_DAY_DONE_KEY)?;
        Ok(true)
    }

    /// Whether the settings row `key` exists.
    fn setting_is_set(&self, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM settings WHERE key = ?1", [key], |_| Ok(()))
            .optional()?
            .is_some())
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

/// Writes the settings row `key`, stamped with the time it was first written.
fn mark_setting(conn: &rusqlite::Connection, key: &str) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)",
        params![key, time_text(Utc::now())],
    )?;
    Ok(())
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
    fn a_barista_pin_the_manager_hash_misses_marks_the_pins_distinct_and_is_checked_first_after() {
        let (_dir, mut store) = open();
        past_first_day(&mut store);
        // A kiosk whose PINs were set before anything recorded that they differ.
        store
            .conn
            .execute("DELETE FROM settings WHERE key = ?1", [PINS_DISTINCT_KEY])
            .unwrap();
        assert_eq!(StaffRole::check_order(false)[0], StaffRole::Manager);
        assert_eq!(
            store.check_pin("2468", at(0)).unwrap(),
            PinCheck::Granted(StaffRole::Manager)
        );
        assert!(
            !store.setting_is_set(PINS_DISTINCT_KEY).unwrap(),
            "a manager grant says nothing of the barista's PIN"
        );
        assert_eq!(
            store.check_pin("1357", at(1)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
        assert!(store.setting_is_set(PINS_DISTINCT_KEY).unwrap());
        // From now on the barista's hash is verified first: were both hashes one PIN,
        // it would open the barista's view.
        let one = hash_pin("8642").unwrap();
        store
            .conn
            .execute("UPDATE staff_pins SET hash = ?1", [&one])
            .unwrap();
        assert_eq!(
            store.check_pin("8642", at(2)).unwrap(),
            PinCheck::Granted(StaffRole::Barista)
        );
    }

    #[test]
    fn setting_either_pin_marks_the_pins_distinct() {
        let (_dir, mut store) = open();
        assert!(!store.setting_is_set(PINS_DISTINCT_KEY).unwrap());
        store.set_pin(StaffRole::Manager, "2580").unwrap();
        assert!(store.setting_is_set(PINS_DISTINCT_KEY).unwrap());
        let (_dir, mut store) = open();
        past_first_day(&mut store);
        assert!(store.setting_is_set(PINS_DISTINCT_KEY).unwrap());
    }

    #[test]
    fn a_pin_both_roles_share_opens_the_manager_view_and_a_grant_writes_only_a_count_to_reset() {
        let (_dir, mut store) = open();
        past_first_day(&mut store);
        // A kiosk from before shared PINs were refused: both hashes hold one PIN, and
        // nothing says they differ.
        let shared = hash_pin("8642").unwrap();
        store
            .conn
            .execute("UPDATE staff_pins SET hash = ?1", [&shared])
            .unwrap();
        store
            .conn
            .execute("DELETE FROM settings WHERE key = ?1", [PINS_DISTINCT_KEY])
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
    fn a_malformed_stored_hash_matches_nothing() {
        assert!(!verify_pin("2468", "not a hash"));
        assert!(!verify_pin("2468", ""));
        assert!(verify_pin("2468", &hash_pin("2468").unwrap()));
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
