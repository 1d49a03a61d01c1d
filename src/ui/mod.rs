//! Slint glue: the generated UI types, and one adapter per part of the kiosk. No SQL and
//! no HTTP here; adapters talk to the core thread through [`crate::core::Core`].

mod customer;
pub mod headless;
pub mod language;
mod manager;

slint::include_modules!();

pub use customer::CustomerFlow;
pub use manager::ManagerPanel;
