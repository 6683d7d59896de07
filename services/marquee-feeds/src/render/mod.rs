//! Pure rendering of a feed's items as RSS 2.0 ([`rss`]), Atom 1.0
//! ([`atom`]) and JSON Feed 1.1 ([`json`]), one file per format; [`xml`]
//! keeps the XML formats parseable.
//!
//! Each item is rendered once per change: the `rss` and `atom_syndication`
//! crates (and serde for JSON) write every entry on its own, the fragments
//! are kept with the rendered document ([`Fragments`]), and a feed is its
//! channel, written by the same crates with no items, with the fragments
//! copied in where the items go (they are the last children of `<channel>`,
//! `<feed>` and `"items"`). An unchanged item costs a comparison and a copy.
//!
//! Headlines and standfirsts are plain text: the XML writers escape them, and
//! where a format wants HTML (RSS `description`) they are HTML-escaped first
//! with the one HTML escaper, `marquee_runtime::html::escape`. Bodies arrive
//! sanitized. Output depends only on the inputs, so golden files can pin it.

mod atom;
mod json;
mod rss;
mod xml;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use marquee_events::{Review, ReviewId};
use url::Url;

pub use crate::error::RenderError;
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

/// Renders `items` (newest first) as `feed` in every format, reusing the
/// fragments of the items `kept` holds unchanged (from the document's
/// previous rendering; `Fragments::default()` renders every item).
///
/// `modified_at` is when the feed last changed (withdrawals included); when
/// `None` the newest item's `updated_at` stands in.
pub fn render(
    site: &Site,
    feed: &FeedDefinition,
    items: &[Review],
    modified_at: Option<DateTime<Utc>>,
    kept: &Fragments,
) -> Result<Rendered, RenderError> {
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
    let entries = items.iter().map(review_entry).collect();
    render_entries(site, &channel, entries, updated, kept)
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
#[derive(Debug, Clone, PartialEq)]
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

/// A document's feed in every format, and the fragments it was assembled
/// from, to keep for its next rendering.
#[derive(Debug)]
pub struct Rendered {
    /// RSS, Atom and JSON Feed, in [`Format::ALL`]'s order.
    pub bodies: [(Format, Vec<u8>); 3],
    /// Every item's fragments, by item id.
    pub fragments: Fragments,
}

/// Each item of a rendered feed in every format, by the item's id: what a
/// document keeps from one rendering to the next, so that an item that did
/// not change is copied into the next rendering instead of rendered again.
/// Holds only the items of the rendering that made it.
#[derive(Debug, Default, Clone)]
pub struct Fragments(HashMap<String, Arc<Fragment>>);

/// One item rendered in each format, beside the entry it was rendered
/// from: an item is reused only when its entry is equal, field for field.
#[derive(Debug)]
pub(crate) struct Fragment {
    pub(crate) entry: Entry,
    pub(crate) rss: Box<[u8]>,
    pub(crate) atom: Box<[u8]>,
    pub(crate) json: Box<[u8]>,
}

impl Fragment {
    fn render(entry: Entry) -> Result<Self, RenderError> {
        Ok(Self {
            rss: rss::item(&entry)?.into(),
            atom: atom::entry(&entry)?.into(),
            json: json::item(&entry)?.into(),
            entry,
        })
    }
}

/// Renders `entries` as `channel` in every format; `updated` is when it
/// last changed. Entries `kept` holds unchanged are not rendered again.
pub(crate) fn render_entries(
    site: &Site,
    channel: &Channel<'_>,
    entries: Vec<Entry>,
    updated: DateTime<Utc>,
    kept: &Fragments,
) -> Result<Rendered, RenderError> {
    let fragments = entries
        .into_iter()
        .map(|entry| match kept.0.get(&entry.id) {
            Some(fragment) if fragment.entry == entry => Ok(Arc::clone(fragment)),
            _ => Fragment::render(entry).map(Arc::new),
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    let bodies = [
        (Format::Rss, rss::feed(site, channel, &fragments, updated)?),
        (
            Format::Atom,
            atom::feed(site, channel, &fragments, updated)?,
        ),
        (Format::Json, json::feed(site, channel, &fragments)?),
    ];
    let fragments = Fragments(
        fragments
            .into_iter()
            .map(|fragment| (fragment.entry.id.clone(), fragment))
            .collect(),
    );
    Ok(Rendered { bodies, fragments })
}

/// Writes `head`, the channel with no items, with `items` spliced in just
/// before `closing`, the end of the channel the items belong at the end of.
fn assemble<'a>(
    head: &[u8],
    closing: &'static str,
    items: impl Iterator<Item = &'a [u8]> + Clone,
) -> Result<Vec<u8>, RenderError> {
    let at = head
        .strip_suffix(closing.as_bytes())
        .ok_or_else(|| RenderError::Assembly(closing))?
        .len();
    let mut out = Vec::with_capacity(head.len() + items.clone().map(<[u8]>::len).sum::<usize>());
    out.extend_from_slice(&head[..at]);
    for item in items {
        out.extend_from_slice(item);
    }
    out.extend_from_slice(closing.as_bytes());
    Ok(out)
}

/// The bytes of the one item in `document` (a channel rendered with that
/// item alone) from its `opening` tag to the channel's `closing`.
fn fragment(
    document: &[u8],
    opening: &'static str,
    closing: &'static str,
) -> Result<Vec<u8>, RenderError> {
    let start = document
        .windows(opening.len())
        .position(|window| window == opening.as_bytes())
        .ok_or_else(|| RenderError::Assembly(opening))?;
    let end = document
        .strip_suffix(closing.as_bytes())
        .ok_or_else(|| RenderError::Assembly(closing))?
        .len();
    Ok(document[start..end].to_vec())
}

/// Stable, URI-shaped id of a review: `urn:uuid:` of its item key.
pub fn review_guid(id: &ReviewId) -> String {
    format!("urn:uuid:{}", id.key())
}

fn feed_id(slug: &FeedSlug) -> String {
    name_based_id(&format!("feed:{slug}"))
}

/// `urn:uuid:` of a name-based UUID of `name` in Marquee's namespace.
pub(crate) fn name_based_id(name: &str) -> String {
    format!("urn:uuid:{}", marquee_events::item_key(name))
}

/// The `generator` the XML formats name.
const GENERATOR: &str = "Marquee";

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
}
