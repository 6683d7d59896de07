//! Integration tests of the digest service: the real service over a fresh
//! SQLite or PostgreSQL database on a pinned clock, a real SMTP server
//! (aiosmtpd, `scripts/smtp-sink.py`) on loopback, HTTP over reqwest.
#![allow(clippy::unwrap_used, missing_docs)]

/// Runs each scenario once per database engine.
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario(crate::helpers::Engine::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario(crate::helpers::Engine::Postgres).await;
            })*
        }
    };
}

mod admin;
mod delivery;
mod helpers;
mod operations;
mod scheduler;
mod subscriptions;
