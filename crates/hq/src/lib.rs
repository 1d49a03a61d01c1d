//! `countertop-hq`: the head-office server. Kiosks enroll, push their ratings and pull
//! their survey; head office reads reports. The binary in `main.rs` is a thin CLI over
//! this library, so tests can start the real server in-process.

pub mod admin;
pub mod alerts;
pub mod app;
pub mod body;
pub mod demo;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod reports;
pub mod routes;
pub mod secrets;
pub mod storage;
pub mod throttle;
pub mod tls;
pub mod web;

pub use app::{Application, Limits, Settings};
pub use storage::{open_storage, Storage, StorageError};
