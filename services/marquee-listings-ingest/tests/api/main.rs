//! Integration tests: the real service against a local upstream HTTP server,
//! the embedded bus, and SQLite or PostgreSQL ledgers.

#![allow(clippy::unwrap_used, missing_docs)]

mod bad_input;
mod changes;
mod helpers;
mod postgres;
mod sources;
