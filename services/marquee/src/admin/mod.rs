//! `marquee admin …`: every operator endpoint of the admin API as a
//! subcommand (docs/operators.md). It reads each answer as the admin
//! contract's type (`marquee_admin`) and prints it as a table or summary
//! for people, or as that type's JSON with `-o json` (CSV for exports,
//! HTML for previews), and draws progress bars for the long tasks: replay,
//! backfill and subscriber import. Exit codes: 0 done, 1 refused or failed
//! (the reason on standard error), 2 usage.
//!
//! [`commands`] holds what each subcommand takes; `api` the client and the
//! job progress bar; `output` the table and colour rules; `tables` each
//! answer's human form; `status` the overview.

mod api;
mod audit;
pub mod commands;
mod output;
mod status;
mod tables;

use anyhow::{Context, bail};
use marquee_admin::bus::{ConsumerLag, DeadLetter, DeadLetterQuery, Redriven};
use marquee_admin::digest::{
    DigestTemplate, DryRunReport, ImportReport, PreviewQuery, RejectedRow, RunPaused, RunReport,
    RunResuming, RunsQuery, SchedulePaused, ScheduleReport, SendAccepted, SendQuery, Subscriber,
    SubscriberQuery, Suppressed, TemplateReport, TestSend, TestSendReport,
};
use marquee_admin::feeds::ReplayRequest;
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_admin::social::{FediverseActor, PostsQuery, SocialPost};
use marquee_admin::sources::SourceHealth;
use marquee_console::encode;
use marquee_runtime::clock::{Clock, SystemClock};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use api::{Api, bar};
pub use output::Format;
use output::{Human, View};
use status::Overview;

pub use commands::{
    AdminArgs, AdminCommand, DigestCommand, IngestService, ScheduleCommand, ScheduleFields,
    SocialCommand, SubscriberCommand, TemplatePart,
};

/// Rows per request when importing subscribers, so the bar moves.
const IMPORT_CHUNK_ROWS: usize = 500;

/// Runs one admin command against the API.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.api, args.token)?;
    let out = Out {
        format: args.output,
        view: View::terminal(SystemClock.now()),
    };
    let out = &out;
    match args.command {
        AdminCommand::Status => out.print(&Overview::gather(&api).await?),
        AdminCommand::Lag => out.print(&api.0.get::<Vec<ConsumerLag>>("/admin/bus/lag").await?),
        AdminCommand::DeadLetters { limit } => {
            let query = DeadLetterQuery {
                limit: Some(limit as usize),
            };
            let letters: Vec<DeadLetter> =
                api.0.get_with("/admin/bus/dead-letters", &query).await?;
            out.print(&letters)
        }
        AdminCommand::Redrive { partition, offset } => {
            let path = format!("/admin/bus/dead-letters/{partition}/{offset}/redrive");
            out.print(&api.0.post::<Redriven>(&path).await?)
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
            out.job(api.job(started, "events").await?)
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
            out.print(&all)
        }
        AdminCommand::Backfill { service, source } => {
            let mut path = format!("/admin/{}/backfill", service.path());
            if let Some(source) = source {
                path = format!("{path}?source={}", encode(&source));
            }
            out.job(
                api.job(api.0.request(Method::POST, &path), "sources")
                    .await?,
            )
        }
        AdminCommand::Schedules(command) => schedules(&api, out, command).await,
        AdminCommand::Digest(command) => digest(&api, out, command).await,
        AdminCommand::Subscribers(command) => subscribers(&api, out, command).await,
        AdminCommand::Social(command) => social(&api, out, command).await,
        AdminCommand::Audit(args) => audit::run(&api, out, args).await,
        AdminCommand::Openapi => out.print(
            &api.0
                .get::<utoipa::openapi::OpenApi>("/admin/openapi.json")
                .await?,
        ),
    }
}

async fn schedules(api: &Api, out: &Out, command: ScheduleCommand) -> anyhow::Result<()> {
    const BASE: &str = "/admin/digest/schedules";
    match command {
        ScheduleCommand::List => out.print(&api.0.get::<Vec<ScheduleReport>>(BASE).await?),
        ScheduleCommand::Create { name, fields } => {
            let saved: Vec<ScheduleReport> = api.0.post_json(BASE, &fields.settings(&name)).await?;
            out.print(&saved)
        }
        ScheduleCommand::Update { name, fields } => {
            let path = format!("{BASE}/{}", encode(&name));
            let saved: Vec<ScheduleReport> = api.0.put_json(&path, &fields.settings(&name)).await?;
            out.print(&saved)
        }
        ScheduleCommand::Pause { name } => {
            toggle::<SchedulePaused>(api, out, BASE, &name, "pause").await
        }
        ScheduleCommand::Resume { name } => {
            toggle::<SchedulePaused>(api, out, BASE, &name, "resume").await
        }
    }
}

async fn digest(api: &Api, out: &Out, command: DigestCommand) -> anyhow::Result<()> {
    const RUNS: &str = "/admin/digest/runs";
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
        DigestCommand::TestSend { schedule, to } => {
            let path = format!("/admin/digest/test-send/{}", encode(&schedule));
            let report: TestSendReport = api.0.post_json(&path, &TestSend { to }).await?;
            out.print(&report)?;
            if report.failed.is_empty() {
                Ok(())
            } else {
                bail!("the relay refused {} of the addresses", report.failed.len())
            }
        }
        DigestCommand::Templates => out.print(
            &api.0
                .get::<Vec<TemplateReport>>("/admin/digest/templates")
                .await?,
        ),
        DigestCommand::Template { name, part } => {
            let path = format!("/admin/digest/templates/{}", encode(&name));
            let report: TemplateReport = api.0.get(&path).await?;
            let template = report.template;
            print!(
                "{}",
                match part {
                    TemplatePart::Subject => template.subject + "\n",
                    TemplatePart::Html => template.html,
                    TemplatePart::Text => template.text,
                }
            );
            Ok(())
        }
        DigestCommand::SetTemplate {
            name,
            subject,
            html,
            text,
        } => {
            let path = format!("/admin/digest/templates/{}", encode(&name));
            // A new template names every part; a change may name some.
            let mut template = if subject.is_some() && html.is_some() && text.is_some() {
                DigestTemplate {
                    subject: String::new(),
                    html: String::new(),
                    text: String::new(),
                }
            } else {
                api.0.get::<TemplateReport>(&path).await?.template
            };
            let read = |file: &std::path::Path| {
                std::fs::read_to_string(file)
                    .with_context(|| format!("Failed to read {}", file.display()))
            };
            if let Some(subject) = subject {
                template.subject = subject;
            }
            if let Some(file) = html {
                template.html = read(&file)?;
            }
            if let Some(file) = text {
                template.text = read(&file)?;
            }
            let saved: TemplateReport = api.0.put_json(&path, &template).await?;
            out.print(&saved)
        }
        DigestCommand::DryRun { schedule } => {
            let path = format!("/admin/digest/dry-run/{}", encode(&schedule));
            out.print(&api.0.post::<DryRunReport>(&path).await?)
        }
        DigestCommand::Send { schedule, force } => {
            let path = format!("/admin/digest/send/{}", encode(&schedule));
            let request = api
                .0
                .request(Method::POST, &path)
                .query(&SendQuery { force });
            out.print(&api.0.call::<SendAccepted>(request).await?)
        }
        DigestCommand::Status { run: Some(run), .. } => {
            let path = format!("{RUNS}/{}", encode(&run));
            let report: RunReport = api.0.get(&path).await?;
            out.in_zones(api).await?.print(&report)
        }
        DigestCommand::Status { run: None, limit } => {
            let query = RunsQuery {
                limit: i64::from(limit),
            };
            let runs: Vec<RunReport> = api.0.get_with(RUNS, &query).await?;
            out.in_zones(api).await?.print(&runs)
        }
        DigestCommand::Pause { run } => toggle::<RunPaused>(api, out, RUNS, &run, "pause").await,
        DigestCommand::Resume { run } => {
            toggle::<RunResuming>(api, out, RUNS, &run, "resume").await
        }
    }
}

async fn subscribers(api: &Api, out: &Out, command: SubscriberCommand) -> anyhow::Result<()> {
    match command {
        SubscriberCommand::Search { query, limit } => {
            let query = SubscriberQuery {
                q: query,
                limit: limit as usize,
            };
            let found: Vec<Subscriber> =
                api.0.get_with("/admin/digest/subscribers", &query).await?;
            out.print(&found)
        }
        SubscriberCommand::Suppress { email } => {
            let path = format!("/admin/digest/subscribers/{}/suppress", encode(&email));
            out.print(&api.0.post::<Suppressed>(&path).await?)
        }
        SubscriberCommand::Export => {
            let request = api.0.request(Method::GET, "/admin/digest/subscribers.csv");
            print!("{}", api.0.text(request).await?);
            Ok(())
        }
        SubscriberCommand::Import { file } => import(api, out, &file).await,
    }
}

async fn social(api: &Api, out: &Out, command: SocialCommand) -> anyhow::Result<()> {
    const ACTORS: &str = "/admin/social/actors";
    match command {
        SocialCommand::Posts { status, limit } => {
            let query = PostsQuery {
                status,
                limit: i64::from(limit),
            };
            let posts: Vec<SocialPost> = api.0.get_with("/admin/social/posts", &query).await?;
            out.print(&posts)
        }
        SocialCommand::Post { review_id } => {
            let path = format!("/admin/social/posts/{}/post", encode(&review_id));
            out.print(&api.0.post::<Vec<SocialPost>>(&path).await?)
        }
        SocialCommand::Actors => out.print(&api.0.get::<Vec<FediverseActor>>(ACTORS).await?),
        SocialCommand::PauseActor { name } => {
            toggle::<FediverseActor>(api, out, ACTORS, &name, "pause").await
        }
        SocialCommand::ResumeActor { name } => {
            toggle::<FediverseActor>(api, out, ACTORS, &name, "resume").await
        }
    }
}

/// Uploads the file in chunks of rows, each with the header, and sums the
/// reports; rejected rows keep their line numbers in the whole file.
async fn import(api: &Api, out: &Out, file: &std::path::Path) -> anyhow::Result<()> {
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
    out.print(&total)
}

/// `POST {collection}/{name}/{action}` (`pause` or `resume`), its answer
/// printed.
async fn toggle<T: DeserializeOwned + Serialize + Human>(
    api: &Api,
    out: &Out,
    collection: &str,
    name: &str,
    action: &str,
) -> anyhow::Result<()> {
    let path = format!("{collection}/{}/{action}", encode(name));
    out.print(&api.0.post::<T>(&path).await?)
}

/// The format asked for, and how a table reads here and now.
struct Out {
    format: Format,
    view: View,
}

impl Out {
    fn print<T: Serialize + Human>(&self, value: &T) -> anyhow::Result<()> {
        output::print(value, self.format, &self.view)
    }

    /// For runs: tables read each run's times in its schedule's zone.
    async fn in_zones(&self, api: &Api) -> anyhow::Result<Self> {
        let mut view = self.view.clone();
        if self.format == Format::Table {
            let schedules: Vec<ScheduleReport> = api.0.get("/admin/digest/schedules").await?;
            view.zones = schedules
                .into_iter()
                .map(|schedule| (schedule.settings.name, schedule.settings.time_zone))
                .collect();
        }
        Ok(Self {
            format: self.format,
            view,
        })
    }

    /// A finished job printed; a failed one is the command's failure.
    fn job(&self, status: JobStatus) -> anyhow::Result<()> {
        if status.state == JobState::Failed {
            bail!(
                "{} job {} failed: {}",
                status.kind,
                status.id,
                status.error.unwrap_or_default()
            );
        }
        self.print(&status)
    }
}
