//! Alerts (issue 11), black box: a real HQ on a real port against a fresh SQLite file and
//! a fresh PostgreSQL database, a real HTTP webhook receiver and a real SMTP sink started
//! on loopback by the tests. Time is injected (a manual clock) where the scenario is
//! about time, so nothing sleeps to wait for a pending period or a night.

#[path = "../common/mod.rs"]
mod common;

mod delivery;
mod digest;
mod lifecycle;
mod pages;
mod processes;
mod quarantine;
mod smtp;
mod support;
