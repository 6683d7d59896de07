//! Test-only helpers shared by the services' integration tests (a
//! dev-dependency, never linked into a service): a fresh database per test on
//! SQLite or on the local PostgreSQL (127.0.0.1:5432, trust auth, as the test
//! command guarantees), a fake upstream site for the ingest services,
//! malformed inputs for the parsers' property tests, a real SMTP server,
//! a broker and a PostgreSQL of a test's own, to kill and restart, sound
//! events to start from, a clock to pin, waiting with a deadline, and
//! [`on_each!`] to run a case on each engine or transport.

mod clock;
pub mod events;
mod golden;
mod mutation;
mod processes;
mod python;
mod smtp;
mod upstream;
pub mod wait;

use std::path::Path;

pub use clock::ManualClock;
pub use golden::assert_golden;
pub use mutation::mutated;
pub use processes::{DurableBroker, OwnPostgres, free_port, run_to_success};
pub use python::python_json;
pub use smtp::{Part, Received, SmtpSink};
pub use upstream::Upstream;

/// The one way to run a case on several variants (database engines,
/// transports): for each `module = value`, a module of tests, one per case,
/// calling `case(value).await`, e.g. `sqlite::scenario` and
/// `postgres::scenario`. A value is any expression, awaited inside the test
/// if it is async: `[embedded = TestBus::embedded().await, kafka = …]`.
/// Values are written as in the calling module (the generated modules
/// import everything of it).
///
/// ```
/// use marquee_test_support::{Engine, on_each};
///
/// async fn an_edit_updates_the_item(engine: Engine) {
///     // … a service on a fresh database of `engine` …
/// #   let _ = engine;
/// }
///
/// async fn items_survive_a_restart(engine: Engine) {
/// #   let _ = engine;
/// }
///
/// // Tests sqlite::an_edit_updates_the_item, postgres::an_edit_updates_the_item, …
/// on_each!(
///     [sqlite = Engine::Sqlite, postgres = Engine::Postgres]
///     an_edit_updates_the_item, items_survive_a_restart,
/// );
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! on_each {
    ([] $($case:ident),* $(,)?) => {};
    ([$module:ident = $value:expr $(, $($variants:tt)*)?] $($case:ident),* $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case($value).await;
            })*
        }
        $crate::on_each!([$($($variants)*)?] $($case),*);
    };
}

/// Runs each `async fn scenario(engine: Engine)` named once per database
/// engine, as tests `sqlite::scenario` and `postgres::scenario`: [`on_each!`]
/// over [`Engine`]. Bring it in with `#[macro_use] extern crate
/// marquee_test_support;` at the test crate's root, so every module of the
/// crate has it.
#[macro_export]
macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        $crate::on_each!(
            [sqlite = $crate::Engine::Sqlite, postgres = $crate::Engine::Postgres]
            $($scenario),*
        );
    };
}

/// The test broker's `host:port`: `TEST_KAFKA_BROKERS` (the test command
/// starts one and sets it), else Kafka's default 127.0.0.1:9092.
pub fn kafka_brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned())
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
    create_database(POSTGRES_ADMIN, &name).await;
    format!("{POSTGRES_BASE}{name}")
}

/// Drops a database made by [`fresh_database`], even while it is in use;
/// SQLite URLs are left to their temporary folder.
pub async fn drop_database(database_url: &str) {
    let Some(name) = database_url.strip_prefix(POSTGRES_BASE) else {
        return;
    };
    administer(
        POSTGRES_ADMIN,
        &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", identifier(name)),
    )
    .await;
}

/// Creates database `name` on the server whose `postgres` database is at
/// `admin_url`.
pub(crate) async fn create_database(admin_url: &str, name: &str) {
    administer(admin_url, &format!("CREATE DATABASE {}", identifier(name))).await;
}

/// Runs one statement on the server's `postgres` database at `admin_url`.
async fn administer(admin_url: &str, statement: &str) {
    let admin = marquee_runtime::database::connect(admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL answers at {admin_url} with trust auth (the test command starts it): {e}"
            )
        });
    sqlx::query(statement)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    admin.close().await;
}

/// A database name as SQL: PostgreSQL binds values, not names, so a name
/// is checked to be a plain identifier instead.
fn identifier(name: &str) -> &str {
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "not a plain database name: {name:?}"
    );
    name
}

/// How SQLite plans `query` on the database at `url`, its steps joined by
/// `; `, with `binds` bound in order. Read on a connection opened now:
/// EXPLAIN plans with the schema its connection last read, and a pooled
/// connection may have read it before the indexes were made.
pub async fn sqlite_plan(url: &str, query: &str, binds: &[String]) -> String {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(url)
        .await
        .expect("a connection to the SQLite database");
    let explain = format!("EXPLAIN QUERY PLAN {query}");
    binds
        .iter()
        .fold(sqlx::query(&explain), |plan, value| {
            plan.bind(value.as_str())
        })
        .fetch_all(&mut connection)
        .await
        .expect("a query plan")
        .iter()
        .map(|step| step.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("; ")
}
