//! `/console/runs`: send a digest now (or dry-run it), and the runs with
//! pause/resume.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, Response};
use marquee_admin::digest::{
    DryRunReport, RunPaused, RunReport, RunResuming, RunsQuery, SendAccepted, SendQuery,
};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, RunRow, Toggle, back, render, schedule_names};
use crate::session::Session;
use crate::{Console, encode};

const PAGE: &str = "/console/runs";

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    schedules: Vec<String>,
    runs: Vec<RunRow>,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(flash): Query<Flash>,
) -> Result<Html<String>, PageError> {
    let (runs, schedules) = tokio::join!(
        api.get_with::<Vec<RunReport>>("/admin/digest/runs", &RunsQuery { limit: 50 }),
        schedule_names(&api),
    );
    let view = View {
        title: "Digest runs",
        flash,
        schedules: schedules?,
        runs: runs?.iter().map(RunRow::new).collect(),
    };
    render(&console, "runs.html", &view)
}

/// Which send button was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SendAction {
    /// Compose for everyone and report; send nothing.
    DryRun,
    /// Send now, unless the freshness gate holds it.
    Send,
    /// Send now past the freshness gate.
    Force,
}

#[derive(Deserialize)]
pub(crate) struct SendForm {
    schedule: String,
    action: SendAction,
}

pub(crate) async fn send(Session(api): Session, Form(form): Form<SendForm>) -> Response {
    let schedule = encode(&form.schedule);
    let outcome = match form.action {
        SendAction::DryRun => api
            .post::<DryRunReport>(&format!("/admin/digest/dry-run/{schedule}"))
            .await
            .map(|r| {
                format!(
                    "dry run of {}: {} recipients, {} would get it, {} reviews, {} screenings; nothing sent",
                    r.schedule, r.recipients, r.would_send, r.reviews, r.screenings
                )
            }),
        action => {
            let query = SendQuery {
                force: action == SendAction::Force,
            };
            let request = api
                .request(reqwest::Method::POST, &format!("/admin/digest/send/{schedule}"))
                .query(&query);
            api.call::<SendAccepted>(request).await.map(|r| {
                let note = Some(r.note.as_str())
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                format!("run {} of {}: {}{note}", r.run, form.schedule, r.status)
            })
        }
    };
    back(PAGE, outcome)
}

#[derive(Deserialize)]
pub(crate) struct RunForm {
    run: String,
    action: Toggle,
}

pub(crate) async fn toggle(Session(api): Session, Form(form): Form<RunForm>) -> Response {
    let path = form.action.path("/admin/digest/runs", &form.run);
    let outcome = match form.action {
        Toggle::Pause => api
            .post::<RunPaused>(&path)
            .await
            .map(|answer| format!("run {}: pause", answer.paused)),
        Toggle::Resume => api
            .post::<RunResuming>(&path)
            .await
            .map(|answer| format!("run {}: resume", answer.resuming)),
    };
    back(PAGE, outcome)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{DateTime, Utc};
    use marquee_admin::digest::{DeliveryCounts, Run, RunKind, RunStatus};

    use super::*;

    fn report(status: RunStatus) -> RunReport {
        let at = DateTime::parse_from_rfc3339("2026-11-26T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        RunReport {
            run: Run {
                id: "r1".to_owned(),
                schedule: "weekly".to_owned(),
                scheduled_for: at,
                kind: RunKind::CatchUp,
                status,
                reviews_since: at,
                created_at: at,
                finished_at: None,
                note: "paused by an operator".to_owned(),
            },
            counts: DeliveryCounts {
                sent: 3,
                pending: 2,
                ..DeliveryCounts::default()
            },
        }
    }

    fn page(runs: &[RunReport]) -> String {
        let view = View {
            title: "Digest runs",
            flash: Flash::default(),
            schedules: vec!["weekly".to_owned()],
            runs: runs.iter().map(RunRow::new).collect(),
        };
        super::super::templates()
            .get_template("runs.html")
            .unwrap()
            .render(&view)
            .unwrap()
    }

    #[test]
    fn a_run_shows_its_fields_and_the_action_its_status_allows() {
        let html = page(&[report(RunStatus::Paused)]);
        for cell in [
            r#"<td class="schedule">weekly</td>"#,
            r#"<td class="due">2026-11-26 08:30 UTC</td>"#,
            r#"<td class="kind">catch_up</td>"#,
            r#"<td class="status">paused</td>"#,
            r#"<td class="note muted">paused by an operator</td>"#,
            r#"<button name="action" value="resume">Resume</button>"#,
        ] {
            assert!(html.contains(cell), "{cell} missing from {html}");
        }
        let sending = page(&[report(RunStatus::Sending)]);
        assert!(
            sending.contains(r#"value="pause">Pause</button>"#),
            "{sending}"
        );
        let sent = page(&[report(RunStatus::Sent)]);
        assert!(!sent.contains("runs/toggle"), "{sent}");
    }
}
