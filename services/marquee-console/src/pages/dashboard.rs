//! `/console/`: pipeline health at a glance — what needs attention (the
//! process's readiness warnings, e.g. a topic that would lose history),
//! dead letters, consumer lag, source freshness, the latest digest runs.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Html;
use marquee_admin::bus::{ConsumerLag, DeadLetter, DeadLetterQuery};
use marquee_admin::digest::{RunReport, RunsQuery};
use marquee_admin::sources::SourceHealth;
use marquee_runtime::http::ReadinessReport;
use serde::Serialize;

use super::{Loaded, PageError, RunRow, SourceRow, render};
use crate::Console;
use crate::session::Session;

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Option<()>,
    /// Every readiness warning, e.g. a topic that would lose history.
    warnings: Loaded<Vec<String>>,
    dead_letters: Loaded<usize>,
    total_lag: i64,
    run_count: usize,
    /// Each ingest service's rows.
    sources: Vec<Loaded<Vec<SourceRow>>>,
    lag: Loaded<BTreeMap<String, i64>>,
    runs: Loaded<Vec<RunRow>>,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
) -> Result<Html<String>, PageError> {
    let (reviews, listings, lag, runs, dead, readiness) = tokio::join!(
        api.get::<Vec<SourceHealth>>("/admin/reviews-ingest/sources"),
        api.get::<Vec<SourceHealth>>("/admin/listings-ingest/sources"),
        api.get::<Vec<ConsumerLag>>("/admin/bus/lag"),
        api.get_with::<Vec<RunReport>>("/admin/digest/runs", &RunsQuery { limit: 5 }),
        api.get_with::<Vec<DeadLetter>>(
            "/admin/bus/dead-letters",
            &DeadLetterQuery {
                limit: Some(10_000)
            }
        ),
        api.get::<ReadinessReport>("/readyz"),
    );
    // A refused token ends the visit; other failures show in their place.
    if let Err(error) = &reviews
        && error.is_unauthorized()
    {
        return Err(PageError::Login);
    }
    let now = console.clock.now();
    let lag = lag.map(|lags| {
        let mut by_group = BTreeMap::new();
        for row in lags {
            *by_group.entry(row.group).or_default() += row.lag;
        }
        by_group
    });
    let view = View {
        title: "Pipeline health",
        flash: None,
        warnings: Loaded::new(
            readiness.map(|report| report.warnings.into_values().flatten().collect()),
        ),
        dead_letters: Loaded::new(dead.map(|d| d.len())),
        total_lag: lag.as_ref().map_or(0, |by_group| by_group.values().sum()),
        run_count: runs.as_ref().map_or(0, Vec::len),
        sources: [reviews, listings]
            .into_iter()
            .map(|sources| {
                Loaded::new(
                    sources.map(|sources| sources.iter().map(|s| SourceRow::new(s, now)).collect()),
                )
            })
            .collect(),
        lag: Loaded::new(lag),
        runs: Loaded::new(runs.map(|runs| runs.iter().map(RunRow::new).collect())),
    };
    render(&console, "dashboard.html", &view)
}
