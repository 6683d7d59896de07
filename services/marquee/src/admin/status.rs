//! `marquee admin status`: the whole pipeline on one screen, gathered from
//! the endpoints the other commands call.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use marquee_admin::bus::{ConsumerLag, DeadLetter, DeadLetterQuery};
use marquee_admin::digest::{RunReport, RunsQuery, ScheduleReport};
use marquee_admin::sources::SourceHealth;
use serde::{Deserialize, Serialize};

use super::IngestService;
use super::api::Api;
use super::output::{Human, Table, Tone, View, local};
use super::tables::{run_tone, source_state};

/// Dead letters counted at most (the API's own ceiling).
const DEAD_LETTERS_COUNTED: usize = 10_000;
/// Runs read to find each schedule's last one.
const RUNS_READ: i64 = 500;

/// One ingest service's sources.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ServiceSources {
    pub(super) service: String,
    pub(super) sources: Vec<SourceHealth>,
}

/// What `status` shows; `-o json` prints it as is, each part the API's type.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Overview {
    pub(super) sources: Vec<ServiceSources>,
    pub(super) lag: Vec<ConsumerLag>,
    /// Dead letters waiting (counted up to 10,000).
    pub(super) dead_letters: usize,
    /// When the newest of them was dead-lettered.
    pub(super) last_dead_letter_at: Option<DateTime<Utc>>,
    pub(super) schedules: Vec<ScheduleReport>,
    /// Each schedule's most recent run, in the schedules' order.
    pub(super) last_runs: Vec<RunReport>,
}

impl Overview {
    pub(super) async fn gather(api: &Api) -> anyhow::Result<Self> {
        let mut sources = Vec::new();
        for service in [IngestService::ReviewsIngest, IngestService::ListingsIngest] {
            let path = format!("/admin/{}/sources", service.path());
            sources.push(ServiceSources {
                service: service.path().to_owned(),
                sources: api.0.get(&path).await?,
            });
        }
        let lag: Vec<ConsumerLag> = api.0.get("/admin/bus/lag").await?;
        let query = DeadLetterQuery {
            limit: Some(DEAD_LETTERS_COUNTED),
        };
        let letters: Vec<DeadLetter> = api.0.get_with("/admin/bus/dead-letters", &query).await?;
        let schedules: Vec<ScheduleReport> = api.0.get("/admin/digest/schedules").await?;
        let runs: Vec<RunReport> = api
            .0
            .get_with("/admin/digest/runs", &RunsQuery { limit: RUNS_READ })
            .await?;
        // Newest first, so the first of each schedule is its last.
        let last_runs = schedules
            .iter()
            .filter_map(|schedule| {
                runs.iter()
                    .find(|report| report.run.schedule == schedule.settings.name)
                    .cloned()
            })
            .collect();
        Ok(Self {
            sources,
            lag,
            dead_letters: letters.len(),
            last_dead_letter_at: letters.iter().filter_map(|letter| letter.timestamp).max(),
            schedules,
            last_runs,
        })
    }
}

impl Human for Overview {
    fn human(&self, view: &View) -> String {
        let heading = |text: &str| format!("{}\n", view.paint(Tone::Dim, text));
        let mut out = heading("Sources");
        let mut sources = Table::new(&["SERVICE", "SOURCE", "STATE", "LAST READ", "LAST ERROR"]);
        for service in &self.sources {
            for source in &service.sources {
                sources.row(vec![
                    (service.service.clone(), Tone::Plain),
                    (source.name.clone(), Tone::Plain),
                    source_state(source),
                    (view.ago_or_never(source.last_success), Tone::Plain),
                    (
                        view.ago_or_never(source.last_error_at).replace("never", ""),
                        Tone::Dim,
                    ),
                ]);
            }
        }
        out.push_str(&sources.render(view, "No sources configured."));

        out.push('\n');
        out.push_str(&heading("Consumer lag"));
        let mut groups: BTreeMap<&str, (i64, usize)> = BTreeMap::new();
        for lag in &self.lag {
            let group = groups.entry(&lag.group).or_default();
            group.0 += lag.lag;
            group.1 += 1;
        }
        let mut lag = Table::new(&["GROUP", "PARTITIONS", "LAG"]).numeric(&[1, 2]);
        for (group, (behind, partitions)) in groups {
            lag.row(vec![
                (group.to_owned(), Tone::Plain),
                (partitions.to_string(), Tone::Plain),
                (
                    behind.to_string(),
                    if behind > 0 { Tone::Warn } else { Tone::Good },
                ),
            ]);
        }
        out.push_str(&lag.render(view, "No consumer groups."));

        out.push('\n');
        let letters = match (self.dead_letters, self.last_dead_letter_at) {
            (0, _) => view.paint(Tone::Good, "none"),
            (count, at) => view.paint(
                Tone::Bad,
                &format!(
                    "{count}, newest {} (`marquee admin dead-letters`)",
                    view.ago_or_never(at)
                ),
            ),
        };
        out.push_str(&format!(
            "{} {letters}\n",
            view.paint(Tone::Dim, "Dead letters:")
        ));

        out.push('\n');
        out.push_str(&heading("Digest schedules"));
        let mut schedules = Table::new(&[
            "SCHEDULE", "STATE", "NEXT RUN", "IN", "LAST RUN", "STATUS", "SENT", "FAILED",
        ])
        .numeric(&[6, 7]);
        for schedule in &self.schedules {
            let name = &schedule.settings.name;
            let zone = &schedule.settings.time_zone;
            let next = schedule.next_runs.first();
            let last = self.last_runs.iter().find(|run| &run.run.schedule == name);
            schedules.row(vec![
                (name.clone(), Tone::Plain),
                if schedule.paused {
                    ("paused".to_owned(), Tone::Warn)
                } else {
                    ("active".to_owned(), Tone::Good)
                },
                (
                    next.map_or_else(|| "none".to_owned(), |next| local(next.utc, zone)),
                    Tone::Plain,
                ),
                (
                    next.map_or_else(String::new, |next| view.ago(next.utc)),
                    Tone::Plain,
                ),
                (
                    last.map_or_else(
                        || "never".to_owned(),
                        |last| view.ago(last.run.scheduled_for),
                    ),
                    Tone::Plain,
                ),
                last.map_or_else(
                    || (String::new(), Tone::Plain),
                    |last| {
                        (
                            last.run.status.as_str().to_owned(),
                            run_tone(last.run.status),
                        )
                    },
                ),
                (
                    last.map_or_else(String::new, |last| last.counts.sent.to_string()),
                    Tone::Plain,
                ),
                (
                    last.map_or_else(String::new, |last| last.counts.failed.to_string()),
                    Tone::Plain,
                ),
            ]);
        }
        out.push_str(&schedules.render(view, "No schedules."));
        out
    }
}
