//! Black-box tests of the web dashboard: the real server on port 0, a browser-like
//! client with a cookie jar, a fresh SQLite file and a fresh PostgreSQL database. Every
//! test runs on both backends.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod analytics;
mod audit;
mod cli;
mod cookies;
mod csrf;
mod devices;
mod escaping;
mod export;
mod login;
mod ops_scope;
mod ops_support;
mod privacy;
mod scope;
mod survey;
mod users;
mod wayfinding;
