//! Pure rendering of a feed's items as RSS 2.0, Atom 1.0 or JSON Feed 1.1.
//!
//! Headlines and standfirsts are plain text: the XML writers escape them, and
//! where a format wants HTML (RSS `description`) they are HTML-escaped first.
//! Bodies arrive sanitized. Output depends only on the inputs, so golden
//! files can pin it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use marquee_events::{Review, ReviewId};
use serde::Serialize;
use url::Url;
use uuid::Uuid;

use crate::settings::{FeedDefinition, FeedSlug};

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RSS 2.0.
    Rss,
    /// Atom 1.0 (RFC 4287).
    Atom,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    /// Every format, in the order the index page lists them.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// File extension in the feed's URL.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Rss => "rss",
            Self::Atom => "atom",
            Self::Json => "json",
        }
    }

    /// The format served at `extension`.
    pub fn from_extension(extension: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == extension)
    }

    /// Media type, as used in `Content-Type` and autodiscovery links.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Rss => "application/rss+xml",
            Self::Atom => "application/atom+xml",
            Self::Json => "application/feed+json",
        }
    }

    /// Human name for link titles.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rss => "RSS",
            Self::Atom => "Atom",
            Self::Json => "JSON Feed",
        }
    }
}

/// Where the feeds live: the base of every self link, and the WebSub hub.
#[derive(Debug, Clone)]
pub struct Site {
    /// Public URL feeds are served under; ends with `/`.
    pub base_url: Url,
    /// Hub advertised in every feed, when configured.
    pub websub_hub: Option<Url>,
}

impl Site {
    /// Public URL of `slug` in `format`.
    pub fn feed_url(&self, slug: &FeedSlug, format: Format) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map(|mut segments| {
                segments
                    .pop_if_empty()
                    .push("feeds")
                    .push(&format!("{slug}.{}", format.extension()));
            })
            // Settings::validate refused base URLs that cannot be a base.
            .unwrap_or_default();
        url
    }
}

/// Why a feed could not be serialized.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// RSS serialization failed.
    #[error("Failed to write RSS: {0}")]
    Rss(#[from] rss::Error),
    /// Atom serialization failed.
    #[error("Failed to write Atom: {0}")]
    Atom(#[from] atom_syndication::Error),
    /// JSON serialization failed.
    #[error("Failed to write JSON Feed: {0}")]
    Json(#[from] io::Error),
}

/// Renders `items` (newest first) as `feed` in `format`.
///
/// `modified_at` is when the feed last changed (withdrawals included); when
/// `None` the newest item's `updated_at` stands in.
pub fn render(
    site: &Site,
    feed: &FeedDefinition,
    items: &[Review],
    modified_at: Option<DateTime<Utc>>,
    format: Format,
) -> Result<Vec<u8>, RenderError> {
    let updated = modified_at
        .or_else(|| items.iter().map(|r| r.updated_at).max())
        .unwrap_or(DateTime::UNIX_EPOCH);
    match format {
        Format::Rss => rss_feed(site, feed, items, updated),
        Format::Atom => atom_feed(site, feed, items, updated),
        Format::Json => json_feed(site, feed, items),
    }
}

/// Stable, URI-shaped id of a review: a name-based UUID of its id, so edits,
/// URL changes and base URL moves never change it.
pub fn review_guid(id: &ReviewId) -> String {
    format!(
        "urn:uuid:{}",
        Uuid::new_v5(&NAMESPACE, format!("review:{id}").as_bytes())
    )
}

fn feed_id(slug: &FeedSlug) -> String {
    format!(
        "urn:uuid:{}",
        Uuid::new_v5(&NAMESPACE, format!("feed:{slug}").as_bytes())
    )
}

/// Namespace of Marquee's name-based ids; changing it changes every GUID.
const NAMESPACE: Uuid = Uuid::from_u128(0x6d61_7271_7565_4e00_9a41_2f6e_c3b1_0a57);

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const GENERATOR: &str = "Marquee";

fn rss_feed(
    site: &Site,
    feed: &FeedDefinition,
    items: &[Review],
    updated: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    use rss::extension::atom::{AtomExtension, Link};
    use rss::extension::dublincore::DublinCoreExtension;

    let mut links = vec![Link {
        href: site.feed_url(&feed.slug, Format::Rss).into(),
        rel: "self".to_owned(),
        mime_type: Some(Format::Rss.media_type().to_owned()),
        ..Link::default()
    }];
    if let Some(hub) = &site.websub_hub {
        links.push(Link {
            href: hub.to_string(),
            rel: "hub".to_owned(),
            ..Link::default()
        });
    }
    let items = items
        .iter()
        .map(|review| rss::Item {
            title: Some(xml_text(&review.headline).into_owned()),
            link: Some(review.url.to_string()),
            description: Some(html_escape(&xml_text(&review.standfirst))),
            content: Some(xml_text(&review.body_html).into_owned()),
            guid: Some(rss::Guid {
                value: review_guid(&review.id),
                permalink: false,
            }),
            pub_date: Some(review.published_at.to_rfc2822()),
            categories: vec![rss::Category {
                name: xml_text(&review.section).into_owned(),
                domain: None,
            }],
            dublin_core_ext: review.author.as_deref().map(|author| DublinCoreExtension {
                creators: vec![xml_text(author).into_owned()],
                ..DublinCoreExtension::default()
            }),
            extensions: review
                .image
                .as_ref()
                .map(|image| {
                    let mut media = rss::extension::Extension {
                        name: "media:content".to_owned(),
                        attrs: BTreeMap::from([
                            ("url".to_owned(), image.url.to_string()),
                            ("medium".to_owned(), "image".to_owned()),
                        ]),
                        ..Default::default()
                    };
                    if let Some(alt) = &image.alt {
                        media.children.insert(
                            "description".to_owned(),
                            vec![rss::extension::Extension {
                                name: "media:description".to_owned(),
                                value: Some(xml_text(alt).into_owned()),
                                attrs: BTreeMap::from([("type".to_owned(), "plain".to_owned())]),
                                ..Default::default()
                            }],
                        );
                    }
                    BTreeMap::from([(
                        "media".to_owned(),
                        BTreeMap::from([("content".to_owned(), vec![media])]),
                    )])
                })
                .unwrap_or_default(),
            ..rss::Item::default()
        })
        .collect::<Vec<_>>();
    let mut namespaces = BTreeMap::new();
    if items.iter().any(|item| !item.extensions.is_empty()) {
        namespaces.insert("media".to_owned(), MEDIA_NS.to_owned());
    }
    let channel = rss::Channel {
        title: xml_text(&feed.title).into_owned(),
        link: site.base_url.to_string(),
        description: xml_text(&feed.description).into_owned(),
        last_build_date: Some(updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        atom_ext: Some(AtomExtension { links }),
        items,
        namespaces,
        ..rss::Channel::default()
    };
    Ok(channel.write_to(Vec::new())?)
}

fn atom_feed(
    site: &Site,
    feed: &FeedDefinition,
    items: &[Review],
    updated: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text};

    let link = |href: String, rel: &str, mime_type: Option<&str>| Link {
        href,
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Link::default()
    };
    let mut links = vec![
        link(site.base_url.to_string(), "alternate", Some("text/html")),
        link(
            site.feed_url(&feed.slug, Format::Atom).into(),
            "self",
            Some(Format::Atom.media_type()),
        ),
    ];
    if let Some(hub) = &site.websub_hub {
        links.push(link(hub.to_string(), "hub", None));
    }
    let entries = items
        .iter()
        .map(|review| Entry {
            title: Text::plain(xml_text(&review.headline)),
            id: review_guid(&review.id),
            updated: review.updated_at.fixed_offset(),
            published: Some(review.published_at.fixed_offset()),
            authors: review
                .author
                .iter()
                .map(|name| Person {
                    name: xml_text(name).into_owned(),
                    ..Person::default()
                })
                .collect(),
            categories: vec![Category {
                term: xml_text(&review.section).into_owned(),
                ..Category::default()
            }],
            links: vec![link(review.url.to_string(), "alternate", Some("text/html"))],
            summary: Some(Text::plain(xml_text(&review.standfirst))),
            content: Some(Content {
                value: Some(xml_text(&review.body_html).into_owned()),
                content_type: Some("html".to_owned()),
                ..Content::default()
            }),
            ..Entry::default()
        })
        .collect::<Vec<_>>();
    // Atom requires an author on every entry; the feed's stands in for
    // entries without a byline.
    let authors = if entries.iter().any(|entry| entry.authors.is_empty()) {
        vec![Person {
            name: xml_text(&feed.title).into_owned(),
            ..Person::default()
        }]
    } else {
        Vec::new()
    };
    let atom = Feed {
        title: Text::plain(xml_text(&feed.title)),
        id: feed_id(&feed.slug),
        updated: updated.fixed_offset(),
        authors,
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            ..Generator::default()
        }),
        links,
        subtitle: Some(Text::plain(xml_text(&feed.description))),
        entries,
        ..Feed::default()
    };
    let config = atom_syndication::WriteConfig {
        write_document_declaration: true,
        indent_size: None,
    };
    Ok(atom.write_with_config(Vec::new(), config)?)
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonHub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: String,
    url: &'a str,
    title: &'a str,
    summary: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    tags: [&'a str; 1],
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

fn json_feed(site: &Site, feed: &FeedDefinition, items: &[Review]) -> Result<Vec<u8>, RenderError> {
    let rfc3339 = |time: DateTime<Utc>| time.to_rfc3339_opts(SecondsFormat::Secs, true);
    let json = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &feed.title,
        home_page_url: site.base_url.as_str(),
        feed_url: site.feed_url(&feed.slug, Format::Json).into(),
        description: &feed.description,
        hubs: site
            .websub_hub
            .iter()
            .map(|hub| JsonHub {
                kind: "WebSub",
                url: hub.as_str(),
            })
            .collect(),
        items: items
            .iter()
            .map(|review| JsonItem {
                id: review_guid(&review.id),
                url: review.url.as_str(),
                title: &review.headline,
                summary: &review.standfirst,
                content_html: &review.body_html,
                image: review.image.as_ref().map(|image| image.url.as_str()),
                date_published: rfc3339(review.published_at),
                date_modified: rfc3339(review.updated_at),
                authors: review
                    .author
                    .iter()
                    .map(|name| JsonAuthor { name })
                    .collect(),
                tags: [&review.section],
            })
            .collect(),
    };
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, HtmlSafeJson);
    json.serialize(&mut serializer).map_err(io::Error::from)?;
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

/// `text` without the characters XML 1.0 cannot carry at all (most C0
/// controls, U+FFFE, U+FFFF), which would make the whole feed unparseable.
fn xml_text(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

/// Plain text as HTML text.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_urls_keep_the_base_path() {
        let site = Site {
            base_url: Url::parse("https://example.org/marquee/").expect("valid URL"),
            websub_hub: None,
        };
        let slug = FeedSlug::parse("in-cinemas").expect("valid slug");
        assert_eq!(
            site.feed_url(&slug, Format::Atom).as_str(),
            "https://example.org/marquee/feeds/in-cinemas.atom"
        );
    }

    #[test]
    fn guids_depend_on_the_review_id_only() {
        let id = ReviewId::parse("cms-42").expect("valid id");
        assert_eq!(review_guid(&id), review_guid(&id.clone()));
        assert!(review_guid(&id).starts_with("urn:uuid:"));
        assert_ne!(
            review_guid(&id),
            review_guid(&ReviewId::parse("cms-43").expect("valid id"))
        );
    }

    #[test]
    fn text_is_made_safe_for_xml_and_html() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td"), "abc\td");
        assert_eq!(
            html_escape("<b>\"R&D\"</b>"),
            "&lt;b&gt;&quot;R&amp;D&quot;&lt;/b&gt;"
        );
    }
}
