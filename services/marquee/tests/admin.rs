//! The admin API on the one-process demo, over HTTP and through the
//! `marquee admin` CLI: authentication, the OpenAPI document against the
//! routes actually served, the bus's endpoints and the feeds replay. Answers
//! are read as the admin contract's types.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Demo, TOKEN, items};
use marquee_admin::bus::ConsumerLag;
use marquee_admin::feeds::ReplayRequest;
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_admin::social::{PostStatus, SocialPost};
use marquee_admin::sources::SourceHealth;
use marquee_test_support::wait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const SAMPLE_ITEMS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_refuse_a_missing_or_wrong_token() {
    let demo = Demo::start().await;
    for path in [
        "/admin/openapi.json",
        "/admin/bus/lag",
        "/admin/bus/dead-letters",
    ] {
        assert_eq!(demo.get(path, None).await.0, 401, "{path} without a token");
        assert_eq!(
            demo.get(path, Some("wrong")).await.0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            demo.get(path, Some(TOKEN)).await.0,
            200,
            "{path} with the token"
        );
    }
    let refused = post(&demo, "/admin/bus/dead-letters/0/0/redrive", None, None).await;
    assert_eq!(refused.status(), 401);
}

/// Checks an OpenAPI document with openapi-spec-validator, an implementation
/// of the specification that is not ours; prints `true` when it is valid.
const OPENAPI_CHECK: &str = "import json, sys
from openapi_spec_validator import validate
validate(json.load(open(sys.argv[1])))
print('true')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_admin_api() {
    let demo = Demo::start().await;
    let served = demo.admin("/admin/openapi.json").await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), served.to_string()).unwrap();
    let valid: bool = marquee_test_support::python_json(
        OPENAPI_CHECK,
        [file.path()],
        "openapi-spec-validator refused /admin/openapi.json (or is not installed: pip install -r scripts/test-requirements.txt)",
    );
    assert!(valid);
    let document: utoipa::openapi::OpenApi = serde_json::from_value(served).unwrap();
    assert_eq!(document.info.title, "Marquee admin API");
    let components = document.components.as_ref().unwrap();
    assert!(components.security_schemes.contains_key("bearer"));
    // The answers are described by the contract's types.
    for schema in [
        "RunReport",
        "ScheduleReport",
        "JobStatus",
        "SourceHealth",
        "DeadLetter",
    ] {
        assert!(
            components.schemas.contains_key(schema),
            "{schema} not described"
        );
    }
    let paths = &document.paths.paths;
    for path in [
        "/admin/feeds/jobs/{id}",
        "/admin/reviews-ingest/jobs/{id}",
        "/admin/listings-ingest/jobs/{id}",
        "/admin/bus/lag",
        "/admin/bus/dead-letters",
        "/admin/bus/dead-letters/{partition}/{offset}/redrive",
        "/admin/feeds/replay",
        "/admin/reviews-ingest/sources",
        "/admin/reviews-ingest/backfill",
        "/admin/listings-ingest/sources",
        "/admin/listings-ingest/backfill",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
}

/// The `/admin/…` paths `router` routes. axum cannot list a router's
/// routes, but its `Debug` form names every path; a test may read that (an
/// axum release that changes it fails here loudly, finding none).
fn admin_paths(router: &axum::Router) -> BTreeSet<String> {
    format!("{router:?}")
        .split('"')
        .filter(|token| token.starts_with("/admin/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_is_in_the_openapi_document_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = marquee_test_support::free_port();
    let config = marquee::DEFAULT_CONFIG.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let mut settings: marquee::Settings = marquee_runtime::config::load(&config, None).unwrap();
    settings.data_dir = dir.path().to_owned();
    let shutdown = CancellationToken::new();
    let built = marquee::build(settings, &marquee::Service::ALL, false, shutdown.clone())
        .await
        .unwrap();
    let routed = admin_paths(built.router());
    assert!(routed.len() > 20, "too few admin routes found: {routed:?}");
    let document = marquee::openapi();
    let documented: BTreeSet<String> = document.paths.paths.keys().cloned().collect();
    let missing: Vec<&String> = routed.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routed but not in the OpenAPI document: {missing:?}"
    );
    let unrouted: Vec<&String> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    for prefix in ["feeds", "reviews-ingest", "listings-ingest"] {
        assert!(
            documented.contains(&format!("/admin/{prefix}/jobs/{{id}}")),
            "{prefix} jobs"
        );
    }

    // Every documented method on every path reaches a handler: not axum's
    // 405, nor its empty 404 for a path no route matches.
    let started = built.serve();
    tokio::spawn(started.wait());
    let http = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in &document.paths.paths {
        let methods = [
            (reqwest::Method::GET, item.get.is_some()),
            (reqwest::Method::POST, item.post.is_some()),
            (reqwest::Method::PUT, item.put.is_some()),
            (reqwest::Method::DELETE, item.delete.is_some()),
            (reqwest::Method::PATCH, item.patch.is_some()),
        ];
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "0"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, documented) in methods {
            if !documented {
                continue;
            }
            operations += 1;
            let response = http
                .request(method.clone(), format!("http://127.0.0.1:{port}{concrete}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !(status == 404 && body.is_empty()),
                "{method} {path} reaches no handler"
            );
        }
    }
    assert!(operations >= routed.len(), "{operations} operations");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_reaches_zero_once_the_feeds_caught_up() {
    let demo = Demo::start().await;
    demo.until("/feeds/all.rss", None, |f| items(f) >= SAMPLE_ITEMS)
        .await;
    let lags = caught_up(&demo, "feeds").await;
    let feeds = lags.iter().filter(|l| l.group == "feeds").count();
    assert_eq!(feeds, 3, "one row per partition of reviews: {lags:?}");
    let groups: BTreeSet<&str> = lags.iter().map(|l| l.group.as_str()).collect();
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        [
            "digest",
            "feeds",
            "feeds-screenings",
            "listings-ingest",
            "social"
        ]
    );

    let printed: Vec<ConsumerLag> = cli_json(&demo, &["lag"]);
    assert!(printed.iter().any(|l| l.group == "social"));

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_marquee"))
        .args(["admin", "--api", &demo.base, "--token", "wrong", "lag"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

fn guids(feed: &str) -> Vec<String> {
    let mut guids: Vec<String> = feed
        .split("<guid")
        .skip(1)
        .map(|rest| rest.split("</guid>").next().unwrap().to_owned())
        .collect();
    guids.sort();
    guids
}

fn posts(outbox: &str) -> usize {
    let outbox: Value = serde_json::from_str(outbox).unwrap();
    outbox["posts"].as_array().unwrap().len()
}

/// Every group's lag, once `group` has none.
async fn caught_up(demo: &Demo, group: &str) -> Vec<ConsumerLag> {
    wait::until_value(
        &format!("the {group} group has no lag"),
        Duration::from_secs(30),
        || async {
            serde_json::from_value::<Vec<ConsumerLag>>(demo.admin("/admin/bus/lag").await).unwrap()
        },
        |lags| lags.iter().filter(|l| l.group == group).all(|l| l.lag == 0),
    )
    .await
}

/// What `marquee admin ARGS` printed, read as `T`; the command must succeed.
fn cli_json<T: serde::de::DeserializeOwned>(demo: &Demo, args: &[&str]) -> T {
    let output = demo.cli(&[&["-o", "json"], args].concat());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `POST path`, with `body` as JSON and `token` if given.
async fn post(
    demo: &Demo,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = demo.http.post(format!("{}{path}", demo.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Starts a job with `POST path` and `body`, and follows it to its end.
async fn finished_job(demo: &Demo, path: &str, body: &impl serde::Serialize) -> JobStatus {
    let body = serde_json::to_value(body).unwrap();
    let started = post(demo, path, Some(TOKEN), Some(body)).await;
    assert_eq!(started.status(), 202, "{path}");
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let job = demo
        .until(&location, Some(TOKEN), |job| {
            serde_json::from_str::<JobStatus>(job).unwrap().state != JobState::Running
        })
        .await;
    serde_json::from_str(&job).unwrap()
}

/// The social group's `(committed, end)` per partition, once it has caught up.
async fn social_lag(demo: &Demo) -> Vec<(Option<i64>, i64)> {
    let lags = caught_up(demo, "social").await;
    lags.iter()
        .filter(|l| l.group == "social")
        .map(|l| (l.committed, l.end))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_replay_restores_the_feeds_and_posts_nothing_again() {
    let demo = Demo::start().await;
    let feed = demo
        .until("/feeds/all.rss", None, |f| items(f) >= SAMPLE_ITEMS)
        .await;
    let outbox = demo
        .until("/social/outbox.json", None, |o| {
            posts(o) >= SAMPLE_ITEMS * 3
        })
        .await;
    let social_before = social_lag(&demo).await;

    let rebuild = ReplayRequest {
        rebuild: true,
        ..ReplayRequest::default()
    };
    let job = finished_job(&demo, "/admin/feeds/replay", &rebuild).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(job.processed >= SAMPLE_ITEMS as u64);
    assert_eq!(Some(job.processed), job.total);

    let rebuilt = demo.get("/feeds/all.rss", None).await.1;
    assert_eq!(
        guids(&rebuilt),
        guids(&feed),
        "the same items after the rebuild"
    );
    // The replay published nothing and moved no other group: the social
    // consumer has nothing new to read, so its outbox cannot grow.
    assert_eq!(social_lag(&demo).await, social_before);
    let after = demo.get("/social/outbox.json", None).await.1;
    assert_eq!(posts(&after), posts(&outbox), "a replay posts nothing");

    // The CLI follows the same job to the end, from a time this time.
    let printed: JobStatus = cli_json(&demo, &["replay", "--from-time", "2000-01-01T00:00:00Z"]);
    assert_eq!(printed.state, JobState::Succeeded);
    assert_eq!(printed.kind, "replay");

    let both = serde_json::json!({ "from_offset": 0, "from_time": "2026-01-01T00:00:00Z" });
    let both = post(&demo, "/admin/feeds/replay", Some(TOKEN), Some(both)).await;
    assert_eq!(both.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_posts_a_skipped_review_on_purpose_once() {
    let demo = Demo::start().await;
    demo.until("/social/outbox.json", None, |o| {
        posts(o) >= SAMPLE_ITEMS * 3
    })
    .await;
    let skipped: Vec<SocialPost> = cli_json(&demo, &["social", "posts", "--status", "skipped"]);
    assert_eq!(
        skipped.len(),
        SAMPLE_ITEMS * 3,
        "the first read is back catalogue"
    );
    let review = skipped[0].review_id.clone();

    let posted: Vec<SocialPost> = cli_json(&demo, &["social", "post", &review]);
    assert_eq!(posted.len(), 3, "{posted:?}");
    assert!(posted.iter().all(|post| post.status == PostStatus::DryRun));

    let again = demo.cli(&["social", "post", &review]);
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("409") && said.contains("not skipped"),
        "{said}"
    );
    let unknown = demo.cli(&["social", "post", "no-such-review"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_report_their_health_and_backfill_as_a_job() {
    let demo = Demo::start_with(|settings| {
        let mut broken = settings.listings_ingest.sources[0].clone();
        broken.name = "gone-ics".to_owned();
        broken.url = broken.url.join("gone.ics").unwrap();
        settings.listings_ingest.sources.push(broken);
    })
    .await;
    let sources = |body: &str| serde_json::from_str::<Vec<SourceHealth>>(body).unwrap();
    let listings = demo
        .until("/admin/listings-ingest/sources", Some(TOKEN), |body| {
            sources(body).iter().all(|s| s.last_poll.is_some())
        })
        .await;
    let listings = sources(&listings);
    assert_eq!(listings.len(), 5);
    let bfi = listings
        .iter()
        .find(|s| s.name == "bfi-southbank-ics")
        .unwrap();
    assert_eq!(bfi.kind, "ics");
    assert!(bfi.last_success.is_some(), "{bfi:?}");
    assert!(bfi.items_seen > 0, "{bfi:?}");
    assert!(bfi.events_published > 0, "{bfi:?}");
    let gone = listings.iter().find(|s| s.name == "gone-ics").unwrap();
    assert!(gone.last_success.is_none(), "{gone:?}");
    assert!(
        gone.last_error.as_deref().unwrap().contains("404"),
        "{gone:?}"
    );
    assert_eq!(gone.rejected, 1);

    let reviews = demo
        .until("/admin/reviews-ingest/sources", Some(TOKEN), |body| {
            sources(body).iter().all(|s| s.last_success.is_some())
        })
        .await;
    let reviews = sources(&reviews);
    assert_eq!(reviews[0].name, "sample-cms-feed");
    assert_eq!(reviews[0].items_seen, SAMPLE_ITEMS as u64);

    let job = finished_job(
        &demo,
        "/admin/listings-ingest/backfill?source=bfi-southbank-ics",
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!((job.processed, job.total), (1, Some(1)));
    assert!(
        job.summary.as_deref().unwrap().starts_with("1 sources"),
        "{job:?}"
    );

    let backfill = "/admin/listings-ingest/backfill?source=nowhere";
    let unknown = post(&demo, backfill, Some(TOKEN), None).await;
    assert_eq!(unknown.status(), 404);

    let printed: JobStatus = cli_json(&demo, &["backfill", "reviews-ingest"]);
    assert_eq!(printed.state, JobState::Succeeded);
    let printed: Vec<SourceHealth> = cli_json(&demo, &["sources"]);
    assert_eq!(printed.len(), 6, "both services' sources");
}
