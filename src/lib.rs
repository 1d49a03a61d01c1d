//! Countertop's kiosk: a one-tap feedback terminal that remembers regulars.
//!
//! The UI thread runs Slint ([`ui`]); the core thread ([`core`]) owns the local store
//! ([`store`]) and the sync loop to head office ([`sync`]). The domain ([`feedback`])
//! knows nothing of either.

pub mod clock;
pub mod config;
pub mod core;
pub mod display;
pub mod feedback;
pub mod refusal;
pub mod regulars;
pub mod store;
pub mod sync;
pub mod telex;
pub mod ui;
