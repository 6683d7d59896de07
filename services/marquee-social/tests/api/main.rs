//! Integration tests of the social service: the real service over a fresh
//! SQLite or PostgreSQL database, events handed straight to its handler,
//! the networks faked with wiremock after their real APIs (Bluesky also
//! against the reference PDS, in `pds`), the clock pinned.
#![allow(clippy::unwrap_used, missing_docs)]

#[macro_use]
extern crate marquee_test_support;

mod back_catalogue;
mod bluesky;
mod compose;
mod fediverse;
mod helpers;
mod ledger;
mod mastodon;
mod outbox;
mod pacing;
mod pds;
mod queue;
mod webhook;
mod x;
