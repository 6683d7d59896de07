//! Opening an ingest service's database: each service's `store/` (its
//! ledger) opens the pool, and the core's health records live in the same
//! pool ([`crate::Ingest::open`] takes it); both create their tables the
//! same way and share the readiness check. The tables stay each one's.

use anyhow::Context;
use sqlx::AnyPool;

/// Connects to `url` (`sqlite://PATH` or `postgres://…`) and runs `schema`
/// (each statement `CREATE … IF NOT EXISTS`); `what` names the tables in
/// errors, e.g. `the listings-ingest tables`.
pub async fn open(url: &str, schema: &[&str], what: &str) -> anyhow::Result<AnyPool> {
    let pool = marquee_runtime::database::connect(url).await?;
    create(&pool, schema, what).await?;
    Ok(pool)
}

/// Runs `schema` (each statement `CREATE … IF NOT EXISTS`) on `pool`;
/// `what` names the tables in errors.
pub(crate) async fn create(pool: &AnyPool, schema: &[&str], what: &str) -> anyhow::Result<()> {
    for statement in schema {
        sqlx::query(statement)
            .execute(pool)
            .await
            .with_context(|| format!("Failed to create {what}"))?;
    }
    Ok(())
}

/// Whether the database behind `pool` answers, for readiness probes; `what`
/// names it in the error, e.g. `the listings-ingest database`.
pub async fn check(pool: &AnyPool, what: &str) -> anyhow::Result<()> {
    sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .with_context(|| format!("Failed to reach {what}"))?;
    Ok(())
}
