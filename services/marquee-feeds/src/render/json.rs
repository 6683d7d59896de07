//! JSON Feed 1.1, written so that no string can carry live markup.

use std::io;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{Channel, Entry, Format, Fragment, RenderError, Site, assemble};

/// Where items go: `items` is the feed object's last member.
const CLOSING: &str = "]}";

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub<'a>>,
    /// Always written empty: the items are spliced in.
    items: [(); 0],
}

#[derive(Serialize)]
struct JsonHub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    summary: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    tags: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

/// `entry` as a JSON Feed item object.
pub(super) fn item(entry: &Entry) -> Result<Vec<u8>, RenderError> {
    let rfc3339 = |time: DateTime<Utc>| time.to_rfc3339_opts(SecondsFormat::Secs, true);
    let item = JsonItem {
        id: &entry.id,
        url: entry.url.as_deref(),
        title: &entry.title,
        summary: &entry.summary,
        content_html: &entry.content_html,
        image: entry.image.as_ref().map(|(url, _)| url.as_str()),
        date_published: rfc3339(entry.published),
        date_modified: rfc3339(entry.updated),
        authors: entry
            .author
            .iter()
            .map(|name| JsonAuthor { name })
            .collect(),
        tags: entry.categories.iter().map(String::as_str).collect(),
    };
    html_safe_json(&item)
}

pub(super) fn feed(
    site: &Site,
    feed: &Channel<'_>,
    items: &[Arc<Fragment>],
) -> Result<Vec<u8>, RenderError> {
    let head = html_safe_json(&JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: feed.title,
        home_page_url: site.base_url.as_str(),
        feed_url: site
            .document_url(feed.folder, feed.name, Format::Json.extension())
            .into(),
        description: feed.description,
        hubs: site
            .websub_hub
            .iter()
            .map(|hub| JsonHub {
                kind: "WebSub",
                url: hub.as_str(),
            })
            .collect(),
        items: [],
    })?;
    // Items are separated by commas: the first goes in as it is.
    let separated = items
        .iter()
        .enumerate()
        .flat_map(|(n, item)| [if n == 0 { &b""[..] } else { b"," }, &*item.json]);
    assemble(&head, CLOSING, separated)
}

fn html_safe_json(value: &impl Serialize) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, HtmlSafeJson);
    value.serialize(&mut serializer).map_err(io::Error::from)?;
    Ok(out)
}

/// Compact JSON that writes `<`, `>` and `&` as `\u` escapes, so a feed
/// opened by a browser or pasted into a page can never carry live markup.
struct HtmlSafeJson;

impl serde_json::ser::Formatter for HtmlSafeJson {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find(['<', '>', '&']) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let escape: &[u8] = match rest.as_bytes()[at] {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                _ => b"\\u0026",
            };
            writer.write_all(escape)?;
            rest = &rest[at + 1..];
        }
        writer.write_all(rest.as_bytes())
    }
}
