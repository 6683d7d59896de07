//! The archive: every digest that went out, kept as its web version (the
//! email without any subscriber's links) at a stable public URL,
//! `/digest/archive/{schedule}/{YYYY-MM-DD}` (the schedule's local date),
//! listed on `/digest/archive` and in its own RSS 2.0, Atom 1.0 and JSON
//! Feed 1.1 feeds, each page advertising them by autodiscovery.
//!
//! A digest is archived when its run opens for sending, so the "view in
//! browser" link of the email works the moment it arrives; it is shown once
//! its run went out (sending, paused or sent), as `Store::last_sent` counts.

use std::io;

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{NaiveDate, SecondsFormat};
use marquee_runtime::error::HttpError;
use serde::Serialize;
use url::Url;

use crate::DigestService;
use crate::compose::{DigestContent, Edition};
use crate::schedule::CronSchedule;
use crate::store::{ArchivedDigest, Run};

/// How many digests the list page and the feeds carry.
const LISTED: i64 = 100;

const TITLE: &str = "Marquee: What to watch, past digests";
const DESCRIPTION: &str =
    "Every weekly \"what to watch\" email Marquee has sent, as its web version";

/// A feed format of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    fn extension(self) -> &'static str {
        match self {
            Self::Rss => "rss",
            Self::Atom => "atom",
            Self::Json => "json",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Self::Rss => "application/rss+xml",
            Self::Atom => "application/atom+xml",
            Self::Json => "application/feed+json",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Rss => "RSS",
            Self::Atom => "Atom",
            Self::Json => "JSON Feed",
        }
    }
}

/// An autodiscovery link to one of the archive's feeds.
#[derive(Debug, Clone, Serialize)]
pub struct FeedLink {
    /// Its media type.
    pub media_type: &'static str,
    /// Its absolute URL.
    pub href: String,
    /// Its link title, e.g. "Past digests (Atom)".
    pub title: String,
}

pub(crate) fn router(service: DigestService) -> Router {
    Router::new()
        .route("/digest/archive", get(list))
        .route(
            "/digest/archive.rss",
            get(|State(service): State<DigestService>| feed(service, Format::Rss)),
        )
        .route(
            "/digest/archive.atom",
            get(|State(service): State<DigestService>| feed(service, Format::Atom)),
        )
        .route(
            "/digest/archive.json",
            get(|State(service): State<DigestService>| feed(service, Format::Json)),
        )
        .route("/digest/archive/{schedule}/{day}", get(page))
        .with_state(service)
}

impl DigestService {
    /// `path` under the public base URL.
    pub(crate) fn public_url(&self, path: &str) -> Url {
        let base = &self.inner.settings.public_base_url;
        base.join(path).unwrap_or_else(|_| base.clone())
    }

    fn archive_url(&self) -> Url {
        self.public_url("digest/archive")
    }

    /// Where the digest of `schedule` on `day` is (or will be) archived.
    pub(crate) fn web_version_url(&self, schedule: &str, day: NaiveDate) -> String {
        let mut url = self.archive_url();
        url.path_segments_mut()
            .map(|mut segments| {
                segments.push(schedule).push(&day.to_string());
            })
            // The base URL was checked to be a base at start.
            .unwrap_or_default();
        url.to_string()
    }

    fn feed_links(&self) -> Vec<FeedLink> {
        Format::ALL
            .into_iter()
            .map(|format| FeedLink {
                media_type: format.media_type(),
                href: self
                    .public_url(&format!("digest/archive.{}", format.extension()))
                    .to_string(),
                title: format!("Past digests ({})", format.name()),
            })
            .collect()
    }

    /// Keeps `run`'s digest of `content` as its web version, with what it listed.
    pub(crate) async fn archive_web_version(
        &self,
        schedule: &CronSchedule,
        run: &Run,
        content: &DigestContent,
    ) -> anyhow::Result<()> {
        let feeds = self.feed_links();
        let archive_url = self.archive_url().to_string();
        let rendered = self.inner.templates.digest(
            &schedule.settings().template,
            content,
            &self.web_version_url(schedule.name(), content.week_start),
            Edition::Web {
                archive_url: &archive_url,
                feeds: &feeds,
            },
        )?;
        let digest = ArchivedDigest {
            schedule: schedule.name().to_owned(),
            day: content.week_start,
            run_id: run.id.clone(),
            subject: rendered.subject,
            preheader: rendered.preheader,
            html: rendered.html,
            text: rendered.text,
            created_at: self.now(),
        };
        self.inner
            .store
            .archive(&digest, run.scheduled_for, &content.screenings)
            .await
            .context("Failed to archive the web version")?;
        Ok(())
    }
}

fn internal(error: impl Into<anyhow::Error>) -> HttpError {
    HttpError::internal(&error.into())
}

#[derive(Serialize)]
struct Listed {
    subject: String,
    preheader: String,
    url: String,
}

/// `GET /digest/archive`: the digests that went out, newest first.
async fn list(State(service): State<DigestService>) -> Result<Html<String>, Response> {
    let digests = service
        .inner
        .store
        .archived(LISTED)
        .await
        .map_err(|e| internal(e).page().into_response())?;
    let digests: Vec<Listed> = digests
        .into_iter()
        .map(|d| Listed {
            url: service.web_version_url(&d.schedule, d.day),
            subject: d.subject,
            preheader: d.preheader,
        })
        .collect();
    let page = service
        .inner
        .templates
        .page(
            "archive",
            &minijinja::context! { digests, feeds => service.feed_links() },
        )
        .map_err(|e| internal(e).page().into_response())?;
    Ok(Html(page))
}

/// `GET /digest/archive/{schedule}/{day}`: one digest's web version.
async fn page(
    State(service): State<DigestService>,
    Path((schedule, day)): Path<(String, String)>,
) -> Result<Html<String>, Response> {
    let refuse = |error: HttpError| error.page().into_response();
    let day: NaiveDate = day.parse().map_err(|_| {
        refuse(HttpError::not_found(format!(
            "`{day}` in the address is not a date: past digests are at /digest/archive/SCHEDULE/YYYY-MM-DD"
        )))
    })?;
    let digest = service
        .inner
        .store
        .archived_on(&schedule, day)
        .await
        .map_err(|e| refuse(internal(e)))?
        .ok_or_else(|| {
            refuse(HttpError::not_found(format!(
                "No digest of `{schedule}` went out on {day}: see /digest/archive for those that did"
            )))
        })?;
    Ok(Html(digest.html))
}

/// `GET /digest/archive.{rss,atom,json}`: the archive as a feed.
async fn feed(service: DigestService, format: Format) -> Response {
    match render_feed(&service, format).await {
        Ok(body) => ([(header::CONTENT_TYPE, format.media_type())], body).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn render_feed(service: &DigestService, format: Format) -> Result<Vec<u8>, HttpError> {
    let digests = service
        .inner
        .store
        .archived(LISTED)
        .await
        .map_err(internal)?;
    let entries: Vec<Entry> = digests
        .iter()
        .map(|d| Entry {
            id: format!(
                "urn:uuid:{}",
                uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_URL,
                    format!("marquee:digest-archive:{}/{}", d.schedule, d.day).as_bytes()
                )
            ),
            url: service.web_version_url(&d.schedule, d.day),
            digest: d,
        })
        .collect();
    let site = Site {
        home: service.archive_url().to_string(),
        feed: service
            .public_url(&format!("digest/archive.{}", format.extension()))
            .to_string(),
    };
    match format {
        Format::Rss => rss_feed(&site, &entries),
        Format::Atom => atom_feed(&site, &entries),
        Format::Json => json_feed(&site, &entries),
    }
    .map_err(internal)
}

/// The archive page and this feed's own URL.
struct Site {
    home: String,
    feed: String,
}

/// One archived digest as a feed item.
struct Entry<'a> {
    id: String,
    url: String,
    digest: &'a ArchivedDigest,
}

fn rss_feed(site: &Site, entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    use rss::extension::atom::{AtomExtension, Link};

    let items = entries
        .iter()
        .map(|entry| rss::Item {
            title: Some(entry.digest.subject.clone()),
            link: Some(entry.url.clone()),
            description: Some(marquee_runtime::html::escape(&entry.digest.preheader)),
            guid: Some(rss::Guid {
                value: entry.id.clone(),
                permalink: false,
            }),
            pub_date: Some(entry.digest.created_at.to_rfc2822()),
            ..rss::Item::default()
        })
        .collect();
    let channel = rss::Channel {
        title: TITLE.to_owned(),
        link: site.home.clone(),
        description: DESCRIPTION.to_owned(),
        last_build_date: entries.first().map(|e| e.digest.created_at.to_rfc2822()),
        atom_ext: Some(AtomExtension {
            links: vec![Link {
                href: site.feed.clone(),
                rel: "self".to_owned(),
                mime_type: Some(Format::Rss.media_type().to_owned()),
                ..Link::default()
            }],
        }),
        items,
        ..rss::Channel::default()
    };
    Ok(channel.write_to(Vec::new())?)
}

fn atom_feed(site: &Site, entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    use atom_syndication::{Content, Feed, Link, Person, Text};

    let link = |href: &str, rel: &str, mime_type: &str| Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: Some(mime_type.to_owned()),
        ..Link::default()
    };
    let items = entries
        .iter()
        .map(|entry| atom_syndication::Entry {
            title: Text::plain(entry.digest.subject.clone()),
            id: entry.id.clone(),
            updated: entry.digest.created_at.fixed_offset(),
            published: Some(entry.digest.created_at.fixed_offset()),
            links: vec![link(&entry.url, "alternate", "text/html")],
            summary: Some(Text::plain(entry.digest.preheader.clone())),
            content: Some(Content {
                value: Some(entry.digest.text.clone()),
                content_type: Some("text".to_owned()),
                ..Content::default()
            }),
            ..atom_syndication::Entry::default()
        })
        .collect();
    let feed = Feed {
        title: Text::plain(TITLE),
        id: format!(
            "urn:uuid:{}",
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"marquee:digest-archive")
        ),
        updated: entries
            .first()
            .map_or(chrono::DateTime::UNIX_EPOCH, |e| e.digest.created_at)
            .fixed_offset(),
        authors: vec![Person {
            name: "Marquee".to_owned(),
            ..Person::default()
        }],
        links: vec![
            link(&site.home, "alternate", "text/html"),
            link(&site.feed, "self", Format::Atom.media_type()),
        ],
        subtitle: Some(Text::plain(DESCRIPTION)),
        entries: items,
        ..Feed::default()
    };
    let config = atom_syndication::WriteConfig {
        write_document_declaration: true,
        indent_size: None,
    };
    Ok(feed.write_with_config(Vec::new(), config)?)
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'static str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'static str,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    summary: &'a str,
    content_text: &'a str,
    date_published: String,
}

fn json_feed(site: &Site, entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: TITLE,
        home_page_url: &site.home,
        feed_url: &site.feed,
        description: DESCRIPTION,
        items: entries
            .iter()
            .map(|entry| JsonItem {
                id: &entry.id,
                url: &entry.url,
                title: &entry.digest.subject,
                summary: &entry.digest.preheader,
                content_text: &entry.digest.text,
                date_published: entry
                    .digest
                    .created_at
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
            })
            .collect(),
    };
    Ok(serde_json::to_vec(&feed).map_err(io::Error::from)?)
}
