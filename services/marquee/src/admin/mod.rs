//! `marquee admin …`: every operator endpoint of the admin API as a
//! subcommand (docs/operators.md). It reads each answer as the admin
//! contract's type (`marquee_admin`) and prints it as JSON (or CSV, or HTML
//! for previews), and draws progress bars for the long tasks: replay,
//! backfill and subscriber import.
//!
//! [`commands`] holds what each subcommand takes; `api` the client and the
//! job progress bar.

mod api;
pub mod commands;

use anyhow::Context;
use marquee_admin::bus::{ConsumerLag, DeadLetter, DeadLetterQuery, Redriven};
use marquee_admin::digest::{
    DryRunReport, ImportReport, PreviewQuery, RejectedRow, RunPaused, RunReport, RunResuming,
    RunsQuery, SchedulePaused, ScheduleReport, SendAccepted, SendQuery, Subscriber,
    SubscriberQuery, Suppressed,
};
use marquee_admin::feeds::ReplayRequest;
use marquee_admin::social::{PostsQuery, SocialPost};
use marquee_admin::sources::SourceHealth;
use marquee_console::encode;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use api::{Api, bar};
pub use commands::{
    AdminArgs, AdminCommand, DigestCommand, IngestService, ScheduleCommand, ScheduleFields,
    SocialCommand, SubscriberCommand,
};

/// Rows per request when importing subscribers, so the bar moves.
const IMPORT_CHUNK_ROWS: usize = 500;

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
        AdminCommand::Social(command) => social(&api, command).await,
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
            toggle::<SchedulePaused>(api, BASE, &name, "pause").await
        }
        ScheduleCommand::Resume { name } => {
            toggle::<SchedulePaused>(api, BASE, &name, "resume").await
        }
    }
}

async fn digest(api: &Api, command: DigestCommand) -> anyhow::Result<()> {
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
            let path = format!("{RUNS}/{}", encode(&run));
            print(&api.0.get::<RunReport>(&path).await?)
        }
        DigestCommand::Status { run: None, limit } => {
            let query = RunsQuery {
                limit: i64::from(limit),
            };
            let runs: Vec<RunReport> = api.0.get_with(RUNS, &query).await?;
            print(&runs)
        }
        DigestCommand::Pause { run } => toggle::<RunPaused>(api, RUNS, &run, "pause").await,
        DigestCommand::Resume { run } => toggle::<RunResuming>(api, RUNS, &run, "resume").await,
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

async fn social(api: &Api, command: SocialCommand) -> anyhow::Result<()> {
    match command {
        SocialCommand::Posts { status, limit } => {
            let query = PostsQuery {
                status,
                limit: i64::from(limit),
            };
            let posts: Vec<SocialPost> = api.0.get_with("/admin/social/posts", &query).await?;
            print(&posts)
        }
        SocialCommand::Post { review_id } => {
            let path = format!("/admin/social/posts/{}/post", encode(&review_id));
            print(&api.0.post::<Vec<SocialPost>>(&path).await?)
        }
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

/// Prints an answer as the API sent it: pretty JSON.
/// `POST {collection}/{name}/{action}` (`pause` or `resume`), its answer
/// printed.
async fn toggle<T: DeserializeOwned + Serialize>(
    api: &Api,
    collection: &str,
    name: &str,
    action: &str,
) -> anyhow::Result<()> {
    let path = format!("{collection}/{}/{action}", encode(name));
    print(&api.0.post::<T>(&path).await?)
}

fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
