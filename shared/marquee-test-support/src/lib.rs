//! Test-only helpers shared by the services' integration tests (a
//! dev-dependency, never linked into a service): a fresh database per test on
//! SQLite or on the local PostgreSQL (127.0.0.1:5432, trust auth, as the test
//! command guarantees), a fake upstream site for the ingest services,
//! malformed inputs for the parsers' property tests, a real SMTP server,
//! and a broker and a PostgreSQL of a test's own, to kill and restart.

mod clock;
mod mutation;
mod processes;
mod smtp;
mod upstream;
pub mod wait;

use std::path::Path;

pub use clock::ManualClock;
pub use mutation::mutated;
pub use processes::{DurableBroker, OwnPostgres, free_port};
pub use smtp::{Part, Received, SmtpSink};
pub use upstream::Upstream;

/// Runs each `async fn scenario(engine: Engine)` named once per database
/// engine, as tests `sqlite::scenario` and `postgres::scenario`. Bring it in
/// with `#[macro_use] extern crate marquee_test_support;` at the test crate's
/// root, so every module of the crate has it.
#[macro_export]
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario($crate::Engine::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario($crate::Engine::Postgres).await;
            })*
        }
    };
}

/// Where the tests create and drop their databases.
pub const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const POSTGRES_BASE: &str = "postgres://postgres@127.0.0.1:5432/";

/// Which database engine a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    /// A file in the test's temporary folder.
    Sqlite,
    /// A new database on the local PostgreSQL.
    Postgres,
}

/// A fresh, empty database URL on `engine`, named after `service`.
pub async fn fresh_database(engine: Engine, dir: &Path, service: &str) -> String {
    match engine {
        Engine::Sqlite => format!(
            "sqlite://{}",
            dir.join(format!("{service}.sqlite")).display()
        ),
        Engine::Postgres => create_postgres_database(service).await,
    }
}

/// Creates an empty PostgreSQL database and returns its URL.
pub async fn create_postgres_database(prefix: &str) -> String {
    let name = format!(
        "{}_test_{}",
        prefix.replace('-', "_"),
        uuid::Uuid::new_v4().simple()
    );
    let admin = marquee_runtime::database::connect(POSTGRES_ADMIN)
        .await
        .expect(
            "PostgreSQL answers at 127.0.0.1:5432 with trust auth (the test command starts it)",
        );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create a test database");
    admin.close().await;
    format!("{POSTGRES_BASE}{name}")
}

/// Drops a database made by [`fresh_database`], even while it is in use;
/// SQLite URLs are left to their temporary folder.
pub async fn drop_database(database_url: &str) {
    let Some(name) = database_url.strip_prefix(POSTGRES_BASE) else {
        return;
    };
    let admin = marquee_runtime::database::connect(POSTGRES_ADMIN)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop the test database");
    admin.close().await;
}
