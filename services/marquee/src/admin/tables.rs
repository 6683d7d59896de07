//! Each admin answer as a person reads it: lists as tables with the columns
//! an operator acts on, one object as a short summary.

use marquee_admin::bus::{ConsumerLag, DeadLetter, Redriven};
use marquee_admin::digest::{
    DryRunReport, ImportReport, RunPaused, RunReport, RunResuming, RunStatus, SchedulePaused,
    ScheduleReport, SendAccepted, Subscriber, SubscriberStatus, Suppressed, TemplateReport,
    TestSendReport,
};
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_admin::social::{FediverseActor, PostStatus, SocialPost};
use marquee_admin::sources::SourceHealth;

use super::output::{Human, Table, Tone, View, clip, local, summary};

/// Widest a free-text cell (reasons, notes, errors) is printed.
const TEXT: usize = 60;

fn count(n: impl ToString) -> (String, Tone) {
    (n.to_string(), Tone::Plain)
}

fn plain(text: impl Into<String>) -> (String, Tone) {
    (text.into(), Tone::Plain)
}

fn dim(text: impl Into<String>) -> (String, Tone) {
    (text.into(), Tone::Dim)
}

pub(super) fn run_tone(status: RunStatus) -> Tone {
    match status {
        RunStatus::Sent => Tone::Good,
        RunStatus::Sending | RunStatus::DryRun => Tone::Plain,
        RunStatus::Paused | RunStatus::Skipped => Tone::Warn,
        RunStatus::Missed | RunStatus::Held => Tone::Bad,
    }
}

impl Human for Vec<ConsumerLag> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"])
            .numeric(&[2, 3, 4, 5]);
        for lag in self {
            table.row(vec![
                plain(&lag.group),
                plain(&lag.topic),
                count(lag.partition),
                lag.committed.map_or_else(|| dim("none"), count),
                count(lag.end),
                (
                    lag.lag.to_string(),
                    if lag.lag > 0 { Tone::Warn } else { Tone::Good },
                ),
            ]);
        }
        table.render(view, "No consumer groups.")
    }
}

impl Human for Vec<DeadLetter> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "PARTITION",
            "OFFSET",
            "AGE",
            "FROM",
            "GROUP",
            "ATTEMPTS",
            "REASON",
        ])
        .numeric(&[0, 1, 5]);
        for letter in self {
            let from = match (
                &letter.topic,
                &letter.original_partition,
                &letter.original_offset,
            ) {
                (Some(topic), Some(partition), Some(offset)) => {
                    format!("{topic}/{partition}@{offset}")
                }
                (Some(topic), _, _) => topic.clone(),
                _ => "?".to_owned(),
            };
            table.row(vec![
                count(letter.partition),
                count(letter.offset),
                plain(view.ago_or_never(letter.timestamp)),
                plain(from),
                plain(letter.group.as_deref().unwrap_or("?")),
                count(letter.attempts.as_deref().unwrap_or("?")),
                (
                    clip(letter.reason.as_deref().unwrap_or(""), TEXT),
                    Tone::Bad,
                ),
            ]);
        }
        table.render(view, "No dead letters.")
    }
}

impl Human for Redriven {
    fn human(&self, _view: &View) -> String {
        format!("Re-driven to {}.\n", self.redriven_to)
    }
}

/// `ok`, `failing` or `never read`, and how that should look.
pub(super) fn source_state(source: &SourceHealth) -> (String, Tone) {
    let failing = match (source.last_error_at, source.last_success) {
        (Some(error), Some(success)) => error >= success && source.last_error.is_some(),
        (_, None) => source.last_poll.is_some(),
        (None, Some(_)) => false,
    };
    if failing {
        ("failing".to_owned(), Tone::Bad)
    } else if source.last_success.is_none() {
        ("never read".to_owned(), Tone::Warn)
    } else {
        ("ok".to_owned(), Tone::Good)
    }
}

impl Human for Vec<SourceHealth> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "SOURCE",
            "KIND",
            "STATE",
            "LAST READ",
            "LAST POLL",
            "ITEMS",
            "REJECTED",
            "EVENTS",
            "LAST ERROR",
        ])
        .numeric(&[5, 6, 7]);
        for source in self {
            table.row(vec![
                plain(&source.name),
                plain(&source.kind),
                source_state(source),
                plain(view.ago_or_never(source.last_success)),
                plain(view.ago_or_never(source.last_poll)),
                count(source.items_seen),
                (
                    source.rejected.to_string(),
                    if source.rejected > 0 {
                        Tone::Warn
                    } else {
                        Tone::Plain
                    },
                ),
                count(source.events_published),
                dim(clip(source.last_error.as_deref().unwrap_or(""), TEXT)),
            ]);
        }
        table.render(view, "No sources.")
    }
}

impl Human for JobStatus {
    fn human(&self, view: &View) -> String {
        let state = match self.state {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        };
        let mut lines = vec![
            ("Job", format!("{} {}", self.kind, self.id)),
            ("State", view.paint(job_tone(self.state), state)),
            (
                "Processed",
                match self.total {
                    Some(total) => format!("{} of {total}", self.processed),
                    None => self.processed.to_string(),
                },
            ),
            ("Started", view.ago(self.started_at)),
        ];
        if let Some(finished) = self.finished_at {
            let took = (finished - self.started_at).num_milliseconds() as f64 / 1000.0;
            lines.push(("Took", format!("{took:.1} s")));
        }
        if let Some(summary) = &self.summary {
            lines.push(("Summary", summary.clone()));
        }
        if let Some(error) = &self.error {
            lines.push(("Error", view.paint(Tone::Bad, error)));
        }
        summary(view, &lines)
    }
}

fn job_tone(state: JobState) -> Tone {
    match state {
        JobState::Running => Tone::Plain,
        JobState::Succeeded => Tone::Good,
        JobState::Failed => Tone::Bad,
    }
}

impl Human for Vec<ScheduleReport> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "SCHEDULE", "CRON", "ZONE", "TEMPLATE", "AUDIENCE", "STATE", "NEXT RUN", "IN",
        ]);
        for schedule in self {
            let settings = &schedule.settings;
            let next = schedule.next_runs.first();
            table.row(vec![
                plain(&settings.name),
                plain(&settings.cron),
                plain(&settings.time_zone),
                plain(&settings.template),
                plain(&settings.audience),
                if schedule.paused {
                    ("paused".to_owned(), Tone::Warn)
                } else {
                    ("active".to_owned(), Tone::Good)
                },
                plain(next.map_or_else(
                    || "none".to_owned(),
                    |next| local(next.utc, &settings.time_zone),
                )),
                plain(next.map_or_else(String::new, |next| view.ago(next.utc))),
            ]);
        }
        table.render(view, "No schedules.")
    }
}

impl Human for SchedulePaused {
    fn human(&self, view: &View) -> String {
        let (state, tone) = if self.paused {
            ("paused: due runs are recorded as skipped", Tone::Warn)
        } else {
            ("active", Tone::Good)
        };
        format!(
            "Schedule {} is {}.\n",
            self.schedule,
            view.paint(tone, state)
        )
    }
}

impl Human for Vec<RunReport> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "RUN", "SCHEDULE", "DUE", "KIND", "STATUS", "SENT", "FAILED", "PENDING", "SKIPPED",
            "FINISHED", "NOTE",
        ])
        .numeric(&[5, 6, 7, 8]);
        for report in self {
            let run = &report.run;
            let counts = &report.counts;
            table.row(vec![
                dim(&run.id),
                plain(&run.schedule),
                plain(view.local_to(&run.schedule, run.scheduled_for)),
                plain(run.kind.as_str()),
                (run.status.as_str().to_owned(), run_tone(run.status)),
                count(counts.sent),
                (
                    counts.failed.to_string(),
                    if counts.failed > 0 {
                        Tone::Bad
                    } else {
                        Tone::Plain
                    },
                ),
                count(counts.pending),
                count(counts.skipped),
                plain(run.finished_at.map_or_else(String::new, |at| view.ago(at))),
                dim(clip(&run.note, TEXT)),
            ]);
        }
        table.render(view, "No runs.")
    }
}

impl Human for RunReport {
    fn human(&self, view: &View) -> String {
        let run = &self.run;
        let counts = &self.counts;
        let mut lines = vec![
            ("Run", run.id.clone()),
            ("Schedule", run.schedule.clone()),
            (
                "Status",
                view.paint(run_tone(run.status), run.status.as_str()),
            ),
            ("Kind", run.kind.as_str().to_owned()),
            (
                "Due",
                format!(
                    "{} ({})",
                    view.local_to(&run.schedule, run.scheduled_for),
                    view.ago(run.scheduled_for)
                ),
            ),
            (
                "Reviews since",
                view.local_to(&run.schedule, run.reviews_since),
            ),
            (
                "Finished",
                view.ago_or_never(run.finished_at)
                    .replace("never", "not yet"),
            ),
            (
                "Deliveries",
                format!(
                    "{} sent, {} failed, {} pending, {} skipped, {} interrupted",
                    counts.sent, counts.failed, counts.pending, counts.skipped, counts.interrupted
                ),
            ),
        ];
        if !run.note.is_empty() {
            lines.push(("Note", run.note.clone()));
        }
        summary(view, &lines)
    }
}

impl Human for RunPaused {
    fn human(&self, _view: &View) -> String {
        format!(
            "Run {} paused; `digest resume {0}` continues it.\n",
            self.paused
        )
    }
}

impl Human for RunResuming {
    fn human(&self, _view: &View) -> String {
        format!("Run {} is resuming in the background.\n", self.resuming)
    }
}

impl Human for SendAccepted {
    fn human(&self, view: &View) -> String {
        let status = view.paint(run_tone(self.status), self.status.as_str());
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(": {}", self.note)
        };
        format!(
            "Run {} {status}{note}\nFollow it with `marquee admin digest status {0}`.\n",
            self.run
        )
    }
}

impl Human for DryRunReport {
    fn human(&self, view: &View) -> String {
        summary(
            view,
            &[
                ("Schedule", self.schedule.clone()),
                ("Subject", self.subject.clone()),
                ("Reviews", self.reviews.to_string()),
                ("Screenings", self.screenings.to_string()),
                ("Recipients", self.recipients.to_string()),
                ("Would send", self.would_send.to_string()),
                ("Would skip", self.would_skip.to_string()),
            ],
        )
    }
}

impl Human for TestSendReport {
    fn human(&self, view: &View) -> String {
        let mut out = format!("Test digest \"{}\" ({}):\n", self.subject, self.schedule);
        for address in &self.sent {
            out.push_str(&format!(
                "  {}  {address}\n",
                view.paint(Tone::Good, "sent")
            ));
        }
        for (address, reason) in &self.failed {
            out.push_str(&format!(
                "  {}  {address}: {}\n",
                view.paint(Tone::Bad, "refused"),
                clip(reason, TEXT)
            ));
        }
        out.push_str("No run was recorded: the week's digest still goes out as scheduled.\n");
        out
    }
}

impl Human for Vec<TemplateReport> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&["TEMPLATE", "SUBJECT", "STORED"]);
        for template in self {
            table.row(vec![
                plain(&template.name),
                plain(clip(&template.template.subject, TEXT)),
                match template.updated_at {
                    Some(at) => plain(at.format("%Y-%m-%d %H:%M UTC").to_string()),
                    None => dim("built in"),
                },
            ]);
        }
        table.render(view, "No templates.")
    }
}

impl Human for TemplateReport {
    fn human(&self, view: &View) -> String {
        summary(
            view,
            &[
                ("Template", self.name.clone()),
                ("Subject", self.template.subject.clone()),
                (
                    "Stored",
                    self.updated_at.map_or_else(
                        || "built in".to_owned(),
                        |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    ),
                ),
            ],
        )
    }
}

impl Human for Vec<Subscriber> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&["EMAIL", "STATUS", "LIST", "PREFERENCES", "ID"]);
        for subscriber in self {
            let tone = match subscriber.status {
                SubscriberStatus::Confirmed => Tone::Good,
                SubscriberStatus::Pending => Tone::Plain,
                SubscriberStatus::Unsubscribed => Tone::Dim,
                SubscriberStatus::Suppressed => Tone::Bad,
            };
            let preferences = &subscriber.preferences;
            let mut wants = Vec::new();
            if !preferences.venues.is_empty() {
                wants.push(format!("venues {}", preferences.venues.join(",")));
            }
            if !preferences.formats.is_empty() {
                wants.push(format!("formats {}", preferences.formats.join(",")));
            }
            if let Some(stars) = preferences.min_rating {
                wants.push(format!("{stars}+ stars"));
            }
            table.row(vec![
                plain(&subscriber.email),
                (subscriber.status.as_str().to_owned(), tone),
                plain(&subscriber.list),
                plain(if wants.is_empty() {
                    "everything".to_owned()
                } else {
                    clip(&wants.join("; "), TEXT)
                }),
                dim(&subscriber.id),
            ]);
        }
        table.render(view, "No subscribers match.")
    }
}

impl Human for Suppressed {
    fn human(&self, _view: &View) -> String {
        format!(
            "{} is suppressed: it is never mailed again.\n",
            self.suppressed
        )
    }
}

impl Human for ImportReport {
    fn human(&self, view: &View) -> String {
        let mut out = format!(
            "Imported {} rows, refused {}.\n",
            self.imported,
            self.rejected.len()
        );
        if !self.rejected.is_empty() {
            let mut table = Table::new(&["LINE", "REASON"]).numeric(&[0]);
            for row in &self.rejected {
                table.row(vec![count(row.0), (clip(&row.1, TEXT), Tone::Bad)]);
            }
            out.push_str(&table.render(view, ""));
        }
        out
    }
}

impl Human for Vec<SocialPost> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "REVIEW",
            "ACCOUNT",
            "NETWORK",
            "STATUS",
            "UPDATED",
            "REASON OR URL",
        ]);
        for post in self {
            let tone = match post.status {
                PostStatus::Posted => Tone::Good,
                PostStatus::Skipped => Tone::Warn,
                PostStatus::Failed => Tone::Bad,
                // Queued, pending, dry run, and states added since.
                _ => Tone::Plain,
            };
            let detail = post
                .reason
                .as_deref()
                .or(post.remote_url.as_deref())
                .unwrap_or("");
            table.row(vec![
                plain(&post.review_id),
                plain(&post.account),
                plain(&post.network),
                (post.status.as_str().to_owned(), tone),
                plain(view.ago(post.updated_at)),
                dim(clip(detail, TEXT)),
            ]);
        }
        table.render(view, "No posts.")
    }
}

impl Human for Vec<FediverseActor> {
    fn human(&self, view: &View) -> String {
        let mut table = Table::new(&[
            "NAME",
            "HANDLE",
            "FOLLOWERS",
            "PENDING",
            "DELIVERED",
            "FAILED",
            "PAUSED",
        ])
        .numeric(&[2, 3, 4, 5]);
        for actor in self {
            let deliveries = &actor.deliveries;
            table.row(vec![
                plain(&actor.name),
                plain(&actor.handle),
                count(actor.followers),
                count(deliveries.pending),
                count(deliveries.delivered),
                (
                    deliveries.failed.to_string(),
                    if deliveries.failed > 0 {
                        Tone::Bad
                    } else {
                        Tone::Plain
                    },
                ),
                if actor.paused {
                    ("yes".to_owned(), Tone::Warn)
                } else {
                    plain("no")
                },
            ]);
        }
        table.render(
            view,
            "No fediverse actors are configured ([social.fediverse]).",
        )
    }
}

impl Human for FediverseActor {
    fn human(&self, view: &View) -> String {
        let state = if self.paused {
            view.paint(
                Tone::Warn,
                &format!(
                    "paused: its deliveries wait; `social resume-actor {}` sends them",
                    self.name
                ),
            )
        } else {
            view.paint(Tone::Good, "delivering")
        };
        format!("Actor {} ({}) is {state}.\n", self.name, self.handle)
    }
}

/// The OpenAPI document is for machines whatever the format.
impl Human for utoipa::openapi::OpenApi {
    fn human(&self, _view: &View) -> String {
        format!("{}\n", self.to_pretty_json().unwrap_or_default())
    }
}

/// The forms the end-to-end test cannot reach on purpose: a dead letter
/// (the demo makes none), a re-drive, a pause that won the race with the
/// sender.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::DateTime;

    use super::*;

    fn view() -> View {
        View {
            now: DateTime::parse_from_rfc3339("2026-12-03T08:30:00Z")
                .unwrap()
                .to_utc(),
            ..View::default()
        }
    }

    #[test]
    fn a_dead_letter_reads_with_where_it_came_from_and_why() {
        let letter = DeadLetter {
            partition: 0,
            offset: 12,
            timestamp: Some(view().now - chrono::Duration::minutes(3)),
            topic: Some("reviews".to_owned()),
            original_partition: Some("2".to_owned()),
            original_offset: Some("40".to_owned()),
            group: Some("feeds".to_owned()),
            reason: Some("decode: missing field `headline`\nat line 1".to_owned()),
            attempts: Some("5".to_owned()),
            key: None,
            payload: "{}".to_owned(),
        };
        assert_eq!(
            vec![letter].human(&view()),
            "PARTITION  OFFSET  AGE        FROM          GROUP  ATTEMPTS  REASON\n\
             \x20       0      12  3 min ago  reviews/2@40  feeds         5  \
             decode: missing field `headline` at line 1\n"
        );
        assert_eq!(
            Redriven {
                redriven_to: "reviews".to_owned()
            }
            .human(&view()),
            "Re-driven to reviews.\n"
        );
        assert_eq!(
            RunPaused {
                paused: "r1".to_owned()
            }
            .human(&view()),
            "Run r1 paused; `digest resume r1` continues it.\n"
        );
    }
}
