//! Black-box HTTP tests: the real server on port 0, over real HTTP, against a fresh
//! SQLite file and a fresh PostgreSQL database. Every test runs on both backends.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod comment_feed;
mod config;
mod contract;
mod demo;
mod enroll;
mod errors;
mod export;
mod operations;
mod push;
mod regulars;
mod reports;
mod rollups;
mod text;
