//! `/console/subscribers`: search, suppress, CSV export and import.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use marquee_admin::digest::{
    ImportReport, RejectedRow, Subscriber, SubscriberQuery, SubscriberStatus, Suppressed,
};
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, back, render};
use crate::session::Session;
use crate::{Console, encode};

const PAGE: &str = "/console/subscribers";

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    q: String,
    #[serde(flatten)]
    flash: Flash,
}

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    query: String,
    subscribers: Vec<SubscriberRow>,
}

#[derive(Serialize)]
struct SubscriberRow {
    email: String,
    status: &'static str,
    list: String,
    venues: String,
    min_rating: String,
    suppressible: bool,
}

impl From<Subscriber> for SubscriberRow {
    fn from(subscriber: Subscriber) -> Self {
        Self {
            status: subscriber.status.as_str(),
            suppressible: subscriber.status != SubscriberStatus::Suppressed,
            email: subscriber.email,
            list: subscriber.list,
            venues: subscriber.preferences.venues.join(", "),
            min_rating: subscriber
                .preferences
                .min_rating
                .map(|stars| stars.to_string())
                .unwrap_or_default(),
        }
    }
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(search): Query<Search>,
) -> Result<Html<String>, PageError> {
    let query = SubscriberQuery {
        q: search.q.clone(),
        limit: 100,
    };
    let found: Vec<Subscriber> = api.get_with("/admin/digest/subscribers", &query).await?;
    let view = View {
        title: "Subscribers",
        flash: search.flash,
        query: search.q,
        subscribers: found.into_iter().map(SubscriberRow::from).collect(),
    };
    render(&console, "subscribers.html", &view)
}

#[derive(Deserialize)]
pub(crate) struct EmailForm {
    email: String,
}

pub(crate) async fn suppress(Session(api): Session, Form(form): Form<EmailForm>) -> Response {
    let path = format!("/admin/digest/subscribers/{}/suppress", encode(&form.email));
    let outcome = api
        .post::<Suppressed>(&path)
        .await
        .map(|answer| format!("{} suppressed", answer.suppressed));
    back(&format!("{PAGE}?q={}", encode(&form.email)), outcome)
}

pub(crate) async fn export(Session(api): Session) -> Result<Response, PageError> {
    let csv = api
        .text(api.request(reqwest::Method::GET, "/admin/digest/subscribers.csv"))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"subscribers.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ImportForm {
    csv: String,
}

pub(crate) async fn import(Session(api): Session, Form(form): Form<ImportForm>) -> Response {
    let request = api
        .request(reqwest::Method::POST, "/admin/digest/subscribers.csv")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(form.csv);
    let outcome = api.call::<ImportReport>(request).await.map(|report| {
        let refusals: Vec<String> = report
            .rejected
            .iter()
            .map(|RejectedRow(line, reason)| format!("line {line}: {reason}"))
            .collect();
        format!(
            "{} imported, {} refused{}{}",
            report.imported,
            refusals.len(),
            if refusals.is_empty() { "" } else { ": " },
            refusals.join("; ")
        )
    });
    back(PAGE, outcome)
}
