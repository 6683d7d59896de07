//! HTTP: the feeds with conditional GET, and an autodiscovery index page.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use marquee_runtime::error::{HtmlError, HttpError};
use serde::Serialize;

use crate::cache::{Encoding, Representation};
use crate::listings::CALENDAR_EXTENSION;
use crate::render::{Format, Site};
use crate::settings::FeedDefinition;
use crate::{Document, FeedsService, templates};

/// Feed readers poll; five minutes keeps them and shared caches polite
/// while a new review still shows up quickly.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=300");

pub(crate) fn router(service: FeedsService) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feeds/{file}", document_route(review_feed))
        .route("/venues/{file}", document_route(venue))
        .route("/strands/{file}", document_route(strand))
        .route("/repertory/{file}", document_route(repertory))
        .route("/calendars/{file}", document_route(calendar))
        .with_state(service)
}

async fn index(State(service): State<FeedsService>) -> Result<Response, HtmlError> {
    let venues = service
        .inner
        .store
        .venues()
        .await
        .map_err(|error| HttpError::from(error).page())?;
    let page = index_page(&service.inner.site, &service.inner.settings.feeds, &venues)
        .map_err(|error| HttpError::from(anyhow::Error::from(error)).page())?;
    Ok(([(header::CACHE_CONTROL, CACHE_CONTROL)], Html(page)).into_response())
}

/// Splits `name.ext`; the extension must be one of `extensions`.
fn split<'a>(file: &'a str, extensions: &[&'static str]) -> Option<(&'a str, &'static str)> {
    let (stem, extension) = file.rsplit_once('.')?;
    let extension = extensions.iter().find(|e| **e == extension)?;
    Some((stem, extension))
}

const FEED_EXTENSIONS: [&str; 3] = ["rss", "atom", "json"];
const VENUE_EXTENSIONS: [&str; 4] = ["rss", "atom", "json", CALENDAR_EXTENSION];

/// What a document route reads from the file name in its path: the
/// document and the extension of the format asked for.
type Parse = fn(&FeedsService, &str) -> Option<(Document, &'static str)>;

/// A route serving the document `parse` reads from `{file}`.
fn document_route(parse: Parse) -> MethodRouter<FeedsService> {
    get(
        move |State(service): State<FeedsService>, Path(file): Path<String>, headers: HeaderMap| async move {
            let document = parse(&service, &file);
            serve(&service, document, &headers).await
        },
    )
}

fn review_feed(service: &FeedsService, file: &str) -> Option<(Document, &'static str)> {
    let (slug, extension) = split(file, &FEED_EXTENSIONS)?;
    let feed = service.feed(slug)?;
    Some((Document::Reviews(feed.slug.clone()), extension))
}

fn venue(_: &FeedsService, file: &str) -> Option<(Document, &'static str)> {
    split(file, &VENUE_EXTENSIONS)
        .map(|(id, extension)| (Document::Venue(id.to_owned()), extension))
}

fn strand(_: &FeedsService, file: &str) -> Option<(Document, &'static str)> {
    split(file, &FEED_EXTENSIONS)
        .map(|(slug, extension)| (Document::Strand(slug.to_owned()), extension))
}

fn repertory(_: &FeedsService, file: &str) -> Option<(Document, &'static str)> {
    split(file, &FEED_EXTENSIONS)
        .filter(|(stem, _)| *stem == "this-week")
        .map(|(_, extension)| (Document::ThisWeek, extension))
}

fn calendar(_: &FeedsService, file: &str) -> Option<(Document, &'static str)> {
    split(file, &[CALENDAR_EXTENSION])
        .filter(|(stem, _)| *stem == "all")
        .map(|(_, extension)| (Document::AllCalendar, extension))
}

/// `GET` (and `HEAD`, which axum answers from the same handler without the
/// body) of one format of a document, with conditional GET and compression.
async fn serve(
    service: &FeedsService,
    document: Option<(Document, &'static str)>,
    request_headers: &HeaderMap,
) -> Response {
    let Some((document, extension)) = document else {
        count("unknown", "unknown", "404");
        return not_found();
    };
    let label = document.label();
    let rendered = match service.rendered(&document).await {
        Ok(Some(rendered)) => rendered,
        Ok(None) => {
            count("unknown", extension, "404");
            return not_found();
        }
        Err(error) => {
            tracing::error!(document = %label, "Could not render a document");
            count(&label, extension, "503");
            return HttpError::from(error).into_response();
        }
    };
    let Some(representation) = rendered.get(extension) else {
        count("unknown", extension, "404");
        return not_found();
    };
    let encoding = Encoding::negotiate(
        request_headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let mut headers = HeaderMap::with_capacity(7);
    headers.insert(header::ETAG, representation.etag(encoding).clone());
    headers.insert(header::CACHE_CONTROL, CACHE_CONTROL);
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(last_modified) = &representation.last_modified {
        headers.insert(header::LAST_MODIFIED, last_modified.clone());
    }
    if not_modified(request_headers, representation) {
        count(&label, extension, "304");
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let body = match representation.encoded(encoding) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(document = %label, error = format!("{error:#}"), "Could not compress a document");
            count(&label, extension, "500");
            return HttpError::from(error).into_response();
        }
    };
    headers.insert(header::CONTENT_TYPE, content_type(extension));
    if let Some(coding) = encoding.content_encoding() {
        headers.insert(header::CONTENT_ENCODING, coding);
    }
    count(&label, extension, "200");
    (StatusCode::OK, headers, body).into_response()
}

/// What a URL outside the feeds answers.
fn not_found() -> Response {
    HttpError::not_found("no feed or calendar at this address; the index at / lists them")
        .into_response()
}

/// RFC 9110 §13.2.2: If-None-Match decides when present; otherwise
/// If-Modified-Since, at the one-second resolution of HTTP dates.
fn not_modified(request: &HeaderMap, representation: &Representation) -> bool {
    if let Some(if_none_match) = request.get(header::IF_NONE_MATCH) {
        return if_none_match
            .to_str()
            .is_ok_and(|tags| representation.matches(tags));
    }
    let since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
    match (since, representation.modified_at) {
        (Some(since), Some(modified)) => {
            modified.timestamp() <= since.with_timezone(&Utc).timestamp()
        }
        _ => false,
    }
}

fn content_type(extension: &str) -> HeaderValue {
    HeaderValue::from_static(match Format::from_extension(extension) {
        Some(Format::Rss) => "application/rss+xml; charset=utf-8",
        Some(Format::Atom) => "application/atom+xml; charset=utf-8",
        Some(Format::Json) => "application/feed+json; charset=utf-8",
        None => "text/calendar; charset=utf-8",
    })
}

fn count(feed: &str, format: &str, status: &'static str) {
    metrics::counter!(
        "marquee_feed_requests_total",
        "feed" => feed.to_owned(),
        "format" => format.to_owned(),
        "status" => status,
    )
    .increment(1);
}

/// One document on the index page: its feeds (also autodiscovery links)
/// and its calendar.
#[derive(Debug, Serialize)]
struct IndexEntry {
    title: String,
    description: String,
    feeds: Vec<IndexLink>,
    calendars: Vec<IndexLink>,
}

/// A link to one format of a document.
#[derive(Debug, Serialize)]
struct IndexLink {
    href: String,
    media_type: &'static str,
    name: &'static str,
}

/// The index page: every review feed, the this-week feed and every venue's
/// feeds and calendar, with autodiscovery links for the feeds in the head.
pub(crate) fn index_page(
    site: &Site,
    feeds: &[FeedDefinition],
    venues: &[(String, String)],
) -> Result<String, minijinja::Error> {
    let entry =
        |folder: &str, name: &str, title: String, description: String, calendar: bool| IndexEntry {
            title,
            description,
            feeds: Format::ALL
                .into_iter()
                .map(|format| IndexLink {
                    href: site.document_url(folder, name, format.extension()).into(),
                    media_type: format.media_type(),
                    name: format.name(),
                })
                .collect(),
            calendars: calendar
                .then(|| IndexLink {
                    href: site.document_url(folder, name, CALENDAR_EXTENSION).into(),
                    media_type: "text/calendar",
                    name: "iCalendar",
                })
                .into_iter()
                .collect(),
        };
    let mut entries: Vec<IndexEntry> = feeds
        .iter()
        .map(|feed| {
            let (title, description) = (feed.title.clone(), feed.description.clone());
            entry("feeds", feed.slug.as_str(), title, description, false)
        })
        .collect();
    entries.push(entry(
        "repertory",
        "this-week",
        "This week in repertory".to_owned(),
        "Repertory screenings in the next seven days.".to_owned(),
        false,
    ));
    entries.extend(venues.iter().map(|(id, name)| {
        let title = format!("{name}: screenings");
        entry(
            "venues",
            id,
            title,
            format!("Repertory screenings at {name}."),
            true,
        )
    }));
    let all_calendar = site.document_url("calendars", "all", CALENDAR_EXTENSION);
    templates::render(
        "index.html",
        minijinja::context! { entries, all_calendar => all_calendar.as_str() },
    )
}
