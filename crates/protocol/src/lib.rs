//! `countertop-protocol`: every type that crosses the wire between a Countertop kiosk and
//! head office (HQ), with serde and validation on construction, so that neither side can
//! hold a value the other would refuse.
//!
//! - [`version`]: the protocol version, and the check that refuses an unknown major version.
//! - [`values`]: small validated values (scale, score, touchpoint, reason, comment).
//! - [`event`]: the append-only facts a kiosk pushes (`rating`, `rating_details`,
//!   `device_health`, `regular_upserted`, `visit`, `regular_erased`), in an envelope that later kinds extend without a breaking change.
//! - [`regular`]: regulars' profiles (with consent), visits and erasures, and the hybrid
//!   logical clock their edits merge on.
//! - [`text`]: text every store can keep (no NUL, no lone surrogate), checked once.
//! - [`config`]: the survey configuration that flows down to kiosks, with the "remember
//!   me" offer and the menu.
//! - [`api`]: request and response bodies of the HTTP API.

pub mod api;
pub mod config;
pub mod event;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod regular;
pub mod text;
pub mod values;
pub mod version;

pub use api::{
    ConfigResponse, EnrollRequest, EnrollResponse, ErrorBody, EventOutcome, EventResult,
    PushRequest, PushResponse, RegularsResponse,
};
pub use config::{
    localized, Language, LocalizedText, Menu, MenuOption, ReasonChip, RememberMe, SurveyConfig,
    Timeouts,
};
pub use event::{
    DeviceHealth, Event, EventBody, EventError, NewDeviceHealth, NewRating, NewRatingDetails,
    Rating, RatingDetails,
};
pub use regular::{
    phone_digits, Consent, Hlc, NewRegular, Regular, RegularErased, UsualOrder, Visit, VisitRecord,
};
pub use values::{
    Comment, Nps, ReasonSlug, Scale, Score, Touchpoint, ValidationError, MAX_COMMENT_CHARS,
};
pub use version::{ProtocolVersion, VersionError, PROTOCOL_HEADER, PROTOCOL_VERSION};
