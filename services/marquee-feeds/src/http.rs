//! HTTP: the feeds with conditional GET, and an autodiscovery index page.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::cache::{Encoding, Representation};
use crate::listings::CALENDAR_EXTENSION;
use crate::render::{Format, Site, html_escape};
use crate::settings::FeedDefinition;
use crate::{Document, FeedsService};

/// Feed readers poll; five minutes keeps them and shared caches polite
/// while a new review still shows up quickly.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=300");

pub(crate) fn router(service: FeedsService) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feeds/{file}", get(review_feed))
        .route("/venues/{file}", get(venue))
        .route("/strands/{file}", get(strand))
        .route("/repertory/{file}", get(repertory))
        .route("/calendars/{file}", get(calendar))
        .with_state(service)
}

async fn index(State(service): State<FeedsService>) -> Response {
    let venues = match service.inner.store.venues().await {
        Ok(venues) => venues,
        Err(error) => {
            tracing::error!(error = %error, "Could not list the venues for the index page");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let page = index_page(&service.inner.site, &service.inner.settings.feeds, &venues);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        page,
    )
        .into_response()
}

/// Splits `name.ext`; the extension must be one of `extensions`.
fn split<'a>(file: &'a str, extensions: &[&'static str]) -> Option<(&'a str, &'static str)> {
    let (stem, extension) = file.rsplit_once('.')?;
    let extension = extensions.iter().find(|e| **e == extension)?;
    Some((stem, extension))
}

const FEED_EXTENSIONS: [&str; 3] = ["rss", "atom", "json"];
const VENUE_EXTENSIONS: [&str; 4] = ["rss", "atom", "json", CALENDAR_EXTENSION];

async fn review_feed(
    State(service): State<FeedsService>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let document = split(&file, &FEED_EXTENSIONS).and_then(|(slug, extension)| {
        let feed = service.feed(slug)?;
        Some((Document::Reviews(feed.slug.clone()), extension))
    });
    serve(&service, document, &headers).await
}

async fn venue(
    State(service): State<FeedsService>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let document = split(&file, &VENUE_EXTENSIONS)
        .map(|(id, extension)| (Document::Venue(id.to_owned()), extension));
    serve(&service, document, &headers).await
}

async fn strand(
    State(service): State<FeedsService>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let document = split(&file, &FEED_EXTENSIONS)
        .map(|(slug, extension)| (Document::Strand(slug.to_owned()), extension));
    serve(&service, document, &headers).await
}

async fn repertory(
    State(service): State<FeedsService>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let document = split(&file, &FEED_EXTENSIONS)
        .filter(|(stem, _)| *stem == "this-week")
        .map(|(_, extension)| (Document::ThisWeek, extension));
    serve(&service, document, &headers).await
}

async fn calendar(
    State(service): State<FeedsService>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let document = split(&file, &[CALENDAR_EXTENSION])
        .filter(|(stem, _)| *stem == "all")
        .map(|(_, extension)| (Document::AllCalendar, extension));
    serve(&service, document, &headers).await
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
        return StatusCode::NOT_FOUND.into_response();
    };
    let label = document.label();
    let rendered = match service.rendered(&document).await {
        Ok(Some(rendered)) => rendered,
        Ok(None) => {
            count("unknown", extension, "404");
            return StatusCode::NOT_FOUND.into_response();
        }
        Err(error) => {
            tracing::error!(document = %label, error = %error, "Could not render a document");
            count(&label, extension, "503");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(representation) = rendered.get(extension) else {
        count("unknown", extension, "404");
        return StatusCode::NOT_FOUND.into_response();
    };
    let encoding = Encoding::negotiate(
        request_headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let (body, etag) = representation.variant(encoding);

    let mut headers = HeaderMap::with_capacity(7);
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, CACHE_CONTROL);
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(last_modified) = &representation.last_modified {
        headers.insert(header::LAST_MODIFIED, last_modified.clone());
    }
    if not_modified(request_headers, representation) {
        count(&label, extension, "304");
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, content_type(extension));
    if let Some(coding) = encoding.content_encoding() {
        headers.insert(header::CONTENT_ENCODING, coding);
    }
    count(&label, extension, "200");
    (StatusCode::OK, headers, body.clone()).into_response()
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

/// The index page: every review feed, the this-week feed and every venue's
/// feeds and calendar, with autodiscovery links for the feeds in the head.
pub(crate) fn index_page(
    site: &Site,
    feeds: &[FeedDefinition],
    venues: &[(String, String)],
) -> Vec<u8> {
    let mut head = String::new();
    let mut list = String::new();
    let mut entry = |folder: &str, name: &str, title: &str, description: &str, calendar: bool| {
        let title = html_escape(title);
        let mut links = Vec::new();
        for format in Format::ALL {
            let href = html_escape(site.document_url(folder, name, format.extension()).as_str());
            head.push_str(&format!(
                "    <link rel=\"alternate\" type=\"{}\" href=\"{href}\" title=\"{title} ({})\">\n",
                format.media_type(),
                format.name(),
            ));
            links.push(format!("<a href=\"{href}\">{}</a>", format.name()));
        }
        if calendar {
            let href = html_escape(site.document_url(folder, name, CALENDAR_EXTENSION).as_str());
            links.push(format!("<a href=\"{href}\">iCalendar</a>"));
        }
        list.push_str(&format!(
            "      <li><strong>{title}</strong> — {}<br>{}</li>\n",
            html_escape(description),
            links.join(" · "),
        ));
    };
    for feed in feeds {
        entry(
            "feeds",
            feed.slug.as_str(),
            &feed.title,
            &feed.description,
            false,
        );
    }
    entry(
        "repertory",
        "this-week",
        "This week in repertory",
        "Repertory screenings in the next seven days.",
        false,
    );
    for (id, name) in venues {
        entry(
            "venues",
            id,
            &format!("{name}: screenings"),
            &format!("Repertory screenings at {name}."),
            true,
        );
    }
    let all = html_escape(
        site.document_url("calendars", "all", CALENDAR_EXTENSION)
            .as_str(),
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n    \
         <title>Marquee feeds</title>\n{head}  </head>\n  <body>\n    <h1>Marquee feeds</h1>\n    \
         <ul>\n{list}    </ul>\n    <p><a href=\"{all}\">Every venue (iCalendar)</a></p>\n  </body>\n</html>\n"
    )
    .into_bytes()
}
