//! Opening an ingest service's database: the core's health records and
//! each service's `store/` (its ledger) share the connection, the schema
//! step and the readiness check. The tables themselves stay each service's.

use anyhow::Context;
use sqlx::AnyPool;

/// Connects to `url` (`sqlite://PATH` or `postgres://…`) and runs `schema`
/// (each statement `CREATE … IF NOT EXISTS`); `what` names the tables in
/// errors, e.g. `the listings-ingest tables`.
pub async fn open(url: &str, schema: &[&str], what: &str) -> anyhow::Result<AnyPool> {
    let pool = marquee_runtime::database::connect(url).await?;
    for statement in schema {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .with_context(|| format!("Failed to create {what}"))?;
    }
    Ok(pool)
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
