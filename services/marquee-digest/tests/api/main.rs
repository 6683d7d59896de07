//! Integration tests of the digest service: the real service over a fresh
//! SQLite or PostgreSQL database on a pinned clock, a real SMTP server
//! (aiosmtpd, `scripts/smtp-sink.py`) on loopback, HTTP over reqwest.
#![allow(clippy::unwrap_used, missing_docs)]

#[macro_use]
extern crate marquee_test_support;

mod admin;
mod archive;
mod bounces;
mod clients;
mod delivery;
mod dkim;
mod email;
mod helpers;
mod metrics;
mod needs;
mod operations;
mod picks;
mod scheduler;
mod subscriptions;
mod templates;
