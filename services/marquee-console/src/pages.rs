//! The console's pages, from the admin API's JSON. maud escapes every value.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use crate::{ApiError, encode};

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f5f2}
header{background:#1d1d1f;color:#fff;padding:.6em 1.5em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
header a{color:#f0e6c8;text-decoration:none}header strong{font-family:Georgia,serif;font-size:1.2em;margin-right:1em}
header form{margin-left:auto}main{max-width:72em;margin:1.5em auto;padding:0 1.5em}
h1{font-family:Georgia,serif;font-weight:normal}h2{font-size:1.05em;margin-top:1.8em}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e4e2dc;vertical-align:top}
th{background:#efede7;font-weight:600}.ok{background:#e3f3e6;padding:.6em 1em}.error{background:#fbe3e1;padding:.6em 1em}
.stale{color:#b3261e;font-weight:600}.fresh{color:#1b6e2d}.muted{color:#777}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(12em,1fr));gap:1em}
.card{background:#fff;padding:1em;border:1px solid #e4e2dc}.card b{display:block;font-size:1.8em}
form.inline{display:inline}input,select,textarea,button{font:inherit}button{cursor:pointer}
iframe{width:100%;height:70vh;border:1px solid #ccc;background:#fff}fieldset{background:#fff;border:1px solid #e4e2dc}
code{font-size:.9em}";

/// What the last action did.
pub(crate) struct Flash<'a> {
    pub ok: Option<&'a str>,
    pub error: Option<&'a str>,
}

fn layout(title: &str, flash: Option<&Flash<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Marquee console" }
                style { (STYLE) }
            }
            body {
                header {
                    strong { "Marquee" }
                    a href="/console/" { "Dashboard" }
                    a href="/console/calendar" { "Calendar" }
                    a href="/console/runs" { "Digest runs" }
                    a href="/console/preview" { "Preview" }
                    a href="/console/subscribers" { "Subscribers" }
                    a href="/console/sources" { "Sources & replay" }
                    a href="/console/dead-letters" { "Dead letters" }
                    form method="post" action="/console/logout" { button { "Log out" } }
                }
                main {
                    h1 { (title) }
                    @if let Some(flash) = flash {
                        @if let Some(ok) = flash.ok { p.ok role="status" { (ok) } }
                        @if let Some(error) = flash.error { p.error role="alert" { (error) } }
                    }
                    (body)
                }
            }
        }
    }
}

pub(crate) fn login(refused: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Log in — Marquee console" } style { (STYLE) } }
            body {
                main {
                    h1 { "Marquee console" }
                    @if let Some(reason) = refused { p.error role="alert" { (reason) } }
                    form method="post" action="/console/login" {
                        p { label { "Admin token " input type="password" name="token" autofocus; } }
                        button type="submit" { "Log in" }
                    }
                    p.muted { "Any of the " code { "[admin] tokens" } "; " code { "marquee up" } " accepts " code { "marquee-local-admin" } "." }
                }
            }
        }
    }
}

pub(crate) fn failure(message: &str) -> Markup {
    layout(
        "The admin API failed",
        None,
        html! { p.error { (message) } },
    )
}

pub(crate) fn frame_error(message: &str) -> Markup {
    html! { p style="font-family:sans-serif;color:#b3261e" { (message) } }
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// "12 min ago", "3 h ago", "2 days ago".
fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        0 => "just now".to_owned(),
        1..=119 => format!("{minutes} min ago"),
        120..=2879 => format!("{} h ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}

/// Sources older than this are shown as stale.
const STALE_AFTER_HOURS: i64 = 24;

fn source_rows(sources: &Value, now: DateTime<Utc>, service: Option<&str>) -> Markup {
    html! {
        @for source in sources.as_array().into_iter().flatten() {
            @let success = time(&source["last_success"]);
            @let stale = success.is_none_or(|t| (now - t).num_hours() >= STALE_AFTER_HOURS);
            tr {
                td { (text(&source["name"])) }
                td { (text(&source["kind"])) }
                td class=(if stale { "stale" } else { "fresh" }) {
                    @match success { Some(t) => (age(t, now)), None => "never read" }
                }
                td { (text(&source["items_seen"])) }
                td { (text(&source["rejected"])) }
                td.muted { (text(&source["last_error"])) }
                @if let Some(service) = service {
                    td {
                        form.inline method="post" action="/console/backfill" {
                            input type="hidden" name="service" value=(service);
                            input type="hidden" name="source" value=(text(&source["name"]));
                            button { "Backfill" }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) struct Dashboard {
    pub sources: Vec<Result<Value, ApiError>>,
    pub lag: Result<Value, ApiError>,
    pub runs: Result<Value, ApiError>,
    pub dead_letters: Result<usize, ApiError>,
    pub now: DateTime<Utc>,
}

pub(crate) fn dashboard(view: &Dashboard) -> Markup {
    let mut lag_by_group: BTreeMap<String, i64> = BTreeMap::new();
    if let Ok(lag) = &view.lag {
        for row in lag.as_array().into_iter().flatten() {
            *lag_by_group.entry(text(&row["group"])).or_default() +=
                row["lag"].as_i64().unwrap_or(0);
        }
    }
    let total_lag: i64 = lag_by_group.values().sum();
    html! {
        @let body = html! {
            div.cards {
                div.card { "Dead letters" b id="dead-letter-count" { @match &view.dead_letters { Ok(n) => (n), Err(e) => span.error { (e.to_string()) } } } }
                div.card { "Consumer lag (messages)" b { (total_lag) } }
                div.card { "Recent digest runs" b { (view.runs.as_ref().ok().and_then(Value::as_array).map_or(0, Vec::len)) } }
            }
            h2 { "Source freshness" }
            table id="sources" {
                tr { th { "Source" } th { "Kind" } th { "Last read" } th { "Items seen" } th { "Rejected" } th { "Last error" } }
                @for sources in &view.sources {
                    @match sources {
                        Ok(sources) => (source_rows(sources, view.now, None)),
                        Err(error) => tr { td colspan="6" .error { (error.to_string()) } },
                    }
                }
            }
            h2 { "Consumer lag" }
            @match &view.lag {
                Ok(_) => table {
                    tr { th { "Group" } th { "Behind" } }
                    @for (group, lag) in &lag_by_group { tr { td { (group) } td { (lag) } } }
                },
                Err(error) => p.error { (error.to_string()) },
            }
            h2 { "Recent digest runs" }
            @match &view.runs {
                Ok(runs) => (run_table(runs, false)),
                Err(error) => p.error { (error.to_string()) },
            }
        };
        (layout("Pipeline health", None, body))
    }
}

fn run_table(runs: &Value, actions: bool) -> Markup {
    html! {
        table id="runs" {
            tr { th { "Schedule" } th { "Due" } th { "Kind" } th { "Status" } th { "Sent" } th { "Pending" } th { "Failed" } th { "Note" } @if actions { th {} } }
            @for report in runs.as_array().into_iter().flatten() {
                @let run = &report["run"];
                @let status = text(&run["status"]);
                tr {
                    td { (text(&run["schedule"])) }
                    td { (text(&run["scheduled_for"])) }
                    td { (text(&run["kind"])) }
                    td { (status) }
                    td { (text(&report["counts"]["sent"])) }
                    td { (text(&report["counts"]["pending"])) }
                    td { (text(&report["counts"]["failed"])) }
                    td.muted { (text(&run["note"])) }
                    @if actions {
                        td {
                            @if status == "sending" || status == "paused" {
                                form.inline method="post" action="/console/runs/toggle" {
                                    input type="hidden" name="run" value=(text(&run["id"]));
                                    @if status == "sending" {
                                        button name="action" value="pause" { "Pause" }
                                    } @else {
                                        button name="action" value="resume" { "Resume" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn calendar(schedules: &Value, flash: &Flash<'_>) -> Markup {
    // Next runs by local day, as readers' inboxes will see them.
    let mut days: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for schedule in schedules.as_array().into_iter().flatten() {
        for run in schedule["next_runs"].as_array().into_iter().flatten() {
            let local = text(&run["local"]);
            if let Ok(at) = DateTime::parse_from_rfc3339(&local) {
                days.entry(at.format("%Y-%m-%d").to_string())
                    .or_default()
                    .push((
                        at.format("%H:%M").to_string(),
                        text(&schedule["name"]),
                        text(&schedule["time_zone"]),
                    ));
            }
        }
    }
    let body = html! {
        h2 { "Next runs, in each schedule's local time" }
        table id="calendar" {
            tr { th { "Day" } th { "Runs" } }
            @for (day, runs) in &days {
                @let label = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_or(day.clone(), |d| d.format("%a %-d %b %Y").to_string());
                tr {
                    td { (label) }
                    td { @for (at, name, zone) in runs { div { b { (at) } " " (name) " " span.muted { "(" (zone) ")" } } } }
                }
            }
        }
        h2 { "Schedules" }
        table id="schedules" {
            tr { th { "Name" } th { "Cron" } th { "Time zone" } th { "Audience" } th { "Freshness gate" } th { "State" } th {} }
            @for schedule in schedules.as_array().into_iter().flatten() {
                @let name = text(&schedule["name"]);
                @let paused = schedule["paused"].as_bool().unwrap_or(false);
                tr {
                    td { (name) }
                    td { code { (text(&schedule["cron"])) } }
                    td { (text(&schedule["time_zone"])) }
                    td { (text(&schedule["audience"])) }
                    td { @match schedule["max_source_age_secs"].as_u64() { Some(s) => { (s / 3600) " h" }, None => span.muted { "off" } } }
                    td { @if paused { span.stale { "paused" } } @else { "active" } }
                    td {
                        form.inline method="post" action="/console/schedules/toggle" {
                            input type="hidden" name="name" value=(name);
                            @if paused { button name="action" value="resume" { "Resume" } } @else { button name="action" value="pause" { "Pause" } }
                        }
                        " "
                        form.inline method="post" action="/console/digest/send" {
                            input type="hidden" name="schedule" value=(name);
                            button name="action" value="dry-run" { "Dry run" }
                            " "
                            button name="action" value="send" { "Send now" }
                        }
                        " "
                        a href={ "/console/preview?schedule=" (encode(&name)) } { "Preview" }
                    }
                }
            }
        }
        h2 { "Create or update a schedule" }
        form method="post" action="/console/schedules" {
            fieldset {
                p { label { "Name " input name="name" required; } " " label { "Cron " input name="cron" placeholder="30 8 * * THU" required; } }
                p { label { "Time zone " input name="time_zone" value="Europe/London"; } " " label { "Template " input name="template" value="weekly"; } " " label { "Audience " input name="audience" value="all"; } }
                p { label { "Hold if a source is older than (hours, blank for no gate) " input name="max_source_age_hours" size="4"; } " " label { input type="checkbox" name="send_when_empty"; " send when empty" } }
                button name="action" value="create" { "Create" } " " button name="action" value="update" { "Update" }
            }
        }
    };
    layout("Digest calendar", Some(flash), body)
}

pub(crate) fn runs(runs: &Value, schedules: &Value, flash: &Flash<'_>) -> Markup {
    let body = html! {
        form method="post" action="/console/digest/send" {
            label { "Schedule " select name="schedule" {
                @for schedule in schedules.as_array().into_iter().flatten() { option { (text(&schedule["name"])) } }
            } }
            " " button name="action" value="dry-run" { "Dry run" }
            " " button name="action" value="send" { "Send now" }
            " " button name="action" value="force" { "Send, skipping the freshness gate" }
        }
        h2 { "Runs" }
        (run_table(runs, true))
    };
    layout("Digest runs", Some(flash), body)
}

pub(crate) fn preview(schedules: &Value, schedule: &str, email: &str) -> Markup {
    let names: Vec<String> = schedules
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| text(&s["name"]))
        .collect();
    let chosen = if schedule.is_empty() {
        names.first().cloned().unwrap_or_default()
    } else {
        schedule.to_owned()
    };
    let body = html! {
        form method="get" action="/console/preview" {
            label { "Schedule " select name="schedule" {
                @for name in &names { option selected[*name == chosen] { (name) } }
            } }
            " " label { "As subscriber " input type="email" name="email" value=(email) placeholder="reader@example.org"; }
            " " button { "Show" }
        }
        p.muted { @if email.is_empty() { "As a reader without preferences would see it now." } @else { "As " (email) " would see it now, with their preferences." } }
        iframe id="preview" title="Digest preview" sandbox=""
            src={ "/console/preview/frame?schedule=" (encode(&chosen)) "&email=" (encode(email)) } {}
    };
    layout("Digest preview", None, body)
}

pub(crate) fn subscribers(found: &Value, query: &str, flash: &Flash<'_>) -> Markup {
    let body = html! {
        form method="get" action="/console/subscribers" {
            label { "Address contains " input type="search" name="q" value=(query); }
            " " button { "Search" }
            " " a href="/console/subscribers.csv" { "Export all as CSV" }
        }
        table id="subscribers" {
            tr { th { "Email" } th { "Status" } th { "List" } th { "Venues" } th { "Min rating" } th {} }
            @for subscriber in found.as_array().into_iter().flatten() {
                @let email = text(&subscriber["email"]);
                @let status = text(&subscriber["status"]);
                tr {
                    td { (email) }
                    td { (status) }
                    td { (text(&subscriber["list"])) }
                    td { (subscriber["preferences"]["venues"].as_array().map(|v| v.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                    td { (text(&subscriber["preferences"]["min_rating"])) }
                    td { @if status != "suppressed" {
                        form.inline method="post" action="/console/subscribers/suppress" {
                            input type="hidden" name="email" value=(email);
                            button { "Suppress" }
                        }
                    } }
                }
            }
        }
        h2 { "Import" }
        form method="post" action="/console/subscribers/import" {
            p.muted { "CSV with the export's columns: " code { "email,status,list,venues,formats,min_rating" } }
            textarea name="csv" rows="6" cols="80" { "email\n" }
            p { button { "Import" } }
        }
    };
    layout("Subscribers", Some(flash), body)
}

pub(crate) fn sources(services: &[(&str, Value)], now: DateTime<Utc>, flash: &Flash<'_>) -> Markup {
    let body = html! {
        @for (service, sources) in services {
            h2 { (service) }
            table {
                tr { th { "Source" } th { "Kind" } th { "Last read" } th { "Items seen" } th { "Rejected" } th { "Last error" } th {} }
                (source_rows(sources, now, Some(service)))
            }
            form method="post" action="/console/backfill" {
                input type="hidden" name="service" value=(service);
                p { button { "Backfill every " (service) " source" } }
            }
        }
        h2 { "Replay the feeds" }
        form method="post" action="/console/replay" {
            fieldset {
                p.muted { "Rebuilds RSS, Atom, JSON Feed and calendars from the event log. Sends no mail and posts nothing." }
                p { label { "From offset " input name="from_offset" size="6"; } " or " label { "from time " input name="from_time" placeholder="2026-11-01T00:00:00Z"; } " (blank: the beginning)" }
                p { label { input type="checkbox" name="rebuild"; " empty the feeds first" } }
                button { "Replay" }
            }
        }
    };
    layout("Sources and replay", Some(flash), body)
}

pub(crate) fn job(service: &str, job: &Value) -> Markup {
    let running = job["state"] == "running";
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if running { meta http-equiv="refresh" content="1"; }
                title { "Job — Marquee console" }
                style { (STYLE) }
            }
            body { main {
                h1 { (text(&job["kind"])) " on " (service) }
                p id="job-state" { "State: " b { (text(&job["state"])) } }
                p { (text(&job["processed"])) " of " @if job["total"].is_null() { "?" } @else { (text(&job["total"])) } }
                @if let Some(summary) = job["summary"].as_str() { p.ok { (summary) } }
                @if let Some(error) = job["error"].as_str() { p.error { (error) } }
                p { a href="/console/sources" { "Back to sources" } }
            } }
        }
    }
}

pub(crate) fn dead_letters(letters: &Value, flash: &Flash<'_>) -> Markup {
    let body = html! {
        p.muted { "Messages a consumer gave up on. Fix the cause, then re-drive: handlers are idempotent, so groups that had handled one change nothing." }
        table id="dead-letters" {
            tr { th { "Where" } th { "When" } th { "From" } th { "Group" } th { "Reason" } th { "Payload" } th {} }
            @for letter in letters.as_array().into_iter().flatten() {
                tr {
                    td { (text(&letter["partition"])) "/" (text(&letter["offset"])) }
                    td { (text(&letter["timestamp"])) }
                    td { (text(&letter["topic"])) " " (text(&letter["original_partition"])) "/" (text(&letter["original_offset"])) }
                    td { (text(&letter["group"])) }
                    td { (text(&letter["reason"])) }
                    td { code { (text(&letter["payload"]).chars().take(160).collect::<String>()) } }
                    td {
                        form.inline method="post" action="/console/dead-letters/redrive" {
                            input type="hidden" name="partition" value=(text(&letter["partition"]));
                            input type="hidden" name="offset" value=(text(&letter["offset"]));
                            button { "Re-drive" }
                        }
                    }
                }
            }
        }
        @if letters.as_array().is_none_or(Vec::is_empty) { p { "No dead letters." } }
    };
    layout("Dead letters", Some(flash), body)
}
