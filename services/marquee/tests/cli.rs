//! `marquee admin` as an operator runs it, against `marquee up` in this
//! process: every command's table or summary for people, its `-o json`
//! form read back as the admin contract's type and checked against the
//! table, and the exit codes (0 done, 1 refused or failed, 2 usage).

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{Demo, TOKEN, items};
use marquee_admin::bus::{ConsumerLag, DeadLetter};
use marquee_admin::digest::{
    DryRunReport, ImportReport, RunReport, RunResuming, RunStatus, SchedulePaused, ScheduleReport,
    SendAccepted, Subscriber, SubscriberStatus, Suppressed, TemplateReport,
};
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_admin::social::{FediverseActor, PostStatus, SocialPost};
use marquee_admin::sources::SourceHealth;
use marquee_test_support::wait;
use serde::de::DeserializeOwned;
use serde_json::Value;

const SAMPLE_ITEMS: usize = 6;

/// What a successful `marquee admin ARGS` printed for people.
fn table(demo: &Demo, args: &[&str]) -> String {
    let output = demo.cli(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour into a pipe: {text:?}");
    text
}

/// `marquee admin -o json ARGS`, read as `T`.
fn json<T: DeserializeOwned>(demo: &Demo, args: &[&str]) -> T {
    let output = demo.cli(&[&["--output", "json"], args].concat());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A refused command: exit 1, the reason on standard error, nothing on
/// standard output.
fn refused(demo: &Demo, args: &[&str]) -> String {
    let output = demo.cli(args);
    assert_eq!(output.status.code(), Some(1), "{args:?}");
    assert!(output.stdout.is_empty(), "{args:?}");
    String::from_utf8(output.stderr).unwrap()
}

/// The table's header line split into its column names, and its rows.
fn rows(text: &str) -> (Vec<String>, Vec<&str>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    (header, lines.collect())
}

/// The row whose first cell is `first`.
fn row<'a>(rows: &[&'a str], first: &str) -> &'a str {
    rows.iter()
        .find(|row| row.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row for {first} in {rows:?}"))
}

/// The printed value of `label:` in a summary.
fn field<'a>(summary: &'a str, label: &str) -> &'a str {
    summary
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{label}:")))
        .unwrap_or_else(|| panic!("no {label} in {summary}"))
        .trim()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_reads_as_tables_and_as_json() {
    // The weekly schedule is due Thursdays at 08:30: within the catch-up
    // window after that, a new database catches the run up, and the
    // schedule below is read as never run.
    let demo = Demo::start_with(|settings| settings.digest.catch_up_window_secs = 0).await;
    demo.until("/feeds/all.rss", None, |f| items(f) >= SAMPLE_ITEMS)
        .await;
    let listings = demo
        .until("/admin/listings-ingest/sources", Some(TOKEN), |body| {
            serde_json::from_str::<Vec<SourceHealth>>(body)
                .unwrap()
                .iter()
                .all(|s| s.last_success.is_some())
        })
        .await;
    let listings: Vec<SourceHealth> = serde_json::from_str(&listings).unwrap();

    // Sources: one row per source of both services, read just now.
    let sources: Vec<SourceHealth> = json(&demo, &["sources"]);
    let printed = table(&demo, &["sources"]);
    let (header, lines) = rows(&printed);
    assert_eq!(
        header,
        [
            "SOURCE",
            "KIND",
            "STATE",
            "LAST READ",
            "LAST POLL",
            "ITEMS",
            "REJECTED",
            "EVENTS",
            "LAST ERROR"
        ]
    );
    assert_eq!(lines.len(), sources.len(), "{printed}");
    assert_eq!(sources.len(), listings.len() + 1);
    let bfi = sources
        .iter()
        .find(|s| s.name == "bfi-southbank-ics")
        .unwrap();
    let line = row(&lines, "bfi-southbank-ics");
    assert!(line.contains(" ics ") && line.contains(" ok "), "{line}");
    assert!(line.contains(" ago") || line.contains("just now"), "{line}");
    assert!(
        line.contains(&format!(" {} ", bfi.items_seen)),
        "{line} {bfi:?}"
    );
    let listings_only = table(&demo, &["sources", "listings-ingest"]);
    assert_eq!(rows(&listings_only).1.len(), listings.len());

    // Lag: per partition, every group.
    let lag: Vec<ConsumerLag> = json(&demo, &["lag"]);
    let printed = table(&demo, &["lag"]);
    let (header, lines) = rows(&printed);
    assert_eq!(
        header,
        ["GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"]
    );
    assert!(lines.len() >= lag.len() - 1, "{printed}");
    assert!(lines.iter().any(|line| line.starts_with("social ")));

    // Dead letters: none yet, said in words; re-driving one that is not
    // there is refused with the API's reason.
    let letters: Vec<DeadLetter> = json(&demo, &["dead-letters"]);
    assert!(letters.is_empty(), "{letters:?}");
    assert_eq!(table(&demo, &["dead-letters"]), "No dead letters.\n");
    let said = refused(&demo, &["redrive", "0", "999999"]);
    assert!(said.starts_with("marquee: "), "{said}");

    // The overview.
    let overview: Value = json(&demo, &["status"]);
    let in_json: Vec<SourceHealth> =
        serde_json::from_value(overview["sources"][1]["sources"].clone()).unwrap();
    assert_eq!(overview["sources"][1]["service"], "listings-ingest");
    assert_eq!(in_json.len(), listings.len());
    assert_eq!(overview["dead_letters"], 0);
    let schedules: Vec<ScheduleReport> =
        serde_json::from_value(overview["schedules"].clone()).unwrap();
    assert_eq!(schedules[0].settings.name, "weekly");
    let printed = table(&demo, &["status"]);
    for heading in [
        "Sources",
        "Consumer lag",
        "Dead letters: none",
        "Digest schedules",
    ] {
        assert!(printed.contains(heading), "{heading}: {printed}");
    }
    let weekly = printed
        .lines()
        .find(|line| line.starts_with("weekly "))
        .unwrap();
    assert!(
        weekly.contains("active") && weekly.contains("never"),
        "{weekly}"
    );
    let feeds = printed
        .lines()
        .find(|line| line.starts_with("feeds "))
        .unwrap();
    assert_eq!(
        feeds.split_whitespace().collect::<Vec<_>>(),
        ["feeds", "3", "0"]
    );

    // Schedules: the next run in the schedule's own zone.
    let listed: Vec<ScheduleReport> = json(&demo, &["schedules", "list"]);
    let printed = table(&demo, &["schedules", "list"]);
    let (header, lines) = rows(&printed);
    assert_eq!(
        header,
        [
            "SCHEDULE", "CRON", "ZONE", "TEMPLATE", "AUDIENCE", "STATE", "NEXT RUN", "IN"
        ]
    );
    let next = &listed[0].next_runs[0].local;
    let line = row(&lines, "weekly");
    assert!(line.contains(&next[11..16]), "{next} in {line}");
    assert!(
        line.contains("Europe/London") && line.contains(" in "),
        "{line}"
    );

    let fields = ["--cron", "0 9 * * MON", "--time-zone", "America/New_York"];
    let created = table(
        &demo,
        &[&["schedules", "create", "cli-test"], &fields[..]].concat(),
    );
    let line = row(&rows(&created).1, "cli-test");
    assert!(
        line.contains("09:00 E") && line.contains("America/New_York"),
        "{line}"
    );
    let updated: Vec<ScheduleReport> = json(
        &demo,
        &[
            "schedules",
            "update",
            "cli-test",
            "--cron",
            "0 10 * * MON",
            "--time-zone",
            "UTC",
        ],
    );
    let test = updated
        .iter()
        .find(|s| s.settings.name == "cli-test")
        .unwrap();
    assert_eq!(test.settings.cron, "0 10 * * MON");
    assert_eq!(
        table(&demo, &["schedules", "pause", "cli-test"]),
        "Schedule cli-test is paused: due runs are recorded as skipped.\n"
    );
    let resumed: SchedulePaused = json(&demo, &["schedules", "resume", "cli-test"]);
    assert!(!resumed.paused);
    let said = refused(&demo, &["schedules", "pause", "no-such-schedule"]);
    assert!(said.contains("404"), "{said}");

    // Digests: a dry run and a preview.
    let report: DryRunReport = json(&demo, &["digest", "dry-run", "weekly"]);
    let printed = table(&demo, &["digest", "dry-run", "weekly"]);
    assert_eq!(field(&printed, "Subject"), report.subject);
    assert_eq!(field(&printed, "Reviews"), report.reviews.to_string());
    assert_eq!(field(&printed, "Recipients"), report.recipients.to_string());
    let preview = table(&demo, &["digest", "preview", "weekly"]);
    assert!(preview.contains("<html"), "{preview}");

    // Subscribers: import (a refused row listed by line), search, suppress,
    // export.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("subscribers.csv");
    std::fs::write(
        &csv,
        "email,status,list,venues,formats,min_rating\n\
         ada@example.org,confirmed,all,,,\n\
         not-an-address,confirmed,all,,,\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let printed = table(&demo, &["subscribers", "import", csv]);
    assert!(
        printed.starts_with("Imported 1 rows, refused 1.\n"),
        "{printed}"
    );
    let refused_row = printed
        .lines()
        .skip_while(|line| !line.starts_with("LINE"))
        .nth(1)
        .unwrap();
    assert_eq!(
        refused_row.split_whitespace().next(),
        Some("3"),
        "{printed}"
    );
    let imported: ImportReport = json(&demo, &["subscribers", "import", csv]);
    assert_eq!(imported.imported, 1);
    assert_eq!(imported.rejected[0].0, 3);

    let found: Vec<Subscriber> = json(&demo, &["subscribers", "search", "ada@"]);
    assert_eq!(found.len(), 1);
    let printed = table(&demo, &["subscribers", "search", "ada@"]);
    let (header, lines) = rows(&printed);
    assert_eq!(header, ["EMAIL", "STATUS", "LIST", "PREFERENCES", "ID"]);
    let line = row(&lines, "ada@example.org");
    assert!(
        line.contains("confirmed") && line.contains(&found[0].id),
        "{line}"
    );
    assert_eq!(
        table(&demo, &["subscribers", "search", "nobody-at-all"]),
        "No subscribers match.\n"
    );
    let suppressed: Suppressed = json(&demo, &["subscribers", "suppress", "ada@example.org"]);
    assert_eq!(suppressed.suppressed, "ada@example.org");
    let found: Vec<Subscriber> = json(&demo, &["subscribers", "search", "ada@"]);
    assert_eq!(found[0].status, SubscriberStatus::Suppressed);
    assert!(
        table(&demo, &["subscribers", "suppress", "ada@example.org"])
            .starts_with("ada@example.org is suppressed")
    );
    let export = table(&demo, &["subscribers", "export"]);
    assert!(export.starts_with("email,status,list"), "{export}");
    assert!(export.contains("ada@example.org,suppressed"), "{export}");

    // Social posts: the back catalogue, skipped with its reason.
    let posts: Vec<SocialPost> = json(&demo, &["social", "posts", "--status", "skipped"]);
    assert_eq!(posts.len(), SAMPLE_ITEMS * 3);
    let printed = table(&demo, &["social", "posts", "--status", "skipped"]);
    let (header, lines) = rows(&printed);
    assert_eq!(
        header,
        [
            "REVIEW",
            "ACCOUNT",
            "NETWORK",
            "STATUS",
            "UPDATED",
            "REASON OR URL"
        ]
    );
    assert_eq!(lines.len(), posts.len());
    assert!(
        lines
            .iter()
            .all(|line| line.contains(" skipped ") && line.contains("back catalogue")),
        "{printed}"
    );
    let posted = table(&demo, &["social", "post", &posts[0].review_id]);
    let (_, lines) = rows(&posted);
    assert_eq!(lines.len(), 3, "{posted}");
    assert!(
        lines.iter().all(|line| line.contains(" dry_run ")),
        "{posted}"
    );
    let now: Vec<SocialPost> = json(&demo, &["social", "posts", "--status", "dry_run"]);
    assert!(now.iter().all(|post| post.status == PostStatus::DryRun));

    // The demo's fediverse actor: its counts as the API has them, paused
    // and resumed; pausing twice, or an actor not configured, refused.
    let actors: Vec<FediverseActor> = json(&demo, &["social", "actors"]);
    assert_eq!(actors.len(), 1, "{actors:?}");
    let reviews = &actors[0];
    // The public URL follows the test's port, as the listener does.
    let host = demo.base.trim_start_matches("http://");
    assert_eq!(reviews.handle, format!("reviews@{host}"));
    let printed = table(&demo, &["social", "actors"]);
    let (header, lines) = rows(&printed);
    assert_eq!(
        header,
        [
            "NAME",
            "HANDLE",
            "FOLLOWERS",
            "PENDING",
            "DELIVERED",
            "FAILED",
            "PAUSED"
        ]
    );
    assert_eq!(lines.len(), 1, "{printed}");
    let deliveries = reviews.deliveries;
    assert_eq!(
        row(&lines, "reviews")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        format!(
            "reviews {} {} {} {} {} no",
            reviews.handle,
            reviews.followers,
            deliveries.pending,
            deliveries.delivered,
            deliveries.failed
        )
    );
    assert_eq!(
        table(&demo, &["social", "pause-actor", "reviews"]),
        format!(
            "Actor reviews ({}) is paused: its deliveries wait; \
             `social resume-actor reviews` sends them.\n",
            reviews.handle
        )
    );
    let paused = table(&demo, &["social", "actors"]);
    assert!(
        row(&rows(&paused).1, "reviews").ends_with(" yes"),
        "{paused}"
    );
    let said = refused(&demo, &["social", "pause-actor", "reviews"]);
    assert!(
        said.contains("409") && said.contains("paused already"),
        "{said}"
    );
    let resumed: FediverseActor = json(&demo, &["social", "resume-actor", "reviews"]);
    assert!(!resumed.paused, "{resumed:?}");
    let said = refused(&demo, &["social", "resume-actor", "no-such-actor"]);
    assert!(said.contains("404"), "{said}");

    // Jobs: a summary once done.
    let printed = table(
        &demo,
        &[
            "backfill",
            "listings-ingest",
            "--source",
            "bfi-southbank-ics",
        ],
    );
    assert!(field(&printed, "Job").starts_with("backfill "), "{printed}");
    assert_eq!(field(&printed, "State"), "succeeded");
    assert_eq!(field(&printed, "Processed"), "1 of 1");
    let job: JobStatus = json(&demo, &["backfill", "reviews-ingest"]);
    assert_eq!(job.state, JobState::Succeeded);
    let printed = table(&demo, &["replay", "--from-time", "2000-01-01T00:00:00Z"]);
    assert!(field(&printed, "Job").starts_with("replay "), "{printed}");
    assert_eq!(field(&printed, "State"), "succeeded");

    // The OpenAPI document is JSON either way.
    let document: Value = json(&demo, &["openapi"]);
    assert!(document["paths"]["/admin/bus/lag"].is_object());
    let printed: Value = serde_json::from_str(&table(&demo, &["openapi"])).unwrap();
    assert_eq!(printed, document);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_reads_as_a_table_a_summary_and_json() {
    let demo = Demo::start_without_relay().await;
    demo.until("/feeds/all.rss", None, |f| items(f) >= SAMPLE_ITEMS)
        .await;
    let confirmed =
        "email,status,list,venues,formats,min_rating\nreader@example.org,confirmed,all,,,\n";
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("one.csv");
    std::fs::write(&csv, confirmed).unwrap();
    let _: ImportReport = json(&demo, &["subscribers", "import", csv.to_str().unwrap()]);

    let sent = table(&demo, &["digest", "send", "weekly", "--force"]);
    let run = sent
        .strip_prefix("Run ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{sent}"))
        .to_owned();
    assert!(
        sent.contains(&format!("`marquee admin digest status {run}`")),
        "{sent}"
    );
    let first = paused(&demo, &run).await;

    let runs: Vec<RunReport> = json(&demo, &["digest", "status"]);
    assert_eq!(runs[0].run.id, run);
    let printed = table(&demo, &["digest", "status"]);
    let (header, lines) = rows(&printed);
    assert_eq!(
        header,
        [
            "RUN", "SCHEDULE", "DUE", "KIND", "STATUS", "SENT", "FAILED", "PENDING", "SKIPPED",
            "FINISHED", "NOTE"
        ]
    );
    let line = row(&lines, &run);
    assert!(
        line.contains(" weekly ") && line.contains(" forced ") && line.contains(" paused "),
        "{line}"
    );
    // Due in the schedule's zone, London's winter or summer time.
    assert!(line.contains(" GMT ") || line.contains(" BST "), "{line}");
    assert!(line.contains("consecutive send errors"), "{line}");

    let printed = table(&demo, &["digest", "status", &run]);
    assert_eq!(field(&printed, "Run"), run);
    assert_eq!(field(&printed, "Status"), "paused");
    assert_eq!(field(&printed, "Kind"), "forced");
    let counts = first.counts;
    assert_eq!(
        field(&printed, "Deliveries"),
        format!(
            "{} sent, {} failed, {} pending, {} skipped, {} interrupted",
            counts.sent, counts.failed, counts.pending, counts.skipped, counts.interrupted
        )
    );
    let one: RunReport = json(&demo, &["digest", "status", &run]);
    assert_eq!(one.run.status, RunStatus::Paused);

    // A paused run cannot be paused; it can be resumed.
    let said = refused(&demo, &["digest", "pause", &run]);
    assert!(
        said.contains("409") && said.contains("not sending"),
        "{said}"
    );
    assert_eq!(
        table(&demo, &["digest", "resume", &run]),
        format!("Run {run} is resuming in the background.\n")
    );

    let accepted: SendAccepted = json(&demo, &["digest", "send", "weekly", "--force"]);
    assert_ne!(accepted.run, run);
    assert_eq!(accepted.status, RunStatus::Sending);
    paused(&demo, &accepted.run).await;
    let overview: Value = json(&demo, &["status"]);
    assert_eq!(overview["last_runs"][0]["id"], accepted.run.as_str());
    let printed = table(&demo, &["status"]);
    let weekly = printed
        .lines()
        .find(|line| line.starts_with("weekly "))
        .unwrap();
    assert!(
        weekly.contains(" paused "),
        "the last run's status: {weekly}"
    );
    let resuming: RunResuming = json(&demo, &["digest", "resume", &accepted.run]);
    assert_eq!(resuming.resuming, accepted.run);
}

#[test]
fn usage_errors_exit_2_and_refusals_exit_1() {
    let marquee = || std::process::Command::new(env!("CARGO_BIN_EXE_marquee"));
    let usage = marquee()
        .args(["admin", "schedules", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    let format = marquee()
        .args(["admin", "-o", "yaml", "lag"])
        .output()
        .unwrap();
    assert_eq!(format.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&format.stderr).contains("table, json"));
    let help = marquee().args(["admin", "--help"]).output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("Exit status: 0 done, 1 refused or failed"),
        "{help}"
    );
    assert!(help.contains("-o, --output"), "{help}");

    // Nobody listens on port 9: the command fails with a message.
    let unreachable = marquee()
        .args([
            "admin",
            "--api",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "lag",
        ])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unreachable.stderr).starts_with("marquee: "));
}

/// The run once it has paused itself.
async fn paused(demo: &Demo, run: &str) -> RunReport {
    let path = format!("/admin/digest/runs/{run}");
    wait::until_value(
        &format!("run {run} paused itself"),
        Duration::from_secs(60),
        || async { serde_json::from_value::<RunReport>(demo.admin(&path).await).unwrap() },
        |report| report.run.status == RunStatus::Paused,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_test_sends_and_edits_the_template_from_the_command_line() {
    let sink = marquee_test_support::SmtpSink::start();
    let demo = Demo::start_with(|settings| settings.digest.smtp.port = sink.port).await;

    let printed = table(
        &demo,
        &[
            "digest",
            "test-send",
            "weekly",
            "--to",
            "editor@films.example",
        ],
    );
    assert!(printed.contains("sent  editor@films.example"), "{printed}");
    assert!(printed.contains("No run was recorded"), "{printed}");
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.to, "editor@films.example");
    assert!(
        mail.subject.starts_with("[test] What to watch: "),
        "{}",
        mail.subject
    );
    let said = refused(
        &demo,
        &["digest", "test-send", "weekly", "--to", "not an address"],
    );
    assert!(said.contains("422") && said.contains("`to`"), "{said}");

    let said = refused(
        &demo,
        &[
            "digest",
            "set-template",
            "weekly",
            "--subject",
            "Films: {{ wek }}",
        ],
    );
    assert!(
        said.contains("subject of template `weekly`, line 1, column 11: undefined value"),
        "{said}"
    );
    let saved: TemplateReport = json(
        &demo,
        &[
            "digest",
            "set-template",
            "weekly",
            "--subject",
            "Films: {{ week }}",
        ],
    );
    assert!(saved.updated_at.is_some());
    assert_eq!(
        table(
            &demo,
            &["digest", "template", "weekly", "--part", "subject"]
        ),
        "Films: {{ week }}\n"
    );
    let html = table(&demo, &["digest", "template", "weekly"]);
    assert_eq!(html, saved.template.html, "the HTML part kept");
    let listed = table(&demo, &["digest", "templates"]);
    let (header, lines) = rows(&listed);
    assert_eq!(header, ["TEMPLATE", "SUBJECT", "STORED"]);
    assert!(
        row(&lines, "weekly").contains("Films: {{ week }}"),
        "{lines:?}"
    );
}
