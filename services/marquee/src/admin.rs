//! `marquee admin …`: every operator endpoint of the admin API as a
//! subcommand (docs/operators.md). It prints the API's JSON (or CSV, or
//! HTML for previews) as the API answers it, and draws progress bars for
//! the long tasks: replay, backfill and subscriber import.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use marquee_console::{ApiClient, encode};
use marquee_admin::jobs::{JobState, JobStatus};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

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
        from_time: Option<String>,
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
    fn body(&self, name: &str) -> Value {
        let mut body = json!({
            "name": name,
            "cron": self.cron,
            "time_zone": self.time_zone,
            "template": self.template,
            "audience": self.audience,
            "send_when_empty": self.send_when_empty,
        });
        if let Some(age) = self.max_source_age_secs {
            body["max_source_age_secs"] = json!(age);
        }
        body
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
        AdminCommand::Lag => api.print(Method::GET, "/admin/bus/lag", None).await,
        AdminCommand::DeadLetters { limit } => {
            let path = format!("/admin/bus/dead-letters?limit={limit}");
            api.print(Method::GET, &path, None).await
        }
        AdminCommand::Redrive { partition, offset } => {
            let path = format!("/admin/bus/dead-letters/{partition}/{offset}/redrive");
            api.print(Method::POST, &path, None).await
        }
        AdminCommand::Replay {
            from_offset,
            from_time,
            rebuild,
        } => {
            let mut body = json!({ "rebuild": rebuild });
            if let Some(offset) = from_offset {
                body["from_offset"] = json!(offset);
            }
            if let Some(time) = from_time {
                body["from_time"] = json!(time);
            }
            api.job("/admin/feeds/replay", &body, "events").await
        }
        AdminCommand::Sources { service } => {
            let services = match service {
                Some(service) => vec![service],
                None => vec![IngestService::ReviewsIngest, IngestService::ListingsIngest],
            };
            let mut all = Vec::new();
            for service in services {
                let path = format!("/admin/{}/sources", service.path());
                let sources = api.json(Method::GET, &path, None).await?;
                all.extend(sources.as_array().cloned().unwrap_or_default());
            }
            print_json(&Value::Array(all))
        }
        AdminCommand::Backfill { service, source } => {
            let mut path = format!("/admin/{}/backfill", service.path());
            if let Some(source) = source {
                path = format!("{path}?source={}", encode(&source));
            }
            api.job(&path, &json!({}), "sources").await
        }
        AdminCommand::Schedules(command) => schedules(&api, command).await,
        AdminCommand::Digest(command) => digest(&api, command).await,
        AdminCommand::Subscribers(command) => subscribers(&api, command).await,
        AdminCommand::Openapi => api.print(Method::GET, "/admin/openapi.json", None).await,
    }
}

async fn schedules(api: &Api, command: ScheduleCommand) -> anyhow::Result<()> {
    const BASE: &str = "/admin/digest/schedules";
    match command {
        ScheduleCommand::List => api.print(Method::GET, BASE, None).await,
        ScheduleCommand::Create { name, fields } => {
            api.print(Method::POST, BASE, Some(fields.body(&name)))
                .await
        }
        ScheduleCommand::Update { name, fields } => {
            let path = format!("{BASE}/{}", encode(&name));
            api.print(Method::PUT, &path, Some(fields.body(&name)))
                .await
        }
        ScheduleCommand::Pause { name } => {
            let path = format!("{BASE}/{}/pause", encode(&name));
            api.print(Method::POST, &path, None).await
        }
        ScheduleCommand::Resume { name } => {
            let path = format!("{BASE}/{}/resume", encode(&name));
            api.print(Method::POST, &path, None).await
        }
    }
}

async fn digest(api: &Api, command: DigestCommand) -> anyhow::Result<()> {
    match command {
        DigestCommand::Preview { schedule, email } => {
            let mut path = format!("/admin/digest/preview/{}", encode(&schedule));
            if let Some(email) = email {
                path = format!("{path}?email={}", encode(&email));
            }
            let html = api.send(api.request(Method::GET, &path)).await?;
            print!("{}", html.text().await?);
            Ok(())
        }
        DigestCommand::DryRun { schedule } => {
            let path = format!("/admin/digest/dry-run/{}", encode(&schedule));
            api.print(Method::POST, &path, None).await
        }
        DigestCommand::Send { schedule, force } => {
            let path = format!(
                "/admin/digest/send/{}{}",
                encode(&schedule),
                if force { "?force=true" } else { "" }
            );
            api.print(Method::POST, &path, None).await
        }
        DigestCommand::Status { run: Some(run), .. } => {
            let path = format!("/admin/digest/runs/{}", encode(&run));
            api.print(Method::GET, &path, None).await
        }
        DigestCommand::Status { run: None, limit } => {
            let path = format!("/admin/digest/runs?limit={limit}");
            api.print(Method::GET, &path, None).await
        }
        DigestCommand::Pause { run } => {
            let path = format!("/admin/digest/runs/{}/pause", encode(&run));
            api.print(Method::POST, &path, None).await
        }
        DigestCommand::Resume { run } => {
            let path = format!("/admin/digest/runs/{}/resume", encode(&run));
            api.print(Method::POST, &path, None).await
        }
    }
}

async fn subscribers(api: &Api, command: SubscriberCommand) -> anyhow::Result<()> {
    match command {
        SubscriberCommand::Search { query, limit } => {
            let path = format!(
                "/admin/digest/subscribers?q={}&limit={limit}",
                encode(&query)
            );
            api.print(Method::GET, &path, None).await
        }
        SubscriberCommand::Suppress { email } => {
            let path = format!("/admin/digest/subscribers/{}/suppress", encode(&email));
            api.print(Method::POST, &path, None).await
        }
        SubscriberCommand::Export => {
            let request = api.request(Method::GET, "/admin/digest/subscribers.csv");
            print!("{}", api.send(request).await?.text().await?);
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
    let (mut imported, mut rejected) = (0, Vec::new());
    for (index, chunk) in rows.chunks(IMPORT_CHUNK_ROWS).enumerate() {
        let body = format!("{header}\n{}\n", chunk.join("\n"));
        let request = api
            .request(Method::POST, "/admin/digest/subscribers.csv")
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(body);
        let report: Value = api.send(request).await?.json().await?;
        imported += report["imported"].as_u64().unwrap_or(0);
        let rows_before = (index * IMPORT_CHUNK_ROWS) as u64;
        for refusal in report["rejected"].as_array().into_iter().flatten() {
            // Line 1 of each chunk is its header, as of the file.
            let line = refusal[0].as_u64().map(|line| line + rows_before);
            rejected.push(json!([line, refusal[1]]));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    print_json(&json!({ "imported": imported, "rejected": rejected }))
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

fn print_json(value: &Value) -> anyhow::Result<()> {
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

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.0.request(method, path)
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        Ok(self.0.send(request).await?)
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        Ok(self.0.json(method, path, body.as_ref()).await?)
    }

    async fn print(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<()> {
        print_json(&self.json(method, path, body).await?)
    }

    /// Starts a job and follows it with a progress bar until it finishes.
    async fn job(&self, path: &str, body: &Value, unit: &str) -> anyhow::Result<()> {
        let response = self
            .send(self.request(Method::POST, path).json(body))
            .await?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|location| location.to_str().ok())
            .map(str::to_owned)
            .with_context(|| format!("{path} started no job (no Location header)"))?;
        let mut status: JobStatus = response.json().await?;
        let bar = bar(0, unit);
        while status.state == JobState::Running {
            if let Some(total) = status.total {
                bar.set_length(total);
            }
            bar.set_position(status.processed);
            tokio::time::sleep(JOB_POLL).await;
            status = self
                .send(self.request(Method::GET, &location))
                .await?
                .json()
                .await?;
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
            _ => print_json(&serde_json::to_value(&status)?),
        }
    }
}
