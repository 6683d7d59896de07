//! HTTP: the feeds with conditional GET, and an autodiscovery index page.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::FeedsService;
use crate::cache::{Encoding, Representation};
use crate::render::{Format, Site, html_escape};
use crate::settings::FeedDefinition;

/// Feed readers poll; five minutes keeps them and shared caches polite
/// while a new review still shows up quickly.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=300");

pub(crate) fn router(service: FeedsService) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feeds/{file}", get(feed))
        .with_state(service)
}

async fn index(State(service): State<FeedsService>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        service.inner.index_page.clone(),
    )
        .into_response()
}

/// `GET` (and `HEAD`, which axum answers from the same handler without the
/// body) of `/feeds/{slug}.{ext}`.
async fn feed(
    State(service): State<FeedsService>,
    Path(file): Path<String>,
    request_headers: HeaderMap,
) -> Response {
    let found = file.rsplit_once('.').and_then(|(slug, extension)| {
        Some((service.feed(slug)?, Format::from_extension(extension)?))
    });
    let Some((definition, format)) = found else {
        count("unknown", "unknown", "404");
        return StatusCode::NOT_FOUND.into_response();
    };
    let rendered = match service.rendered(definition).await {
        Ok(rendered) => rendered,
        Err(error) => {
            tracing::error!(feed = %definition.slug, error = %error, "Could not render a feed");
            count(definition.slug.as_str(), format.extension(), "503");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let representation = rendered.get(format);
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
    if not_modified(&request_headers, representation) {
        count(definition.slug.as_str(), format.extension(), "304");
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, content_type(format));
    if let Some(coding) = encoding.content_encoding() {
        headers.insert(header::CONTENT_ENCODING, coding);
    }
    count(definition.slug.as_str(), format.extension(), "200");
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

fn content_type(format: Format) -> HeaderValue {
    HeaderValue::from_static(match format {
        Format::Rss => "application/rss+xml; charset=utf-8",
        Format::Atom => "application/atom+xml; charset=utf-8",
        Format::Json => "application/feed+json; charset=utf-8",
    })
}

fn count(feed: &str, format: &'static str, status: &'static str) {
    metrics::counter!(
        "marquee_feed_requests_total",
        "feed" => feed.to_owned(),
        "format" => format,
        "status" => status,
    )
    .increment(1);
}

/// The index page: every feed, with autodiscovery links in the head.
pub(crate) fn index_page(site: &Site, feeds: &[FeedDefinition]) -> Vec<u8> {
    let mut head = String::new();
    let mut list = String::new();
    for feed in feeds {
        let title = html_escape(&feed.title);
        let mut links = Vec::new();
        for format in Format::ALL {
            let href = html_escape(site.feed_url(&feed.slug, format).as_str());
            head.push_str(&format!(
                "    <link rel=\"alternate\" type=\"{}\" href=\"{href}\" title=\"{title} ({})\">\n",
                format.media_type(),
                format.name(),
            ));
            links.push(format!("<a href=\"{href}\">{}</a>", format.name()));
        }
        list.push_str(&format!(
            "      <li><strong>{title}</strong> — {}<br>{}</li>\n",
            html_escape(&feed.description),
            links.join(" · "),
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n    \
         <title>Marquee feeds</title>\n{head}  </head>\n  <body>\n    <h1>Marquee feeds</h1>\n    \
         <ul>\n{list}    </ul>\n  </body>\n</html>\n"
    )
    .into_bytes()
}
