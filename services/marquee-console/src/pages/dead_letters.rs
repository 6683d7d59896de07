//! `/console/dead-letters`: the messages consumers gave up on, each with a
//! re-drive button.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, Response};
use marquee_admin::bus::{DeadLetter, DeadLetterQuery, Redriven};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, back, render};
use crate::Console;
use crate::session::Session;

/// Payloads are cut to this many characters in the table.
const PAYLOAD_CHARS: usize = 160;

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    letters: Vec<LetterRow>,
}

#[derive(Serialize)]
struct LetterRow {
    partition: i32,
    offset: i64,
    when: String,
    from: String,
    group: String,
    reason: String,
    payload: String,
}

impl From<DeadLetter> for LetterRow {
    fn from(letter: DeadLetter) -> Self {
        let or_blank = |value: Option<String>| value.unwrap_or_default();
        Self {
            partition: letter.partition,
            offset: letter.offset,
            when: letter.timestamp.map(super::instant).unwrap_or_default(),
            from: format!(
                "{} {}/{}",
                or_blank(letter.topic),
                or_blank(letter.original_partition),
                or_blank(letter.original_offset)
            ),
            group: or_blank(letter.group),
            reason: or_blank(letter.reason),
            payload: letter.payload.chars().take(PAYLOAD_CHARS).collect(),
        }
    }
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(flash): Query<Flash>,
) -> Result<Html<String>, PageError> {
    let letters: Vec<DeadLetter> = api
        .get_with(
            "/admin/bus/dead-letters",
            &DeadLetterQuery { limit: Some(500) },
        )
        .await?;
    let view = View {
        title: "Dead letters",
        flash,
        letters: letters.into_iter().map(LetterRow::from).collect(),
    };
    render(&console, "dead_letters.html", &view)
}

#[derive(Deserialize)]
pub(crate) struct RedriveForm {
    partition: i32,
    offset: i64,
}

pub(crate) async fn redrive(Session(api): Session, Form(form): Form<RedriveForm>) -> Response {
    let path = format!(
        "/admin/bus/dead-letters/{}/{}/redrive",
        form.partition, form.offset
    );
    let outcome = api.post::<Redriven>(&path).await.map(|answer| {
        format!(
            "dead letter {}/{} re-driven to {}",
            form.partition, form.offset, answer.redriven_to
        )
    });
    back("/console/dead-letters", outcome)
}
