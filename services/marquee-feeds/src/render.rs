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
        self.document_url("feeds", slug.as_str(), format.extension())
    }

    /// Public URL of `folder/name.extension`, `name` percent-encoded.
    pub(crate) fn document_url(&self, folder: &str, name: &str, extension: &str) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map(|mut segments| {
                segments
                    .pop_if_empty()
                    .push(folder)
                    .push(&format!("{name}.{extension}"));
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
    let channel = Channel {
        title: &feed.title,
        description: &feed.description,
        id: feed_id(&feed.slug),
        folder: "feeds",
        name: feed.slug.as_str(),
    };
    let entries: Vec<Entry> = items.iter().map(review_entry).collect();
    render_entries(site, &channel, &entries, updated, format)
}

fn review_entry(review: &Review) -> Entry {
    Entry {
        id: review_guid(&review.id),
        url: Some(review.url.to_string()),
        title: review.headline.clone(),
        summary: review.standfirst.clone(),
        content_html: review.body_html.clone(),
        image: review
            .image
            .as_ref()
            .map(|image| (image.url.to_string(), image.alt.clone())),
        published: review.published_at,
        updated: review.updated_at,
        author: review.author.clone(),
        categories: vec![review.section.clone()],
    }
}

/// A feed as the format writers see it, whatever its items are about.
#[derive(Debug)]
pub(crate) struct Channel<'a> {
    pub(crate) title: &'a str,
    pub(crate) description: &'a str,
    /// Stable feed id (Atom `id`).
    pub(crate) id: String,
    /// URL folder of the feed, e.g. `feeds` or `venues`.
    pub(crate) folder: &'static str,
    /// File stem of the feed in its folder.
    pub(crate) name: &'a str,
}

/// One feed item, whatever it is about.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Stable GUID.
    pub(crate) id: String,
    pub(crate) url: Option<String>,
    /// Plain text.
    pub(crate) title: String,
    /// Plain text.
    pub(crate) summary: String,
    /// Sanitized HTML.
    pub(crate) content_html: String,
    /// Image URL and its alt text.
    pub(crate) image: Option<(String, Option<String>)>,
    pub(crate) published: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    pub(crate) author: Option<String>,
    pub(crate) categories: Vec<String>,
}

/// Renders `entries` as `channel` in `format`; `updated` is when it last changed.
pub(crate) fn render_entries(
    site: &Site,
    channel: &Channel<'_>,
    entries: &[Entry],
    updated: DateTime<Utc>,
    format: Format,
) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Rss => rss_feed(site, channel, entries, updated),
        Format::Atom => atom_feed(site, channel, entries, updated),
        Format::Json => json_feed(site, channel, entries),
    }
}

/// Stable, URI-shaped id of a review: a name-based UUID of its id, so edits,
/// URL changes and base URL moves never change it.
pub fn review_guid(id: &ReviewId) -> String {
    name_based_id(&format!("review:{id}"))
}

fn feed_id(slug: &FeedSlug) -> String {
    name_based_id(&format!("feed:{slug}"))
}

/// `urn:uuid:` of a name-based UUID of `name` in Marquee's namespace.
pub(crate) fn name_based_id(name: &str) -> String {
    format!("urn:uuid:{}", Uuid::new_v5(&NAMESPACE, name.as_bytes()))
}

/// Namespace of Marquee's name-based ids; changing it changes every GUID.
const NAMESPACE: Uuid = Uuid::from_u128(0x6d61_7271_7565_4e00_9a41_2f6e_c3b1_0a57);

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const GENERATOR: &str = "Marquee";

fn rss_feed(
    site: &Site,
    feed: &Channel<'_>,
    items: &[Entry],
    updated: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    use rss::extension::atom::{AtomExtension, Link};
    use rss::extension::dublincore::DublinCoreExtension;

    // Sized before `items` is shadowed by the RSS items.
    let out = output_buffer(items);

    let mut links = vec![Link {
        href: site
            .document_url(feed.folder, feed.name, Format::Rss.extension())
            .into(),
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
        .map(|entry| rss::Item {
            title: Some(xml_text(&entry.title).into_owned()),
            link: entry.url.clone(),
            description: Some(html_escape(&xml_text(&entry.summary))),
            content: Some(xml_text(&entry.content_html).into_owned()),
            guid: Some(rss::Guid {
                value: entry.id.clone(),
                permalink: false,
            }),
            pub_date: Some(entry.published.to_rfc2822()),
            categories: entry
                .categories
                .iter()
                .map(|name| rss::Category {
                    name: xml_text(name).into_owned(),
                    domain: None,
                })
                .collect(),
            dublin_core_ext: entry.author.as_deref().map(|author| DublinCoreExtension {
                creators: vec![xml_text(author).into_owned()],
                ..DublinCoreExtension::default()
            }),
            extensions: entry
                .image
                .as_ref()
                .map(|(url, alt)| {
                    let mut media = rss::extension::Extension {
                        name: "media:content".to_owned(),
                        attrs: BTreeMap::from([
                            ("url".to_owned(), url.clone()),
                            ("medium".to_owned(), "image".to_owned()),
                        ]),
                        ..Default::default()
                    };
                    if let Some(alt) = alt {
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
        title: xml_text(feed.title).into_owned(),
        link: site.base_url.to_string(),
        description: xml_text(feed.description).into_owned(),
        last_build_date: Some(updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        atom_ext: Some(AtomExtension { links }),
        items,
        namespaces,
        ..rss::Channel::default()
    };
    Ok(channel.write_to(out)?)
}

fn atom_feed(
    site: &Site,
    feed: &Channel<'_>,
    items: &[Entry],
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
            site.document_url(feed.folder, feed.name, Format::Atom.extension())
                .into(),
            "self",
            Some(Format::Atom.media_type()),
        ),
    ];
    if let Some(hub) = &site.websub_hub {
        links.push(link(hub.to_string(), "hub", None));
    }
    let entries = items
        .iter()
        .map(|entry| Entry {
            title: Text::plain(xml_text(&entry.title)),
            id: entry.id.clone(),
            updated: entry.updated.fixed_offset(),
            published: Some(entry.published.fixed_offset()),
            authors: entry
                .author
                .iter()
                .map(|name| Person {
                    name: xml_text(name).into_owned(),
                    ..Person::default()
                })
                .collect(),
            categories: entry
                .categories
                .iter()
                .map(|term| Category {
                    term: xml_text(term).into_owned(),
                    ..Category::default()
                })
                .collect(),
            links: entry
                .url
                .iter()
                .map(|url| link(url.clone(), "alternate", Some("text/html")))
                .collect(),
            summary: Some(Text::plain(xml_text(&entry.summary))),
            content: Some(Content {
                value: Some(xml_text(&entry.content_html).into_owned()),
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
            name: xml_text(feed.title).into_owned(),
            ..Person::default()
        }]
    } else {
        Vec::new()
    };
    let atom = Feed {
        title: Text::plain(xml_text(feed.title)),
        id: feed.id.clone(),
        updated: updated.fixed_offset(),
        authors,
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            ..Generator::default()
        }),
        links,
        subtitle: Some(Text::plain(xml_text(feed.description))),
        entries,
        ..Feed::default()
    };
    let config = atom_syndication::WriteConfig {
        write_document_declaration: true,
        indent_size: None,
    };
    Ok(atom.write_with_config(output_buffer(items), config)?)
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

fn json_feed(site: &Site, feed: &Channel<'_>, items: &[Entry]) -> Result<Vec<u8>, RenderError> {
    let rfc3339 = |time: DateTime<Utc>| time.to_rfc3339_opts(SecondsFormat::Secs, true);
    let json = JsonFeed {
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
        items: items
            .iter()
            .map(|entry| JsonItem {
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
            })
            .collect(),
    };
    let mut out = output_buffer(items);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, HtmlSafeJson);
    json.serialize(&mut serializer).map_err(io::Error::from)?;
    Ok(out)
}

/// A buffer sized for a feed of `items`, so writing it seldom has to copy
/// what is written so far into a bigger one.
fn output_buffer(items: &[Entry]) -> Vec<u8> {
    let text: usize = items
        .iter()
        .map(|entry| entry.title.len() + entry.summary.len() + entry.content_html.len())
        .sum();
    // Escaping grows the text; each item's markup and dates add about 1 KB.
    Vec::with_capacity(text + text / 4 + 1024 * (items.len() + 1))
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
pub(crate) fn xml_text(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    // Bytes, not chars: this runs over every body of every feed rendered.
    // Below 0x80 a byte is its character; U+FFFE and U+FFFF are EF BF BE/BF.
    let bytes = text.as_bytes();
    let clean = bytes
        .iter()
        .all(|&b| b >= b' ' || matches!(b, b'\t' | b'\n' | b'\r'))
        && !bytes
            .windows(3)
            .any(|w| matches!(w, [0xEF, 0xBF, 0xBE | 0xBF]));
    if clean {
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

    proptest::proptest! {
        /// The byte scan lets through exactly what XML 1.0 can carry.
        #[test]
        fn xml_text_drops_exactly_what_xml_cannot_carry(
            text in "[a<&\t\n\r\u{0}\u{1}\u{1F}\u{7F}\u{85}é\u{FFFD}\u{FFFE}\u{FFFF}\u{EFBF}\u{1F3AC}]{0,24}"
        ) {
            let expected: String = text
                .chars()
                .filter(|&c| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}'))
                .collect();
            proptest::prop_assert_eq!(xml_text(&text), expected);
        }
    }

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
