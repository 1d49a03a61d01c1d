//! The protocol version spoken by both sides. It travels as a `"MAJOR.MINOR"` string in
//! every request. Minor versions only add optional fields or new event kinds, so any
//! `1.x` kiosk can talk to any `1.y` HQ; a different major version is refused with an
//! error that says which side to update.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The version this crate speaks.
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion { major: 1, minor: 0 };

/// The HTTP header that carries the version on requests without a body (`GET`).
pub const PROTOCOL_HEADER: &str = "x-countertop-protocol";

/// A `MAJOR.MINOR` protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    pub major: u16,
    pub minor: u16,
}

/// Why a protocol version was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("protocol version {0:?} is not of the form MAJOR.MINOR (for example \"1.0\")")]
    Malformed(String),
    #[error(
        "protocol version {theirs} is not supported: this side speaks {ours}; \
         update the {newer_side} so both speak the same major version"
    )]
    UnsupportedMajor {
        theirs: ProtocolVersion,
        ours: ProtocolVersion,
        newer_side: &'static str,
    },
}

impl ProtocolVersion {
    /// Accept `other` if it has our major version; explain otherwise.
    pub fn check_compatible(self, other: ProtocolVersion) -> Result<(), VersionError> {
        if self.major == other.major {
            return Ok(());
        }
        let newer_side = if other.major > self.major {
            "head office server"
        } else {
            "kiosk"
        };
        Err(VersionError::UnsupportedMajor {
            theirs: other,
            ours: self,
            newer_side,
        })
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ProtocolVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || VersionError::Malformed(s.chars().take(32).collect());
        let (major, minor) = s.split_once('.').ok_or_else(malformed)?;
        Ok(ProtocolVersion {
            major: major.parse().map_err(|_| malformed())?,
            minor: minor.parse().map_err(|_| malformed())?,
        })
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_is_compatible_whatever_the_minor() {
        let theirs: ProtocolVersion = "1.7".parse().expect("valid version");
        assert_eq!(PROTOCOL_VERSION.check_compatible(theirs), Ok(()));
    }

    #[test]
    fn unknown_major_is_refused_with_advice() {
        let theirs: ProtocolVersion = "2.0".parse().expect("valid version");
        let err = PROTOCOL_VERSION
            .check_compatible(theirs)
            .expect_err("major 2 must be refused");
        let text = err.to_string();
        assert!(
            text.contains("2.0") && text.contains("head office"),
            "{text}"
        );
    }

    #[test]
    fn malformed_version_is_an_error() {
        assert!("one".parse::<ProtocolVersion>().is_err());
        assert!("1".parse::<ProtocolVersion>().is_err());
        assert!("1.x".parse::<ProtocolVersion>().is_err());
    }

    #[test]
    fn version_travels_as_a_string() {
        let json = serde_json::to_string(&PROTOCOL_VERSION).expect("serializes");
        assert_eq!(json, "\"1.0\"");
    }
}
