//! `/console/preview`: the digest as any subscriber would get it now, in a
//! sandboxed frame.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use marquee_admin::digest::PreviewQuery;
use serde::{Deserialize, Serialize};

use super::{PageError, render, schedule_names};
use crate::session::Session;
use crate::{Console, encode};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chosen {
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    email: String,
}

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Option<()>,
    schedules: Vec<String>,
    chosen: String,
    email: String,
    frame: String,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(query): Query<Chosen>,
) -> Result<Html<String>, PageError> {
    let schedules = schedule_names(&api).await?;
    let chosen = if query.schedule.is_empty() {
        schedules.first().cloned().unwrap_or_default()
    } else {
        query.schedule
    };
    let view = View {
        title: "Digest preview",
        flash: None,
        frame: format!(
            "/console/preview/frame?schedule={}&email={}",
            encode(&chosen),
            encode(&query.email)
        ),
        schedules,
        chosen,
        email: query.email,
    };
    render(&console, "preview.html", &view)
}

/// The digest as the API renders it, for the preview's sandboxed frame.
pub(crate) async fn frame(
    Session(api): Session,
    Query(query): Query<Chosen>,
) -> Result<Response, PageError> {
    let email = Some(query.email.trim().to_owned()).filter(|e| !e.is_empty());
    let request = api
        .request(
            reqwest::Method::GET,
            &format!("/admin/digest/preview/{}", encode(&query.schedule)),
        )
        .query(&PreviewQuery { email });
    let html = api.text(request).await?;
    // The digest is the publication's HTML; the frame runs nothing of it.
    Ok((
        [(
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'",
        )],
        Html(html),
    )
        .into_response())
}
