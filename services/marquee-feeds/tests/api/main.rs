//! Integration tests of the feeds service: the real service over a fresh
//! SQLite or PostgreSQL database, events handed straight to its handler.
#![allow(clippy::unwrap_used, missing_docs)]

#[macro_use]
extern crate marquee_test_support;

mod calendar;
mod formats;
mod helpers;
mod http;
mod replay;
mod screenings;
mod store;
mod websub;
