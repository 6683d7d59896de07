//! The admin API as the CLI calls it: the console's client, plus
//! following a job with a progress bar.

use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_console::ApiClient;
use reqwest::RequestBuilder;

/// How often a job's progress is asked for.
const JOB_POLL: Duration = Duration::from_millis(200);

pub(super) fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// The admin API, through the client the console uses too.
pub(super) struct Api(pub(super) ApiClient);

impl Api {
    pub(super) fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let token = token.context(
            "an admin token is needed: pass --token or set MARQUEE_ADMIN_TOKEN \
             (`marquee up` accepts marquee-local-admin)",
        )?;
        Ok(Self(ApiClient::new(reqwest::Client::new(), base, &token)))
    }

    /// Starts a job with `started` and follows it with a progress bar until
    /// it finishes, failed or not.
    pub(super) async fn job(
        &self,
        started: RequestBuilder,
        unit: &str,
    ) -> anyhow::Result<JobStatus> {
        let response = self.0.send(started).await?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|location| location.to_str().ok())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "{} started no job (no Location header)",
                    response.url().path()
                )
            })?;
        let mut status: JobStatus = response.json().await?;
        let bar = bar(0, unit);
        while status.state == JobState::Running {
            if let Some(total) = status.total {
                bar.set_length(total);
            }
            bar.set_position(status.processed);
            tokio::time::sleep(JOB_POLL).await;
            status = self.0.get(&location).await?;
        }
        bar.set_length(status.total.unwrap_or(status.processed));
        bar.set_position(status.processed);
        bar.finish_and_clear();
        Ok(status)
    }
}
