//! Input the kiosk refused, as a kind rather than a sentence.
//!
//! The core and the store say *what* was refused; the UI words it in the language on
//! screen (see `src/ui/manager/problem.rs`). The English `Display` text is for logs and
//! tests only, so no English sentence ever follows a translated prefix on a staff screen.

use std::path::PathBuf;

/// Why the kiosk did not take what a manager typed or tapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not 4 to 8 digits (see [`crate::regulars::PIN_DIGITS`]).
    #[error("a PIN has {} to {} digits", crate::regulars::PIN_DIGITS.start(), crate::regulars::PIN_DIGITS.end())]
    PinFormat,
    /// A default PIN, one digit repeated, or a run such as 1234 or 9876.
    #[error(
        "that PIN is too easy to guess (a default, one digit repeated, or a run); choose another"
    )]
    PinWeak,
    /// The other role already answers to this PIN: the pad could not tell them apart.
    #[error("that PIN is already the {0}'s; choose another")]
    PinTaken(&'static str),
    /// The first-day manager and barista PINs are the same.
    #[error("the manager's and the barista's PINs must differ")]
    PinsEqual,
    #[error("the language \"{0}\" is not offered on this kiosk")]
    LanguageNotOffered(String),
    /// Outside [`crate::config::IDLE_SECS`].
    #[error("the idle time must be between {} and {} seconds", crate::config::IDLE_SECS.start(), crate::config::IDLE_SECS.end())]
    IdleOutOfRange,
    #[error("enter the HQ address and the enrollment code from HQ")]
    EnrollIncomplete,
    #[error("{0} is not an HQ address (expected http://host:port or https://host)")]
    NotAnHqAddress(String),
    /// HQ answered 4xx to an enrollment: the code is wrong, used or expired. HQ's own
    /// message (English) is kept for the log only.
    #[error("HQ refused: {message}")]
    HqRefused { status: u16, message: String },
    #[error("cannot export: give a file name")]
    ExportNoFileName,
    #[error("cannot export: the folder {} does not exist", .0.display())]
    ExportFolderMissing(PathBuf),
    #[error("cannot export: this kiosk may not write to the folder {}", .0.display())]
    ExportNotAllowed(PathBuf),
    #[error("cannot export to the folder {}: {}", .0.display(), .1)]
    ExportFailed(PathBuf, String),
}
