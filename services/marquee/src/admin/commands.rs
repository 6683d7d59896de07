//! The `marquee admin` command line: what each subcommand takes.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use marquee_admin::digest::ScheduleSettings;
use marquee_admin::social::PostStatus;

use super::output::Format;

/// Where the API is and who is calling.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 done, 1 refused or failed (the reason on standard \
error), 2 usage (an unknown command, a missing or malformed argument)."
)]
pub struct AdminArgs {
    /// Base URL of the admin API: `marquee up`'s listener, or the gateway
    /// or ingress of a distributed deployment.
    #[arg(
        long,
        env = "MARQUEE_API",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub(super) api: String,
    /// One of the `[admin] tokens`.
    #[arg(
        long,
        env = "MARQUEE_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub(super) token: Option<String>,
    /// `table` for people, `json` for scripts (the API's payload as is).
    #[arg(
        short,
        long,
        value_enum,
        default_value_t = Format::Table,
        global = true
    )]
    pub(super) output: Format,
    #[command(subcommand)]
    pub(super) command: AdminCommand,
}

/// An ingest service, for sources and backfill.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum IngestService {
    /// Reviews from CMS feeds, article pages and the webhook.
    ReviewsIngest,
    /// Screenings from venue calendars and listings.
    ListingsIngest,
}

impl IngestService {
    pub(super) fn path(self) -> &'static str {
        match self {
            Self::ReviewsIngest => "reviews-ingest",
            Self::ListingsIngest => "listings-ingest",
        }
    }
}

/// The operator tasks.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// One overview: sources' freshness, lag per group, dead letters, each
    /// schedule's next and last run.
    Status,
    /// Consumer lag per group, topic and partition.
    Lag,
    /// The dead letters, newest last.
    DeadLetters {
        /// Most to list.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Re-publish one dead letter to the topic it came from.
    Redrive {
        /// Partition of the dead letter in `dead-letters`.
        partition: i32,
        /// Its offset there.
        offset: i64,
    },
    /// Rebuild the feeds from the event log (sends no mail, posts nothing).
    Replay {
        /// Start at this offset in every partition.
        #[arg(long, conflicts_with = "from_time")]
        from_offset: Option<i64>,
        /// Start at the first event at or after this time (RFC 3339).
        #[arg(long)]
        from_time: Option<DateTime<Utc>>,
        /// Empty the feeds first, so they hold only what the replay brings.
        #[arg(long)]
        rebuild: bool,
    },
    /// Health of an ingest service's sources (both when none is named).
    Sources {
        /// The ingest service.
        service: Option<IngestService>,
    },
    /// Poll an ingest service's sources now, in full.
    Backfill {
        /// The ingest service.
        service: IngestService,
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
    },
    /// Digest schedules.
    #[command(subcommand)]
    Schedules(ScheduleCommand),
    /// Digests and their runs.
    #[command(subcommand)]
    Digest(DigestCommand),
    /// Newsletter subscribers.
    #[command(subcommand)]
    Subscribers(SubscriberCommand),
    /// Social posts (the ledger, and posting skipped back catalogue) and
    /// the fediverse actors.
    #[command(subcommand)]
    Social(SocialCommand),
    /// The audit trail: who changed what, and how it ended, newest first.
    Audit(super::audit::AuditArgs),
    /// The admin API's OpenAPI document.
    Openapi,
}

/// A schedule as operators write it.
#[derive(Debug, Args)]
pub struct ScheduleFields {
    /// Cron expression: 5 fields (`30 8 * * THU`) or 6-7 with seconds first.
    #[arg(long)]
    cron: String,
    /// IANA time zone the expression is read in.
    #[arg(long, default_value = "Europe/London")]
    time_zone: String,
    /// Template name.
    #[arg(long, default_value = "weekly")]
    template: String,
    /// Subscriber list; `all` for every confirmed subscriber.
    #[arg(long, default_value = "all")]
    audience: String,
    /// Send even when there is nothing new.
    #[arg(long)]
    send_when_empty: bool,
    /// Hold the digest (and alert) when a source is older than this.
    #[arg(long)]
    max_source_age_secs: Option<u64>,
}

impl ScheduleFields {
    pub(super) fn settings(&self, name: &str) -> ScheduleSettings {
        ScheduleSettings {
            name: name.to_owned(),
            cron: self.cron.clone(),
            time_zone: self.time_zone.clone(),
            template: self.template.clone(),
            audience: self.audience.clone(),
            send_when_empty: self.send_when_empty,
            max_source_age_secs: self.max_source_age_secs,
        }
    }
}

/// `marquee admin schedules …`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every schedule with its next runs (local time and UTC).
    List,
    /// A new schedule.
    Create {
        /// Unique name.
        name: String,
        /// Its settings.
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Replace a schedule's settings.
    Update {
        /// The schedule.
        name: String,
        /// Its settings.
        #[command(flatten)]
        fields: ScheduleFields,
    },
    /// Stop a schedule's runs until resumed.
    Pause {
        /// The schedule.
        name: String,
    },
    /// Let a paused schedule run again.
    Resume {
        /// The schedule.
        name: String,
    },
}

/// `marquee admin digest …`.
#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// The HTML a subscriber (or a sample reader) would receive now.
    Preview {
        /// The schedule.
        schedule: String,
        /// As this subscriber sees it, with their preferences.
        #[arg(long)]
        email: Option<String>,
    },
    /// Send the next digest to the editors named, subject marked `[test]`;
    /// it records no run, so it never counts as the week's.
    TestSend {
        /// The schedule.
        schedule: String,
        /// Who gets it (1 to 20 addresses).
        #[arg(long, required = true, num_args = 1..)]
        to: Vec<String>,
    },
    /// The digest templates: the built-in one and those stored.
    Templates,
    /// Print one part of a digest template, to edit it.
    Template {
        /// The template, e.g. `weekly`.
        name: String,
        /// Which part.
        #[arg(long, value_enum, default_value_t = TemplatePart::Html)]
        part: TemplatePart,
    },
    /// Store a digest template: it is checked first (a syntax error or an
    /// unknown variable is refused with its line and column). Parts not
    /// given keep their current text.
    SetTemplate {
        /// The template, e.g. `weekly`.
        name: String,
        /// The subject line, e.g. `What to watch: {{ week }}`.
        #[arg(long)]
        subject: Option<String>,
        /// A file holding the HTML part.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
        /// A file holding the plain-text part.
        #[arg(long)]
        text: Option<std::path::PathBuf>,
    },
    /// Compose for every recipient and report, sending nothing.
    DryRun {
        /// The schedule.
        schedule: String,
    },
    /// Send the digest now.
    Send {
        /// The schedule.
        schedule: String,
        /// Send even if a source is older than the schedule allows.
        #[arg(long)]
        force: bool,
    },
    /// Recent runs, or one run in detail.
    Status {
        /// A run id.
        run: Option<String>,
        /// Most runs to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Pause a run that is sending.
    Pause {
        /// The run id.
        run: String,
    },
    /// Resume a paused run where it stopped.
    Resume {
        /// The run id.
        run: String,
    },
}

/// A part of a digest template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplatePart {
    /// The subject line.
    Subject,
    /// The HTML part.
    Html,
    /// The plain-text part.
    Text,
}

/// `marquee admin subscribers …`.
#[derive(Debug, Subcommand)]
pub enum SubscriberCommand {
    /// Subscribers whose address contains the text.
    Search {
        /// Part of an address; every subscriber when empty.
        #[arg(default_value = "")]
        query: String,
        /// Most to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Never mail this address again.
    Suppress {
        /// The address.
        email: String,
    },
    /// Every subscriber as CSV on standard output.
    Export,
    /// Add or update subscribers from a CSV file (the export's columns).
    Import {
        /// The CSV file.
        file: PathBuf,
    },
}

/// `marquee admin social …`.
#[derive(Debug, Subcommand)]
pub enum SocialCommand {
    /// Every review's post on every account and its state, newest first.
    Posts {
        /// Only posts in this state: queued, pending, posted, failed,
        /// dry_run or skipped (back catalogue).
        #[arg(long)]
        status: Option<PostStatus>,
        /// Most to list.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Post a review skipped as back catalogue after all (once; refused
    /// for a review that is not skipped).
    Post {
        /// The review's id.
        review_id: String,
    },
    /// The publication's fediverse actors: followers, deliveries by state,
    /// and whether paused.
    Actors,
    /// Hold an actor's deliveries: activities still queue, nothing is sent
    /// until resumed.
    PauseActor {
        /// The actor's name, e.g. `reviews`.
        name: String,
    },
    /// Let a paused actor deliver again, what queued meanwhile first.
    ResumeActor {
        /// The actor's name.
        name: String,
    },
}
