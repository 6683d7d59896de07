//! `deploy/prometheus/alerts.yml`: promtool parses it and its unit tests
//! (`alerts.test.yml`) pass, and every metric, label and label value a rule
//! names is one a live `marquee up` serves on `/metrics`.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::TOKEN;
use common::process::{Marquee, config_on_port};
use marquee_test_support::free_port;
use serde::Deserialize;

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
}

fn promtool(args: &[&str]) {
    marquee_test_support::run_to_success(
        std::process::Command::new("promtool")
            .args(args)
            .current_dir(rules_dir()),
        "apt-get install prometheus, which has promtool (scripts/test does)",
    );
}

#[test]
fn promtool_parses_the_rules_and_their_unit_tests_pass() {
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "alerts.test.yml"]);
}

/// One series on `/metrics`: its name and labels.
type Series = (String, BTreeMap<String, String>);

/// Label matchers: each label's operator (`=`, `!=`, `=~`, `!~`) and value.
type Matchers = BTreeMap<String, (String, String)>;

/// The series of a Prometheus text exposition (comments skipped).
fn exposition(text: &str) -> Vec<Series> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let end = line.find(['{', ' ']).unwrap();
            let name = line[..end].to_owned();
            let labels = if line[end..].starts_with('{') {
                label_pairs(&line[end + 1..])
                    .into_iter()
                    .map(|(label, (_, value))| (label, value))
                    .collect()
            } else {
                BTreeMap::new()
            };
            (name, labels)
        })
        .collect()
}

/// `key="value", …}` read up to its closing brace (quotes and backslashes
/// escaped in values).
fn label_pairs(text: &str) -> Matchers {
    let mut pairs = Matchers::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none_or(|c| *c == '}') {
            return pairs;
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| c.is_alphanumeric() || *c == '_')).collect();
        let operator: String =
            std::iter::from_fn(|| chars.next_if(|c| "=!~".contains(*c))).collect();
        assert_eq!(chars.next(), Some('"'), "a label value in {text}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().unwrap()),
                '"' => break,
                c => value.push(c),
            }
        }
        pairs.insert(key, (operator, value));
    }
}

/// Words of `text` in `marquee_…` spelling, each with the label matchers
/// that follow it, if any.
fn selectors(expr: &str) -> Vec<(String, Matchers)> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("marquee_") {
        let after = &rest[start..];
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = after[..end].to_owned();
        let matchers = if after[end..].starts_with('{') {
            label_pairs(&after[end + 1..])
        } else {
            Default::default()
        };
        found.push((name, matchers));
        rest = &after[end..];
    }
    found
}

/// Label names a rule groups or matches by (`by (…)`, `on (…)`) or its
/// annotations print (`$labels.x`).
fn labels_used(expr: &str, annotations: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for keyword in [
        "by",
        "on",
        "without",
        "ignoring",
        "group_left",
        "group_right",
    ] {
        let mut rest = expr;
        while let Some(at) = rest.find(&format!("{keyword} (")) {
            let inside = &rest[at + keyword.len() + 2..];
            let close = inside.find(')').unwrap();
            used.extend(
                inside[..close]
                    .split(',')
                    .map(|label| label.trim().to_owned()),
            );
            rest = &inside[close..];
        }
    }
    for text in annotations.values() {
        for piece in text.split("$labels.").skip(1) {
            let end = piece
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(piece.len());
            used.insert(piece[..end].to_owned());
        }
    }
    used
}

#[derive(Deserialize)]
struct Rules {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
struct Group {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

const SENT_ONCE: &str = r#"marquee_digest_runs_total{schedule="always",status="sent"} 1"#;

#[tokio::test]
async fn alert_rules_name_only_series_a_live_process_serves() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config_on_port(data.path(), port);
    let marquee = Marquee::start(
        &config,
        &["up", "--data-dir", data.path().to_str().unwrap()],
        port,
        &[],
    );
    // Sources read (their freshness gauges), lag sampled, the scheduler ticked.
    marquee
        .wait_for("/metrics", |m| {
            [
                "marquee_source_last_success_timestamp_seconds{",
                "marquee_consumer_lag{",
                "marquee_digest_next_due_timestamp_seconds{",
            ]
            .iter()
            .all(|name| m.contains(name))
        })
        .await;
    // A schedule that sends even an empty digest, sent by hand (in the
    // background; past the freshness gate, as the sources may not all be
    // read yet) to the demo's no subscribers: it finishes at once, a
    // success, counted once.
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/admin/digest/schedules", marquee.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "name": "always", "cron": "0 9 * * MON", "time_zone": "Europe/London",
            "template": "weekly", "audience": "all", "send_when_empty": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let sent = client
        .post(format!(
            "{}/admin/digest/send/always?force=true",
            marquee.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());
    let text = marquee
        .wait_for("/metrics", |m| m.lines().any(|l| l == SENT_ONCE))
        .await;
    let live = exposition(&text);
    let serves = |name: &str, labels: &[(&str, &str)]| {
        live.iter().any(|(n, l)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
    };

    // The digest's series: every status of each schedule from zero, the
    // configured one and the one just created.
    for schedule in ["weekly", "always"] {
        for status in [
            "sent",
            "skipped",
            "held",
            "paused",
            "failed",
            "interrupted",
            "missed",
            "dry_run",
        ] {
            assert!(
                serves(
                    "marquee_digest_runs_total",
                    &[("schedule", schedule), ("status", status)]
                ),
                "no marquee_digest_runs_total{{schedule=\"{schedule}\",status=\"{status}\"}}"
            );
        }
    }
    for gauge in [
        "marquee_digest_last_success_timestamp_seconds",
        "marquee_digest_next_due_timestamp_seconds",
        "marquee_digest_schedule_paused",
    ] {
        assert!(serves(gauge, &[("schedule", "always")]), "no {gauge}");
    }
    assert!(serves(
        "marquee_digest_next_due_timestamp_seconds",
        &[("schedule", "weekly")]
    ));

    let rules: Rules =
        serde_yaml::from_str(&std::fs::read_to_string(rules_dir().join("alerts.yml")).unwrap())
            .unwrap();
    let mut checked = 0;
    for rule in rules.groups.iter().flat_map(|g| &g.rules) {
        let named = selectors(&rule.expr);
        assert!(!named.is_empty(), "{} names no marquee metric", rule.alert);
        let mut labels_served = BTreeSet::new();
        for (metric, matchers) in &named {
            let series: Vec<_> = live.iter().filter(|(n, _)| n == metric).collect();
            assert!(
                !series.is_empty(),
                "alert {} uses {metric}, which /metrics does not serve",
                rule.alert
            );
            for (label, (operator, value)) in matchers {
                let wanted = (operator == "=").then_some(value);
                assert!(
                    series
                        .iter()
                        .any(|(_, l)| l.get(label).is_some_and(|v| wanted.is_none_or(|w| v == w))),
                    "alert {} matches {metric}{{{label}{}\"{value}\"}}, which /metrics does not serve",
                    rule.alert,
                    operator
                );
            }
            labels_served.extend(series.iter().flat_map(|(_, l)| l.keys().cloned()));
            checked += 1;
        }
        for label in labels_used(&rule.expr, &rule.annotations) {
            assert!(
                labels_served.contains(&label),
                "alert {} uses the label {label}, which none of its metrics has on /metrics",
                rule.alert
            );
        }
    }
    assert!(checked >= 10, "checked {checked} metrics");
    marquee.stop();
}
