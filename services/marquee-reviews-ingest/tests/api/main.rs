//! Integration tests: the real service against a local upstream HTTP server
//! and the embedded bus.

#![allow(clippy::unwrap_used, missing_docs)]

mod cleanup;
mod feeds;
mod helpers;
mod pages;
mod robustness;
mod samples;
mod webhook;
