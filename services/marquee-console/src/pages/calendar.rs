//! `/console/calendar`: the next runs by local day, the schedules with
//! pause/resume, dry run and send, and the form that creates or updates one.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, Response};
use chrono::DateTime;
use marquee_admin::digest::{SchedulePaused, ScheduleReport, ScheduleSettings};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, Toggle, back, render};
use crate::session::Session;
use crate::{ApiError, Console, encode};

const PAGE: &str = "/console/calendar";

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    days: Vec<Day>,
    schedules: Vec<ScheduleRow>,
}

/// One local day and the runs due on it.
#[derive(Serialize)]
struct Day {
    label: String,
    runs: Vec<DayRun>,
}

#[derive(Serialize)]
struct DayRun {
    at: String,
    schedule: String,
    zone: String,
}

#[derive(Serialize)]
struct ScheduleRow {
    name: String,
    preview: String,
    cron: String,
    time_zone: String,
    audience: String,
    /// The freshness gate in hours, if there is one.
    gate_hours: Option<u64>,
    paused: bool,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(flash): Query<Flash>,
) -> Result<Html<String>, PageError> {
    let schedules: Vec<ScheduleReport> = api.get("/admin/digest/schedules").await?;
    // Next runs by local day, as readers' inboxes will see them.
    let mut days: BTreeMap<String, Vec<DayRun>> = BTreeMap::new();
    for schedule in &schedules {
        for run in &schedule.next_runs {
            if let Ok(at) = DateTime::parse_from_rfc3339(&run.local) {
                days.entry(at.format("%Y-%m-%d").to_string())
                    .or_default()
                    .push(DayRun {
                        at: at.format("%H:%M").to_string(),
                        schedule: schedule.settings.name.clone(),
                        zone: schedule.settings.time_zone.clone(),
                    });
            }
        }
    }
    let view = View {
        title: "Digest calendar",
        flash,
        days: days
            .into_iter()
            .map(|(day, runs)| Day {
                label: chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                    .map_or(day, |d| d.format("%a %-d %b %Y").to_string()),
                runs,
            })
            .collect(),
        schedules: schedules
            .iter()
            .map(|report| {
                let settings = &report.settings;
                ScheduleRow {
                    name: settings.name.clone(),
                    preview: format!("/console/preview?schedule={}", encode(&settings.name)),
                    cron: settings.cron.clone(),
                    time_zone: settings.time_zone.clone(),
                    audience: settings.audience.clone(),
                    gate_hours: settings.max_source_age_secs.map(|secs| secs / 3600),
                    paused: report.paused,
                }
            })
            .collect(),
    };
    render(&console, "calendar.html", &view)
}

/// Which of the form's buttons was pressed.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SaveAction {
    /// A new schedule.
    Create,
    /// New settings for an existing one.
    Update,
}

#[derive(Deserialize)]
pub(crate) struct ScheduleForm {
    name: String,
    cron: String,
    time_zone: String,
    template: String,
    audience: String,
    #[serde(default)]
    send_when_empty: Option<String>,
    #[serde(default)]
    max_source_age_hours: String,
    action: SaveAction,
}

pub(crate) async fn save(Session(api): Session, Form(form): Form<ScheduleForm>) -> Response {
    let max_source_age_secs = match form.max_source_age_hours.trim() {
        "" => None,
        hours => match hours.parse::<u64>() {
            Ok(hours) => Some(hours * 3600),
            Err(_) => {
                return back(
                    PAGE,
                    Err(ApiError::Refused {
                        status: 422,
                        message: format!("max source age must be whole hours, not {hours:?}"),
                    }),
                );
            }
        },
    };
    let name = form.name.trim().to_owned();
    let settings = ScheduleSettings {
        name: name.clone(),
        cron: form.cron.trim().to_owned(),
        time_zone: form.time_zone.trim().to_owned(),
        template: form.template.trim().to_owned(),
        audience: form.audience.trim().to_owned(),
        send_when_empty: form.send_when_empty.is_some(),
        max_source_age_secs,
    };
    let saved: Result<Vec<ScheduleReport>, ApiError> = match form.action {
        SaveAction::Update => {
            let path = format!("/admin/digest/schedules/{}", encode(&name));
            api.put_json(&path, &settings).await
        }
        SaveAction::Create => api.post_json("/admin/digest/schedules", &settings).await,
    };
    back(PAGE, saved.map(|_| format!("schedule {name} saved")))
}

#[derive(Deserialize)]
pub(crate) struct ToggleForm {
    name: String,
    action: Toggle,
}

pub(crate) async fn toggle(Session(api): Session, Form(form): Form<ToggleForm>) -> Response {
    let path = form.action.path("/admin/digest/schedules", &form.name);
    let outcome = api.post::<SchedulePaused>(&path).await.map(|answer| {
        format!(
            "schedule {}: {}",
            answer.schedule,
            if answer.paused { "paused" } else { "resumed" }
        )
    });
    back(PAGE, outcome)
}
