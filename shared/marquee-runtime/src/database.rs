//! Service state databases: SQLite files by default, PostgreSQL when configured.
//!
//! Services talk to either through one `sqlx::AnyPool` and portable SQL:
//! `$1` placeholders (both engines read them), `TEXT` and `BIGINT` columns,
//! timestamps as RFC 3339 text or Unix microseconds, no engine-specific DDL.

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

/// Each SQLite connection's page cache (`PRAGMA cache_size`; negative is
/// KiB): 1 MiB, half SQLite's default. Every connection of a pool keeps its
/// own cache, and a busy pool of eight fills them all with much the same
/// pages once its file outgrows them. Reading a million stored items
/// through its two pools (its store and the embedded log), a consuming
/// service peaked past 61 MB with SQLite's default and at 50 MB with this
/// (BENCHMARKS.md).
pub const SQLITE_CACHE_SIZE: &str = "-1024";

/// Opens the database at `url`: `sqlite://PATH` (created with its folder if
/// missing) or `postgres://…`.
pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let options = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(std::time::Duration::from_secs(10));
    let (url, options) = if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("Failed to create the folder for {path}"))?;
        }
        // WAL lets readers run beside the writer; NORMAL sync survives a
        // process crash, which is the durability the embedded mode promises.
        let options = options.after_connect(|conn, _| {
            Box::pin(async move {
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = {SQLITE_CACHE_SIZE};"
                );
                conn.execute(pragmas.as_str()).await.map(drop)
            })
        });
        (format!("sqlite://{path}?mode=rwc"), options)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (url.to_owned(), options)
    } else {
        anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://…");
    };
    options
        .connect(&url)
        .await
        .with_context(|| format!("Failed to connect to the database at {}", redact(&url)))
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Adds `column` (a portable definition, e.g. `updated_at BIGINT`) to
/// `table` unless it is there already: how a table created by an earlier
/// version gains a column. Portable because SQLite has no `ADD COLUMN IF
/// NOT EXISTS`: selecting the column is what tells whether it exists.
pub async fn add_column(pool: &AnyPool, table: &str, column: &str) -> anyhow::Result<()> {
    let name = column.split_whitespace().next().unwrap_or(column);
    let probe = format!("SELECT {name} FROM {table} LIMIT 0");
    if sqlx::query(&probe).execute(pool).await.is_ok() {
        return Ok(());
    }
    sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column}"))
        .execute(pool)
        .await
        .with_context(|| format!("Failed to add the column {name} to {table}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_column_is_added_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE items (id TEXT PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        add_column(&pool, "items", "seen_at BIGINT").await.unwrap();
        add_column(&pool, "items", "seen_at BIGINT").await.unwrap();
        sqlx::query("INSERT INTO items (id, seen_at) VALUES ('a', 1)")
            .execute(&pool)
            .await
            .unwrap();
        let error = add_column(&pool, "nowhere", "x BIGINT").await.unwrap_err();
        assert!(error.to_string().contains("x to nowhere"), "{error:#}");
    }

    #[tokio::test]
    async fn every_sqlite_connection_keeps_the_smaller_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = connect(&url).await.unwrap();
        // Two connections at once: the second is opened for this.
        let (mut first, mut second) =
            (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        for conn in [&mut first, &mut second] {
            let size: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(size.to_string(), SQLITE_CACHE_SIZE);
        }
    }
}
