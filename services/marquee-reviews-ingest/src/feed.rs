//! Reading the CMS's feed (RSS 2.0, 0.9x, RSS 1.0 / 0.90 RDF, or Atom) into
//! drafts.
//!
//! The reading is `feed-rs`, a reader made for feeds as they are published
//! (`rss` and `atom_syndication` are writers' crates: they refused whole
//! documents for one attribute value they did not expect and read no RDF).
//! One streaming pass over the document comes first, for what `feed-rs`
//! cannot do or does not keep ([`scan`]): it refuses too-deep nesting,
//! rewrites the few attribute values that make `feed-rs` refuse the whole
//! document (Atom text `type="text/plain"` or `"application/xhtml+xml"`, an
//! `<rss>` of a version it does not know), finds the document's own site
//! link, and keeps each item's `xml:base` chain and raw date texts, so a
//! date that is present but not a date is reported instead of dropped.
//!
//! Relative URLs (an item's link, image and the links in its body) resolve
//! against, in this order: the nearest `xml:base` (the item's, then the
//! feed's), then the document's own site link (the channel's `<link>`, the
//! Atom feed's `rel="alternate"` link), then the URL the feed was fetched
//! from. A relative `xml:base` or site link is itself resolved the same way.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, FeedType, Text};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use marquee_runtime::html::escape;
use quick_xml::events::{BytesStart, Event};
use url::Url;

use crate::draft::{Candidate, Draft, fill, parse_date};
use crate::error::IngestError;
use crate::film::rating_from_text;
use crate::sanitize::plain_text;

/// Every item of the feed in `text`: the feed as a whole is rejected when it
/// is not a feed; a bad item is rejected alone. `now` dates undated items.
pub(crate) fn parse_feed(
    text: &str,
    fetched_from: &Url,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Candidate, IngestError>>, IngestError> {
    Ok(read_drafts(text, fetched_from)?
        .into_iter()
        .map(|d| d.finish(fetched_from, now))
        .collect())
}

/// The drafts of every item, each with its own base URL, before they are
/// checked.
pub(crate) fn read_drafts(text: &str, fetched_from: &Url) -> Result<Vec<Draft>, IngestError> {
    let text = without_prolog(text)?;
    let root = root_element(text);
    match root {
        Some("rss" | "feed" | "RDF") => {}
        Some(other) => {
            return Err(IngestError::MalformedFeed(format!(
                "the root element is <{other}>, expected <rss>, <rdf:RDF> or <feed>"
            )));
        }
        None => {
            return Err(IngestError::MalformedFeed(
                "the document is empty".to_owned(),
            ));
        }
    }
    let scan = scan(text)?;
    let site = scan
        .site_link
        .as_ref()
        .and_then(|(bases, href)| resolve(fetched_from, bases, href));
    let document_base = site.unwrap_or_else(|| fetched_from.clone());
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(document_base.as_str()))
        // An item without an id is identified by its link in Draft::finish;
        // feed-rs would make one up (a hash, or a new UUID on every read).
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build()
        .parse(scan.rewritten(text).as_bytes())
        .map_err(|error| match error {
            // feed-rs words an <rss> without its <channel> as "no root element".
            ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) if root == Some("rss") => {
                IngestError::MalformedFeed("the <rss> element has no <channel>".to_owned())
            }
            other => IngestError::MalformedFeed(other.to_string()),
        })?;
    let atom = feed.feed_type == FeedType::Atom;
    // feed-rs skips RSS 1.0 items without a link; they stay in their place
    // as drafts without one, which Draft::finish rejects with that reason.
    let skipped = |item: &ScannedItem| feed.feed_type == FeedType::RSS1 && !item.has_link;
    let read = scan.items.iter().filter(|item| !skipped(item)).count();
    if read != feed.entries.len() {
        return Err(IngestError::MalformedFeed(format!(
            "the document has {} items but only {} could be read \
             (items in a namespace the reader does not know?)",
            scan.items.len(),
            feed.entries.len()
        )));
    }
    let mut entries = feed.entries.iter();
    Ok(scan
        .items
        .iter()
        .map(|item| {
            let mut draft = if skipped(item) {
                Draft::default()
            } else {
                entries.next().map(|e| draft(e, atom)).unwrap_or_default()
            };
            draft.base = resolve(&document_base, &item.bases, "");
            dates(&mut draft, &item.dates);
            for (name, raw) in &item.xhtml {
                let raw = Some(raw.trim().to_owned());
                match name.as_str() {
                    "title" => draft.headline = raw,
                    "summary" => draft.standfirst = raw,
                    "content" => draft.body_html = raw,
                    _ => {}
                }
            }
            for name in &item.base64 {
                match name.as_str() {
                    "title" => draft.headline = None,
                    "summary" => draft.standfirst = None,
                    "content" => draft.body_html = None,
                    _ => {}
                }
            }
            draft
        })
        .collect())
}

/// The document without its XML declaration, refusing entity declarations.
///
/// The feed parser does not expand DTD entities, but refusing them outright
/// makes "billion laughs" and external-entity documents a clear rejection
/// instead of a parser quirk. The declaration goes because the text is
/// already decoded to UTF-8, whatever encoding it names.
pub(crate) fn without_prolog(text: &str) -> Result<&str, IngestError> {
    // The first 64 KiB, cut on a character boundary (a cut inside a
    // multi-byte character panicked: found by scripts/fuzz).
    let mut end = text.len().min(64 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    if head.to_ascii_uppercase().contains("<!ENTITY") {
        return Err(IngestError::EntityDeclaration);
    }
    let text = text.trim_start_matches('\u{feff}').trim_start();
    Ok(match text.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(text, |(_, after)| after),
        None => text,
    })
}

/// The name of the first element, skipping comments, DOCTYPE and PIs.
pub fn root_element(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.split_once("-->")?.1;
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = rest.split_once('>')?.1;
        } else {
            let tag = rest.strip_prefix('<')?;
            let end = tag
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(tag.len());
            let name = &tag[..end];
            return Some(name.rsplit(':').next().unwrap_or(name));
        }
    }
}

/// Deepest element nesting a feed may have; RSS and Atom need five or six
/// levels.
const MAX_DEPTH: usize = 64;

/// What the streaming pass over a document found.
#[derive(Debug, Default)]
struct Scan {
    /// Start tags to replace: byte range in the document, new tag.
    rewrites: Vec<(std::ops::Range<usize>, String)>,
    /// The document's own site link: the `xml:base` chain around it and
    /// its raw href.
    site_link: Option<(Vec<String>, String)>,
    /// Every item or entry, in document order.
    items: Vec<ScannedItem>,
}

/// An item as the streaming pass saw it.
#[derive(Debug, Default)]
struct ScannedItem {
    /// The `xml:base` values in effect, outermost first (the item's own last).
    bases: Vec<String>,
    /// Date elements: qualified name and raw text.
    dates: Vec<(String, String)>,
    /// Whether it has a `<link>` child: feed-rs skips RSS 1.0 items without.
    has_link: bool,
    /// Atom text elements in base64 (Atom 0.3's `mode="base64"`, or a
    /// binary media type), which feed-rs does not decode: they are left out
    /// rather than published as base64.
    base64: Vec<String>,
    /// Atom XHTML text elements as written: feed-rs re-serializes XHTML
    /// with its escaped text unescaped (`&lt;blink&gt;` became a tag).
    xhtml: Vec<(String, String)>,
}

impl Scan {
    /// The document with the scan's rewrites applied.
    fn rewritten<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.rewrites.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (range, tag) in &self.rewrites {
            out.push_str(&text[at..range.start]);
            out.push_str(tag);
            at = range.end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }
}

/// One open element during the scan.
struct Open {
    name: String,
    base: Option<String>,
}

/// The streaming pass (see the module docs). It refuses documents nested
/// deeper than [`MAX_DEPTH`]: the old parsers read extension elements
/// recursively, and thousands of nested ones overflowed the stack (found
/// by scripts/fuzz); feed-rs reads iteratively, but the limit stays as the
/// cheap guarantee. The scan keeps no stack beyond that depth.
fn scan(text: &str) -> Result<Scan, IngestError> {
    let mut reader = quick_xml::Reader::from_str(text);
    // Counted however the tags pair up: mismatched end tags must not end
    // the check early. What the feed parser makes of broken XML is its to say.
    reader.config_mut().check_end_names = false;
    let mut scan = Scan::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut atom = false;
    // The date element or site link whose text is being read.
    let mut capture: Option<(Capture, String)> = None;
    // The XHTML text construct being read: its name, depth and where its
    // content starts.
    let mut xhtml: Option<(String, usize, usize)> = None;
    loop {
        let start = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => return Ok(scan),
            Ok(event) => event,
        };
        let end = reader.buffer_position();
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let tag = local(&name).to_owned();
                let parent = stack.last().map(|o| local(&o.name).to_owned());
                if stack.is_empty() {
                    atom = matches!(tag.as_str(), "feed" | "entry");
                }
                if let Some(new) = rewrite(e, &tag, stack.is_empty(), atom, empty) {
                    scan.rewrites.push((start as usize..end as usize, new));
                }
                let base = attribute(e, "xml:base");
                let in_list = matches!(parent.as_deref(), Some("channel" | "RDF" | "feed"));
                if in_list && matches!(tag.as_str(), "item" | "entry") {
                    let mut bases: Vec<String> =
                        stack.iter().filter_map(|o| o.base.clone()).collect();
                    bases.extend(base.clone());
                    scan.items.push(ScannedItem {
                        bases,
                        ..ScannedItem::default()
                    });
                }
                let in_item = stack.len() >= 2
                    && matches!(local(&stack[stack.len() - 1].name), "item" | "entry")
                    && matches!(
                        local(&stack[stack.len() - 2].name),
                        "channel" | "RDF" | "feed"
                    );
                if in_item
                    && tag == "link"
                    && let Some(item) = scan.items.last_mut()
                {
                    item.has_link = true;
                }
                let text_construct =
                    atom && in_item && matches!(tag.as_str(), "title" | "summary" | "content");
                let kind = attribute(e, "type").map(|t| t.trim().to_ascii_lowercase());
                let binary = kind.as_deref().is_some_and(|t| {
                    !matches!(t, "text" | "html" | "xhtml")
                        && !t.starts_with("text/")
                        && !t.ends_with("xml")
                });
                if let Some(item) = scan.items.last_mut().filter(|_| text_construct) {
                    if attribute(e, "mode").as_deref() == Some("base64") || binary {
                        item.base64.push(tag.clone());
                    }
                    if !empty && matches!(kind.as_deref(), Some("xhtml" | "application/xhtml+xml"))
                    {
                        xhtml = Some((tag.clone(), stack.len() + 1, end as usize));
                    }
                }
                if in_item && !empty && is_date(&tag) {
                    capture = Some((Capture::Date(name.clone()), String::new()));
                }
                if scan.site_link.is_none() && tag == "link" && name == tag {
                    let bases = || -> Vec<String> {
                        stack
                            .iter()
                            .filter_map(|o| o.base.clone())
                            .chain(base.clone())
                            .collect()
                    };
                    match parent.as_deref() {
                        Some("channel") if !empty => {
                            capture = Some((Capture::SiteLink(bases()), String::new()));
                        }
                        Some("feed") if attribute(e, "rel").is_none_or(|r| r == "alternate") => {
                            scan.site_link = attribute(e, "href").map(|href| (bases(), href));
                        }
                        _ => {}
                    }
                }
                if !empty {
                    stack.push(Open { name, base });
                    if stack.len() > MAX_DEPTH {
                        return Err(IngestError::MalformedFeed(format!(
                            "elements nested more than {MAX_DEPTH} deep (at byte {start})"
                        )));
                    }
                }
            }
            Event::End(_) => {
                if let Some((name, _, from)) = xhtml.take_if(|(_, depth, _)| *depth == stack.len())
                    && let Some(item) = scan.items.last_mut()
                {
                    item.xhtml
                        .push((name, text[from..start as usize].to_owned()));
                }
                stack.pop();
                if let Some((what, text)) = capture.take() {
                    let text = text.trim().to_owned();
                    match what {
                        Capture::Date(name) => {
                            if let Some(item) = scan.items.last_mut() {
                                item.dates.push((name, text));
                            }
                        }
                        Capture::SiteLink(bases) if !text.is_empty() => {
                            scan.site_link = Some((bases, text));
                        }
                        Capture::SiteLink(_) => {}
                    }
                }
            }
            Event::Text(ref t) => {
                if let Some((_, buffer)) = capture.as_mut() {
                    buffer.push_str(&String::from_utf8_lossy(t));
                }
            }
            Event::CData(ref t) => {
                if let Some((_, buffer)) = capture.as_mut() {
                    buffer.push_str(&String::from_utf8_lossy(t));
                }
            }
            Event::GeneralRef(ref r) => {
                if let Some((_, buffer)) = capture.as_mut() {
                    let name = String::from_utf8_lossy(r);
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => buffer.push(c),
                        _ => buffer.push_str(
                            quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""),
                        ),
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whose text the scan is reading.
enum Capture {
    Date(String),
    SiteLink(Vec<String>),
}

/// The name without its namespace prefix.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Item date elements: RSS `pubDate` and `dc:date`, Atom `published` and
/// `updated` (and Atom 0.3's `issued`, `modified`, `created`).
fn is_date(local: &str) -> bool {
    matches!(
        local,
        "pubDate" | "date" | "published" | "updated" | "issued" | "modified" | "created"
    )
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.html_attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .map(|a| {
            let raw = String::from_utf8_lossy(&a.value);
            quick_xml::escape::unescape(&raw).map_or_else(|_| raw.to_string(), Cow::into_owned)
        })
}

/// The namespaces feed-rs reads RSS 1.0 and Atom in.
const RSS_1: &str = "http://purl.org/rss/1.0/";
const ATOM_1: &str = "http://www.w3.org/2005/Atom";

/// The start tag with the attribute values feed-rs accepts, when `e` has
/// one it would refuse or skip the whole document for:
/// - the RSS version (it reads only 0.91, 0.92 and 2.0 by that name; any
///   other `<rss>` is read as 2.0), and a default namespace on `<rss>` (RSS
///   2.0 has none; with one, feed-rs skips every element);
/// - RSS 0.90's and Atom 0.3's namespaces, read as RSS 1.0's and Atom 1.0's
///   (the elements Marquee reads are the same);
/// - an Atom text construct's `type` (it knows only text, html, xhtml and
///   text/html; RFC 4287 allows only the first three, but `text/plain` and
///   `application/xhtml+xml` are common, as Atom 0.3 used media types).
fn rewrite(e: &BytesStart<'_>, local: &str, root: bool, atom: bool, empty: bool) -> Option<String> {
    let mut changes: Vec<(&str, &str)> = Vec::new();
    let xmlns = attribute(e, "xmlns");
    if root && local == "rss" {
        let version = attribute(e, "version");
        if !matches!(version.as_deref(), Some("0.91" | "0.92" | "2.0")) {
            changes.push(("version", "2.0"));
        }
        if xmlns.as_deref().is_some_and(|ns| !ns.is_empty()) {
            changes.push(("xmlns", ""));
        }
    } else if root && local == "RDF" {
        if xmlns.as_deref() == Some("http://my.netscape.com/rdf/simple/0.9/") {
            changes.push(("xmlns", RSS_1));
        }
    } else if root && local == "feed" {
        if xmlns.as_deref() == Some("http://purl.org/atom/ns#") {
            changes.push(("xmlns", ATOM_1));
        }
    } else if atom
        && matches!(
            local,
            "title" | "subtitle" | "summary" | "rights" | "content"
        )
    {
        let kind = attribute(e, "type")?;
        let kind = kind.trim().to_ascii_lowercase();
        let new = match kind.as_str() {
            "text" | "html" | "xhtml" | "text/html" => return None,
            "text/plain" => "text",
            "application/xhtml+xml" => "xhtml",
            // Content may be any media type (base64 or XML inline); a text
            // construct may not, so it is read as text.
            _ if local == "content" => return None,
            _ => "text",
        };
        changes.push(("type", new));
    }
    if changes.is_empty() {
        return None;
    }
    let mut tag = BytesStart::new(String::from_utf8_lossy(e.name().as_ref()).into_owned());
    for a in e.html_attributes().flatten() {
        if !changes
            .iter()
            .any(|(key, _)| a.key.as_ref() == key.as_bytes())
        {
            tag.push_attribute(a);
        }
    }
    for change in changes {
        tag.push_attribute(change);
    }
    let mut writer = quick_xml::Writer::new(Vec::new());
    let written = if empty {
        writer.write_event(Event::Empty(tag))
    } else {
        writer.write_event(Event::Start(tag))
    };
    written.ok()?;
    String::from_utf8(writer.into_inner()).ok()
}

/// `href` resolved against `bases` (outermost first), themselves resolved
/// against `root`.
fn resolve(root: &Url, bases: &[String], href: &str) -> Option<Url> {
    let base = bases.iter().fold(root.clone(), |base, next| {
        base.join(next.trim()).unwrap_or(base)
    });
    base.join(href.trim()).ok()
}

/// Sets the draft's dates from the item's raw date elements; one that does
/// not parse is a problem of the item, never a stand-in date.
fn dates(draft: &mut Draft, raw: &[(String, String)]) {
    for (name, text) in raw {
        let Some(date) = parse_date(text) else {
            draft.problems.push(format!(
                "{name} {text:?} is not a date (RFC 2822, RFC 3339 or YYYY-MM-DD expected)"
            ));
            continue;
        };
        // dc:date is when the item last changed, as feedparser reads it.
        let slot = match local(name) {
            "pubDate" | "published" | "issued" | "created" => &mut draft.published_at,
            _ => &mut draft.updated_at,
        };
        // A later element overwrites an earlier one, as in feedparser.
        *slot = Some(date);
    }
}

fn draft(entry: &Entry, atom: bool) -> Draft {
    // Plain text may hold a literal "<" that must not be read as markup;
    // RSS has no text types, and its titles and descriptions are HTML.
    let text = |t: &Text| {
        if atom && t.content_type.essence().to_string() == "text/plain" {
            escape(&t.content)
        } else {
            t.content.clone()
        }
    };
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone());
    let body_html = entry.content.as_ref().and_then(|c| {
        let body = c.body.as_deref()?;
        match c.content_type.essence().to_string().as_str() {
            "text/plain" => Some(format!("<p>{}</p>", escape(body))),
            "text/html" | "application/xhtml+xml" | "text/xml" => Some(body.to_owned()),
            // Base64 documents (images, octet streams) are not a body.
            _ => None,
        }
    });
    let mut draft = Draft {
        id: Some(entry.id.clone()).filter(|id| !id.trim().is_empty()),
        url: link,
        headline: entry.title.as_ref().map(text),
        standfirst: entry.summary.as_ref().map(text),
        body_html,
        ..Draft::default()
    };
    // dc:creator first, then RSS `author`, which is "email (Name)": the
    // name is what readers see. feed-rs names an RSS author "author" and
    // keeps the text as its email; an Atom author without a name "unknown".
    for person in &entry.authors {
        let name = match (person.name.as_str(), person.email.as_deref()) {
            ("author", Some(email)) if !atom => match email.split_once('(') {
                Some((_, name)) => name.trim_end_matches(')').to_owned(),
                None => email.to_owned(),
            },
            ("unknown", _) if atom => continue,
            (name, _) => name.to_owned(),
        };
        fill(&mut draft.author, Some(name));
    }
    categories(
        &mut draft,
        entry
            .categories
            .iter()
            .map(|c| c.label.as_deref().unwrap_or(&c.term)),
    );
    if let Some(image) = entry.links.iter().find(|l| {
        l.rel.as_deref() == Some("enclosure")
            && l.media_type
                .as_deref()
                .is_some_and(|m| m.starts_with("image/"))
    }) {
        draft.image_url = Some(image.href.clone());
        draft.image_alt = image.title.clone();
    }
    media_image(&mut draft, entry);
    draft
}

/// Categories carry the section, and sometimes the rating ("★★★★☆").
fn categories<'a>(draft: &mut Draft, names: impl Iterator<Item = &'a str>) {
    for name in names {
        if rating_from_text(name).is_some() {
            draft.rating_hints.push(name.to_owned());
        } else {
            fill(&mut draft.section, Some(name));
        }
    }
}

/// An image from an RSS `<enclosure>` or Media RSS `<media:content>` of an
/// image type, else `<media:thumbnail>`. feed-rs keeps no `medium`, so a
/// `<media:content>` without a type counts as an image too. The alt text is
/// the media description or title.
fn media_image(draft: &mut Draft, entry: &Entry) {
    for media in &entry.media {
        let content = media
            .content
            .iter()
            .find(|c| {
                c.content_type
                    .as_ref()
                    .is_none_or(|t| t.ty().as_str() == "image")
            })
            .and_then(|c| c.url.as_ref());
        let thumbnail = media.thumbnails.first().map(|t| &t.image.uri);
        let Some(url) = content.map(Url::as_str).or(thumbnail.map(String::as_str)) else {
            continue;
        };
        fill(&mut draft.image_url, Some(url));
        fill(
            &mut draft.image_alt,
            media
                .description
                .as_ref()
                .or(media.title.as_ref())
                .map(|t| t.content.as_str()),
        );
        return;
    }
}

/// Marquee's reading of a feed in the shape of feedparser's result, for
/// the differential test against feedparser's corpus (`tests/corpus/`):
/// `{"entries": [...]}` with feedparser's names for the fields Marquee
/// reads, or `{"rejected": reason}` for a refused document. An item
/// rejected for lacking a link (or id) or a headline says so (`rejected`,
/// `missing`) and carries the fields it was read with, finished with a
/// stand-in for what it lacked, so the test can still check the rest.
#[doc(hidden)]
pub fn feedparser_view(text: &str, fetched_from: &Url, now: DateTime<Utc>) -> serde_json::Value {
    use serde_json::json;
    let drafts = match read_drafts(text, fetched_from) {
        Ok(drafts) => drafts,
        Err(error) => return json!({ "rejected": error.to_string() }),
    };
    let entries: Vec<_> = drafts
        .into_iter()
        .enumerate()
        .map(|(i, draft)| {
            let (rejected, missing, item) = match draft.clone().finish(fetched_from, now) {
                Ok(item) => (None, None, Ok(item)),
                // Nothing was read (an RSS 1.0 item feed-rs skipped).
                Err(error)
                    if draft.headline.is_none()
                        && draft.standfirst.is_none()
                        && draft.body_html.is_none()
                        && draft.author.is_none()
                        && draft.section.is_none()
                        && draft.image_url.is_none() =>
                {
                    (Some(error.to_string()), None, Err(error))
                }
                Err(error) => {
                    let mut stand_in = draft.clone();
                    let mut missing = Vec::new();
                    if draft.url.is_none() && draft.id.is_none() {
                        stand_in.url = Some(format!("{fetched_from}#item-{i}"));
                        missing.push("link");
                    }
                    if draft
                        .headline
                        .as_deref()
                        .is_none_or(|h| plain_text(h).is_empty())
                    {
                        stand_in.headline = Some(format!("item {i}"));
                        missing.push("title");
                    }
                    let stand_in = stand_in.finish(fetched_from, now);
                    (Some(error.to_string()), Some(missing), stand_in)
                }
            };
            let Ok(Candidate {
                review,
                dated,
                problems,
            }) = item
            else {
                return json!({ "rejected": rejected });
            };
            let date = |d: DateTime<Utc>| dated.then(|| d.timestamp());
            let image = review.image.as_ref();
            json!({
                "rejected": rejected,
                "missing": missing,
                "id": review.id.as_str(),
                "link": review.url.as_str(),
                "title": review.headline,
                "summary": review.standfirst,
                "content": [{ "value": review.body_html }],
                "author": review.author,
                "published_parsed": date(review.published_at),
                "updated_parsed": date(review.updated_at),
                "tags": [{ "term": review.section }],
                "image": image.map(|i| i.url.as_str()),
                "image_alt": image.and_then(|i| i.alt.as_deref()),
                "problems": problems,
            })
        })
        .collect();
    json!({ "entries": entries })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn fetched() -> Url {
        Url::parse("https://cdn.example/feeds/reviews.xml").unwrap()
    }

    fn read(text: &str) -> Vec<Candidate> {
        parse_feed(text, &fetched(), now())
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    fn atom(entry: &str) -> String {
        format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>f</id><updated>2026-11-20T09:00:00Z</updated>{entry}</feed>"#
        )
    }

    #[test]
    fn root_element_skips_the_prolog() {
        assert_eq!(
            root_element("<!-- x --><!DOCTYPE rss><rss version=\"2.0\">"),
            Some("rss")
        );
        assert_eq!(
            root_element("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
            Some("feed")
        );
        assert_eq!(root_element("<rdf:RDF>"), Some("RDF"));
        assert_eq!(root_element("  "), None);
    }

    #[test]
    fn an_rss_without_a_channel_is_refused_saying_so() {
        let error = parse_feed(
            "<rss version=\"2.0\"><item><title>x</title></item></rss>",
            &fetched(),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "not a readable RSS or Atom feed: the <rss> element has no <channel>"
        );
    }

    #[test]
    fn entity_declarations_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><rss version="2.0"><channel><title>&lol2;</title></channel></rss>"#;
        assert!(matches!(
            parse_feed(bomb, &fetched(), now()),
            Err(IngestError::EntityDeclaration)
        ));
    }

    #[test]
    fn atom_text_types_by_media_type_are_read() {
        let feed = atom(
            r#"<entry><id>urn:a</id><link href="https://films.example/a"/>
            <title type="text/html">Hamnet &lt;b&gt;review&lt;/b&gt;</title>
            <summary type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">A <i>raw</i> portrait</div></summary>
            <content type="text/plain">1 &lt; 2</content>
            <updated>2026-11-20T09:00:00Z</updated></entry>"#,
        );
        let review = &read(&feed)[0].review;
        assert_eq!(review.headline, "Hamnet review");
        assert_eq!(review.standfirst, "A raw portrait");
        assert_eq!(review.body_html, "<p>1 &lt; 2</p>");
    }

    #[test]
    fn escaped_text_in_xhtml_stays_text() {
        let feed = atom(
            r#"<entry><id>urn:a</id><link href="https://films.example/a"/><title>A</title>
            <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">History of the &lt;blink&gt; tag</div></content>
            <summary type="application/octet-stream">RXhhbXBsZQ==</summary>
            <updated>2026-11-20T09:00:00Z</updated></entry>"#,
        );
        let review = &read(&feed)[0].review;
        assert!(
            review
                .body_html
                .contains("History of the &lt;blink&gt; tag"),
            "{}",
            review.body_html
        );
        assert!(!review.standfirst.contains("RXhh"), "{}", review.standfirst);
    }

    #[test]
    fn plain_atom_text_stays_escaped() {
        let feed = atom(
            r#"<entry><id>urn:a</id><link href="https://films.example/a"/><title>&lt;b&gt; is bold</title><updated>2026-11-20T09:00:00Z</updated></entry>"#,
        );
        assert_eq!(read(&feed)[0].review.headline, "<b> is bold");
    }

    #[test]
    fn base64_content_does_not_refuse_the_feed() {
        let feed = atom(
            r#"<entry><id>urn:a</id><link href="https://films.example/a"/><title>Hamnet review</title>
            <summary>Grief</summary>
            <content type="application/octet-stream">RXhhbXBsZSA8Yj5BdG9tPC9iPg==</content>
            <updated>2026-11-20T09:00:00Z</updated></entry>"#,
        );
        let review = &read(&feed)[0].review;
        assert_eq!(review.headline, "Hamnet review");
        assert!(!review.body_html.contains("RXhh"), "{}", review.body_html);
    }

    #[test]
    fn rdf_feeds_are_read() {
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
            <channel rdf:about="https://films.example/"><title>Films</title><link>https://films.example/</link><description>d</description></channel>
            <item rdf:about="https://films.example/reviews/hamnet"><title>Hamnet review</title><link>https://films.example/reviews/hamnet</link>
            <dc:creator>Ada Lee</dc:creator><dc:date>2026-11-20T09:00:00Z</dc:date></item>
            </rdf:RDF>"#;
        let items = read(rdf);
        assert_eq!(items.len(), 1);
        let review = &items[0].review;
        assert_eq!(review.url.as_str(), "https://films.example/reviews/hamnet");
        assert_eq!(review.author.as_deref(), Some("Ada Lee"));
        assert_eq!(
            review.published_at.to_rfc3339(),
            "2026-11-20T09:00:00+00:00"
        );
        assert!(items[0].dated);
    }

    #[test]
    fn rss_090_is_read() {
        let rss = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
            <channel><title>Films</title><link>https://films.example/</link></channel>
            <item><title>Hamnet review</title><link>/reviews/hamnet</link></item></rdf:RDF>"#;
        let items = read(rss);
        assert_eq!(
            items[0].review.url.as_str(),
            "https://films.example/reviews/hamnet"
        );
    }

    #[test]
    fn atom_03_and_namespaced_rss_are_read_not_skipped() {
        let atom = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>F</title>
            <entry><id>urn:a</id><title>Hamnet review</title><link rel="alternate" href="https://films.example/a"/>
            <issued>2026-11-20T09:00:00Z</issued></entry></feed>"#;
        let items = read(atom);
        assert_eq!(items[0].review.headline, "Hamnet review");
        assert!(items[0].dated);
        let rss = r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>F</title>
            <item><title>Hamnet review</title><link>https://films.example/a</link></item></channel></rss>"#;
        assert_eq!(read(rss)[0].review.headline, "Hamnet review");
    }

    #[test]
    fn an_rdf_item_without_a_link_is_rejected_in_its_place() {
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <channel><title>F</title><link>https://films.example/</link></channel>
            <item><title>No link</title></item>
            <item><title>Hamnet review</title><link>https://films.example/a</link></item></rdf:RDF>"#;
        let items = parse_feed(rdf, &fetched(), now()).unwrap();
        let error = items[0].as_ref().unwrap_err();
        assert!(error.to_string().contains("neither a link"), "{error}");
        assert_eq!(items[1].as_ref().unwrap().review.headline, "Hamnet review");
    }

    #[test]
    fn rss_items_keep_author_categories_and_media() {
        let rss = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>F</title><link>https://films.example/</link>
            <item><title>Hamnet review</title><link>https://films.example/reviews/hamnet</link>
            <author>ada@films.example (Ada Lee)</author>
            <category>In Cinemas</category><category>★★★★☆</category>
            <media:content url="https://img.example/h.jpg" medium="image"><media:description>Jessie Buckley</media:description></media:content>
            <content:encoded><![CDATA[<p>The body</p>]]></content:encoded>
            <pubDate>Tue, 10 Jun 2025 08:00:00 +0100</pubDate></item></channel></rss>"#;
        let review = &read(rss)[0].review;
        assert_eq!(review.author.as_deref(), Some("Ada Lee"));
        assert_eq!(review.section, "In Cinemas");
        assert_eq!(review.rating.map(marquee_events::Rating::stars), Some(4));
        let image = review.image.as_ref().unwrap();
        assert_eq!(image.url.as_str(), "https://img.example/h.jpg");
        assert_eq!(image.alt.as_deref(), Some("Jessie Buckley"));
        assert!(
            review.body_html.contains("The body"),
            "{}",
            review.body_html
        );
    }

    #[test]
    fn relative_urls_resolve_by_xml_base_then_site_link_then_fetch_url() {
        // Item xml:base wins over the feed's; the feed's over the site link.
        let feed = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/feed/">
            <title>F</title><id>f</id><updated>2026-11-20T09:00:00Z</updated>
            <link rel="alternate" href="https://films.example/"/>
            <entry xml:base="https://item.example/reviews/"><id>urn:a</id><title>A</title><link href="a"/>
              <content type="html">&lt;a href="more"&gt;more&lt;/a&gt;</content><updated>2026-11-20T09:00:00Z</updated></entry>
            <entry><id>urn:b</id><title>B</title><link href="b"/><updated>2026-11-20T09:00:00Z</updated></entry>
            </feed>"#;
        let items = read(feed);
        assert_eq!(
            items[0].review.url.as_str(),
            "https://item.example/reviews/a"
        );
        assert!(
            items[0]
                .review
                .body_html
                .contains("https://item.example/reviews/more"),
            "{}",
            items[0].review.body_html
        );
        assert_eq!(items[1].review.url.as_str(), "https://base.example/feed/b");

        // No xml:base: the channel's link, then the fetch URL.
        let rss = |link: &str| {
            format!(
                r#"<rss version="2.0"><channel><title>F</title>{link}<item><title>A</title><link>/reviews/a</link><enclosure url="img/a.jpg" type="image/jpeg" length="1"/></item></channel></rss>"#
            )
        };
        let items = read(&rss("<link>https://films.example/site/</link>"));
        assert_eq!(
            items[0].review.url.as_str(),
            "https://films.example/reviews/a"
        );
        assert_eq!(
            items[0].review.image.as_ref().unwrap().url.as_str(),
            "https://films.example/site/img/a.jpg"
        );
        let items = read(&rss(""));
        assert_eq!(
            items[0].review.url.as_str(),
            "https://cdn.example/reviews/a"
        );
    }

    #[test]
    fn a_bad_date_is_a_problem_not_now() {
        let rss = r#"<rss version="2.0"><channel><title>F</title><item><title>A</title><link>https://films.example/x</link><pubDate>Tomorrow-ish</pubDate></item></channel></rss>"#;
        let item = &read(rss)[0];
        assert!(!item.dated);
        assert_eq!(
            item.problems,
            [
                r#"item "https://films.example/x": pubDate "Tomorrow-ish" is not a date (RFC 2822, RFC 3339 or YYYY-MM-DD expected)"#
            ]
        );
    }

    #[test]
    fn a_date_in_the_future_is_a_problem_not_taken() {
        let feed = atom(
            r#"<entry><id>urn:a</id><link href="https://films.example/a"/><title>A</title>
            <published>2026-11-20T09:00:00Z</published><updated>2027-01-01T00:00:00Z</updated></entry>"#,
        );
        let item = &read(&feed)[0];
        assert!(item.dated);
        assert_eq!(
            item.review.updated_at.to_rfc3339(),
            "2026-11-20T09:00:00+00:00"
        );
        assert_eq!(item.problems.len(), 1, "{:?}", item.problems);
        assert!(
            item.problems[0].contains("in the future"),
            "{:?}",
            item.problems
        );
    }

    #[test]
    fn items_without_an_id_are_identified_by_their_link() {
        let rss = r#"<rss version="2.0"><channel><title>F</title><item><title>A</title><link>https://films.example/x</link></item></channel></rss>"#;
        assert_eq!(read(rss)[0].review.id.as_str(), "https://films.example/x");
    }
}
