//! `/console/picks`: a schedule's editors' picks, each with the screenings
//! it matches in the coming week (a pick with none reaches no reader), and
//! forms to add one or remove one. Every change sends the whole list back
//! to the API, which checks it; a refusal comes back on the page with the
//! new pick as the editor typed it.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use marquee_admin::digest::{EditorPick, EditorPicksReport};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, back, render, schedule_names};
use crate::session::Session;
use crate::{ApiClient, ApiError, Console, encode};

const PAGE: &str = "/console/picks";

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    schedules: Vec<String>,
    schedule: String,
    picks: Vec<PickRow>,
    /// The add form's fields, kept after a refusal.
    draft: Draft,
}

/// One pick as the table shows it.
#[derive(Serialize)]
struct PickRow {
    title: String,
    year: Option<u16>,
    note: Option<String>,
    /// "Sunday 29 November 14:00, BFI Southbank"; none reaches no reader.
    screenings: Vec<String>,
}

/// A pick being added, as typed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Draft {
    #[serde(default)]
    title: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chosen {
    #[serde(default)]
    schedule: String,
    #[serde(flatten)]
    flash: Flash,
}

fn picks_path(schedule: &str) -> String {
    format!("/admin/digest/picks/{}", encode(schedule))
}

/// The page for `schedule` (the first one when empty).
async fn view(
    api: &ApiClient,
    schedule: String,
    flash: Flash,
    draft: Draft,
) -> Result<View, PageError> {
    let schedules = schedule_names(api).await?;
    let schedule = if schedule.is_empty() {
        schedules.first().cloned().unwrap_or_default()
    } else {
        schedule
    };
    let report: EditorPicksReport = api.get(&picks_path(&schedule)).await?;
    let picks = report
        .picks
        .into_iter()
        .map(|matches| PickRow {
            title: matches.pick.title,
            year: matches.pick.year,
            note: matches.pick.note,
            screenings: matches
                .screenings
                .iter()
                .map(|s| {
                    let when = s.starts_at_local.format("%A %-d %B %H:%M");
                    format!("{when}, {}", s.venue)
                })
                .collect(),
        })
        .collect();
    Ok(View {
        title: "Editors' picks",
        flash,
        schedules,
        schedule,
        picks,
        draft,
    })
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(chosen): Query<Chosen>,
) -> Result<Html<String>, PageError> {
    let view = view(&api, chosen.schedule, chosen.flash, Draft::default()).await?;
    render(&console, "picks.html", &view)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PickAction {
    Add,
    Remove,
}

#[derive(Deserialize)]
pub(crate) struct PickForm {
    schedule: String,
    action: PickAction,
    #[serde(flatten)]
    draft: Draft,
    /// The pick to remove, counting from 1.
    #[serde(default)]
    pick: usize,
}

/// Add or Remove: the list as stored now, changed, sent back whole.
pub(crate) async fn act(
    State(console): State<Console>,
    Session(api): Session,
    Form(form): Form<PickForm>,
) -> Result<Response, PageError> {
    let path = picks_path(&form.schedule);
    let stored: EditorPicksReport = api.get(&path).await?;
    let mut picks: Vec<EditorPick> = stored.picks.into_iter().map(|m| m.pick).collect();
    let done = match form.action {
        PickAction::Add => match pick_of(&form.draft) {
            Ok(pick) => {
                let done = format!("{} added", pick.title.trim());
                picks.push(pick);
                Ok(done)
            }
            Err(refusal) => Err(refusal),
        },
        PickAction::Remove if (1..=picks.len()).contains(&form.pick) => {
            let removed = picks.remove(form.pick - 1);
            Ok(format!("{} removed", removed.title))
        }
        PickAction::Remove => Err(format!("there is no pick {} to remove", form.pick)),
    };
    let refusal = match done {
        Ok(done) => match api.put_json::<EditorPicksReport>(&path, &picks).await {
            Ok(_) => {
                let to = format!("{PAGE}?schedule={}", encode(&form.schedule));
                return Ok(back(
                    &to,
                    Ok(format!("{done}: the next digest leads with the picks")),
                ));
            }
            Err(error) if error.is_unauthorized() => return Err(PageError::Login),
            Err(ApiError::Refused { message, .. }) => message,
            Err(error) => error.to_string(),
        },
        Err(refusal) => refusal,
    };
    let view = view(&api, form.schedule, Flash::error(refusal), form.draft).await?;
    Ok(render(&console, "picks.html", &view)?.into_response())
}

/// The pick `draft` asks for; the API checks the rest (blank title, year range).
fn pick_of(draft: &Draft) -> Result<EditorPick, String> {
    let year = draft.year.trim();
    let year = if year.is_empty() {
        None
    } else {
        Some(
            year.parse()
                .map_err(|_| format!("the year `{year}` is not a year such as 1968"))?,
        )
    };
    Ok(EditorPick {
        title: draft.title.clone(),
        year,
        note: Some(draft.note.clone()).filter(|note| !note.trim().is_empty()),
    })
}
