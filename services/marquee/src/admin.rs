//! `marquee admin …`: every operator endpoint of the admin API as a
//! subcommand (docs/operators.md). It prints the API's JSON (or CSV, or
//! HTML for previews) as the API answers it, and draws progress bars for
//! the long tasks: replay, backfill and subscriber import.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use marquee_admin::bus::{ConsumerLag, DeadLetter, DeadLetterQuery, Redriven};
use marquee_admin::digest::{
    DryRunReport, ImportReport, PreviewQuery, RejectedRow, RunPaused, RunReport, RunResuming,
    RunsQuery, SchedulePaused, ScheduleReport, ScheduleSettings, SendAccepted, SendQuery,
    Subscriber, SubscriberQuery, Suppressed,
};
use marquee_admin::feeds::ReplayRequest;
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_admin::sources::SourceHealth;
use marquee_console::{ApiClient, encode};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;

/// Rows per request when importing subscribers, so the bar moves.
const IMPORT_CHUNK_ROWS: usize = 500;
/// How often a job's progress is asked for.
const JOB_POLL: Duration = Duration::from_millis(200);

/// Where the API is and who is calling.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the admin API: `marquee up`'s listener, or the gateway
    /// or ingress of a distributed deployment.
    #[arg(
        long,
        env = "MARQUEE_API",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    api: String,
    /// One of the `[admin] tokens`.
    #[arg(
        long,
        env = "MARQUEE_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
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
    fn path(self) -> &'static str {
        match self {
            Self::ReviewsIngest => "reviews-ingest",
            Self::ListingsIngest => "listings-ingest",
        }
    }
}

/// The operator tasks.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
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
    fn settings(&self, name: &str) -> ScheduleSettings {
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

/// Runs one admin command against the API.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.api, args.token)?;
    match args.command {
        AdminCommand::Lag => print(&api.0.get::<Vec<ConsumerLag>>("/admin/bus/lag").await?),
        AdminCommand::DeadLetters { limit } => {
            let query = DeadLetterQuery {
                limit: Some(limit as usize),
            };
            let letters: Vec<DeadLetter> =
                api.0.get_with("/admin/bus/dead-letters", &query).await?;
            print(&letters)
        }
        AdminCommand::Redrive { partition, offset } => {
            let path = format!("/admin/bus/dead-letters/{partition}/{offset}/redrive");
            print(&api.0.post::<Redriven>(&path).await?)
        }
        AdminCommand::Replay {
            from_offset,
            from_time,
            rebuild,
        } => {
            let request = ReplayRequest {
                from_offset,
                from_time,
                rebuild,
            };
            let started = api
                .0
                .request(Method::POST, "/admin/feeds/replay")
                .json(&request);
            api.job(started, "events").await
        }
        AdminCommand::Sources { service } => {
            let services = match service {
                Some(service) => vec![service],
                None => vec![IngestService::ReviewsIngest, IngestService::ListingsIngest],
            };
            let mut all: Vec<SourceHealth> = Vec::new();
            for service in services {
                let path = format!("/admin/{}/sources", service.path());
                all.extend(api.0.get::<Vec<SourceHealth>>(&path).await?);
            }
            print(&all)
        }
        AdminCommand::Backfill { service, source } => {
            let mut path = format!("/admin/{}/backfill", service.path());
            if let Some(source) = source {
                path = format!("{path}?source={}", encode(&source));
            }
            api.job(api.0.request(Method::POST, &path), "sources").await
        }
        AdminCommand::Schedules(command) => schedules(&api, command).await,
        AdminCommand::Digest(command) => digest(&api, command).await,
        AdminCommand::Subscribers(command) => subscribers(&api, command).await,
        AdminCommand::Openapi => print(
            &api.0
                .get::<utoipa::openapi::OpenApi>("/admin/openapi.json")
                .await?,
        ),
    }
}

async fn schedules(api: &Api, command: ScheduleCommand) -> anyhow::Result<()> {
    const BASE: &str = "/admin/digest/schedules";
    match command {
        ScheduleCommand::List => print(&api.0.get::<Vec<ScheduleReport>>(BASE).await?),
        ScheduleCommand::Create { name, fields } => {
            let saved: Vec<ScheduleReport> = api.0.post_json(BASE, &fields.settings(&name)).await?;
            print(&saved)
        }
        ScheduleCommand::Update { name, fields } => {
            let path = format!("{BASE}/{}", encode(&name));
            let saved: Vec<ScheduleReport> = api.0.put_json(&path, &fields.settings(&name)).await?;
            print(&saved)
        }
        ScheduleCommand::Pause { name } => {
            let path = format!("{BASE}/{}/pause", encode(&name));
            print(&api.0.post::<SchedulePaused>(&path).await?)
        }
        ScheduleCommand::Resume { name } => {
            let path = format!("{BASE}/{}/resume", encode(&name));
            print(&api.0.post::<SchedulePaused>(&path).await?)
        }
    }
}

async fn digest(api: &Api, command: DigestCommand) -> anyhow::Result<()> {
    match command {
        DigestCommand::Preview { schedule, email } => {
            let path = format!("/admin/digest/preview/{}", encode(&schedule));
            let request = api
                .0
                .request(Method::GET, &path)
                .query(&PreviewQuery { email });
            print!("{}", api.0.text(request).await?);
            Ok(())
        }
        DigestCommand::DryRun { schedule } => {
            let path = format!("/admin/digest/dry-run/{}", encode(&schedule));
            print(&api.0.post::<DryRunReport>(&path).await?)
        }
        DigestCommand::Send { schedule, force } => {
            let path = format!("/admin/digest/send/{}", encode(&schedule));
            let request = api
                .0
                .request(Method::POST, &path)
                .query(&SendQuery { force });
            print(&api.0.call::<SendAccepted>(request).await?)
        }
        DigestCommand::Status { run: Some(run), .. } => {
            let path = format!("/admin/digest/runs/{}", encode(&run));
            print(&api.0.get::<RunReport>(&path).await?)
        }
        DigestCommand::Status { run: None, limit } => {
            let query = RunsQuery {
                limit: i64::from(limit),
            };
            let runs: Vec<RunReport> = api.0.get_with("/admin/digest/runs", &query).await?;
            print(&runs)
        }
        DigestCommand::Pause { run } => {
            let path = format!("/admin/digest/runs/{}/pause", encode(&run));
            print(&api.0.post::<RunPaused>(&path).await?)
        }
        DigestCommand::Resume { run } => {
            let path = format!("/admin/digest/runs/{}/resume", encode(&run));
            print(&api.0.post::<RunResuming>(&path).await?)
        }
    }
}

async fn subscribers(api: &Api, command: SubscriberCommand) -> anyhow::Result<()> {
    match command {
        SubscriberCommand::Search { query, limit } => {
            let query = SubscriberQuery {
                q: query,
                limit: limit as usize,
            };
            let found: Vec<Subscriber> =
                api.0.get_with("/admin/digest/subscribers", &query).await?;
            print(&found)
        }
        SubscriberCommand::Suppress { email } => {
            let path = format!("/admin/digest/subscribers/{}/suppress", encode(&email));
            print(&api.0.post::<Suppressed>(&path).await?)
        }
        SubscriberCommand::Export => {
            let request = api.0.request(Method::GET, "/admin/digest/subscribers.csv");
            print!("{}", api.0.text(request).await?);
            Ok(())
        }
        SubscriberCommand::Import { file } => import(api, &file).await,
    }
}

/// Uploads the file in chunks of rows, each with the header, and sums the
/// reports; rejected rows keep their line numbers in the whole file.
async fn import(api: &Api, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .with_context(|| format!("{} is empty: it needs a header row", file.display()))?;
    let rows: Vec<&str> = lines.filter(|line| !line.trim().is_empty()).collect();
    let bar = bar(rows.len() as u64, "rows");
    let mut total = ImportReport::default();
    for (index, chunk) in rows.chunks(IMPORT_CHUNK_ROWS).enumerate() {
        let body = format!("{header}\n{}\n", chunk.join("\n"));
        let request = api
            .0
            .request(Method::POST, "/admin/digest/subscribers.csv")
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(body);
        let report: ImportReport = api.0.call(request).await?;
        total.imported += report.imported;
        let rows_before = (index * IMPORT_CHUNK_ROWS) as u64;
        // Line 1 of each chunk is its header, as of the file.
        total.rejected.extend(
            report
                .rejected
                .into_iter()
                .map(|RejectedRow(line, reason)| RejectedRow(line + rows_before, reason)),
        );
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    print(&total)
}

fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// Prints an answer as the API sent it: pretty JSON.
fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The admin API, through the client the console uses too.
struct Api(ApiClient);

impl Api {
    fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let token = token.context(
            "an admin token is needed: pass --token or set MARQUEE_ADMIN_TOKEN \
             (`marquee up` accepts marquee-local-admin)",
        )?;
        Ok(Self(ApiClient::new(reqwest::Client::new(), base, &token)))
    }

    /// Starts a job with `started` and follows it with a progress bar until
    /// it finishes.
    async fn job(&self, started: RequestBuilder, unit: &str) -> anyhow::Result<()> {
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
        bar.finish();
        match status.state {
            JobState::Failed => bail!(
                "{} job {} failed: {}",
                status.kind,
                status.id,
                status.error.unwrap_or_default()
            ),
            _ => print(&status),
        }
    }
}
