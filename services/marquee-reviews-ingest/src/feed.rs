//! Reading the CMS's RSS 2.0 or Atom 1.0 feed into drafts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use marquee_runtime::html::escape;
use url::Url;

use crate::draft::{Candidate, Draft, fill, parse_date};
use crate::error::IngestError;
use crate::film::rating_from_text;

/// Every item of the feed in `text`: the feed as a whole is rejected when it
/// is not a feed; a bad item is rejected alone. `now` dates undated items.
pub(crate) fn parse_feed(
    text: &str,
    base: &Url,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Candidate, IngestError>>, IngestError> {
    let text = without_prolog(text)?;
    within_depth(text)?;
    let drafts = match root_element(text) {
        Some("rss") => rss_drafts(text)?,
        Some("feed") => atom_drafts(text)?,
        Some(other) => {
            return Err(IngestError::MalformedFeed(format!(
                "the root element is <{other}>, expected <rss> or <feed>"
            )));
        }
        None => {
            return Err(IngestError::MalformedFeed(
                "the document is empty".to_owned(),
            ));
        }
    };
    Ok(drafts.into_iter().map(|d| d.finish(base, now)).collect())
}

/// The document without its XML declaration, refusing entity declarations.
///
/// The feed parsers do not expand DTD entities, but refusing them outright
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
    let text = text.trim_start();
    Ok(match text.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(text, |(_, after)| after),
        None => text,
    })
}

/// Deepest element nesting a feed may have; RSS and Atom need five or six
/// levels.
const MAX_DEPTH: usize = 64;

/// Refuses documents nested deeper than [`MAX_DEPTH`]: the feed parsers read
/// extension elements (`<media:…>`) recursively, so thousands of nested ones
/// overflowed the stack and aborted the process (found by scripts/fuzz).
/// Checked with a streaming reader, which keeps no stack of its own.
fn within_depth(text: &str) -> Result<(), IngestError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    // Counted however the tags pair up: mismatched end tags must not end
    // the check early.
    reader.config_mut().check_end_names = false;
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(IngestError::MalformedFeed(format!(
                        "elements nested more than {MAX_DEPTH} deep (at byte {})",
                        reader.buffer_position()
                    )));
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            // What the feed parsers make of broken XML is theirs to say.
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

/// The name of the first element, skipping comments, DOCTYPE and PIs.
pub(crate) fn root_element(text: &str) -> Option<&str> {
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

fn rss_drafts(text: &str) -> Result<Vec<Draft>, IngestError> {
    let channel = rss::Channel::read_from(text.as_bytes())
        .map_err(|e| IngestError::MalformedFeed(e.to_string()))?;
    Ok(channel.items().iter().map(rss_draft).collect())
}

fn rss_draft(item: &rss::Item) -> Draft {
    let mut draft = Draft {
        id: item.guid().map(|g| g.value().to_owned()),
        url: item.link().map(str::to_owned),
        headline: item.title().map(str::to_owned),
        standfirst: item.description().map(str::to_owned),
        body_html: item.content().map(str::to_owned),
        published_at: item.pub_date().and_then(parse_date),
        ..Draft::default()
    };
    fill(
        &mut draft.url,
        item.guid()
            .filter(|g| g.is_permalink() && g.value().starts_with("http"))
            .map(|g| g.value().to_owned()),
    );
    if let Some(dc) = item.dublin_core_ext() {
        fill(&mut draft.author, dc.creators().first().cloned());
        draft.updated_at = dc.dates().last().and_then(|d| parse_date(d));
    }
    // RSS `author` is "email (Name)"; the name is what readers see.
    fill(
        &mut draft.author,
        item.author().map(|a| match a.split_once('(') {
            Some((_, name)) => name.trim_end_matches(')').to_owned(),
            None => a.to_owned(),
        }),
    );
    categories(
        &mut draft,
        item.categories().iter().map(rss::Category::name),
    );
    if let Some(enclosure) = item
        .enclosure()
        .filter(|e| e.mime_type().starts_with("image/"))
    {
        draft.image_url = Some(enclosure.url().to_owned());
    }
    media_image(&mut draft, item.extensions());
    draft
}

fn atom_drafts(text: &str) -> Result<Vec<Draft>, IngestError> {
    let feed = atom_syndication::Feed::read_from(text.as_bytes())
        .map_err(|e| IngestError::MalformedFeed(e.to_string()))?;
    Ok(feed.entries().iter().map(atom_draft).collect())
}

fn atom_draft(entry: &atom_syndication::Entry) -> Draft {
    use atom_syndication::TextType;
    let text = |t: &atom_syndication::Text| match t.r#type {
        // Plain text may hold a literal "<" that must not be read as markup.
        TextType::Text => escape(&t.value),
        TextType::Html | TextType::Xhtml => t.value.clone(),
    };
    let link = |rel: &str| {
        entry
            .links()
            .iter()
            .find(|l| l.rel() == rel)
            .map(|l| l.href().to_owned())
    };
    let mut draft = Draft {
        id: Some(entry.id().to_owned()),
        url: link("alternate"),
        headline: Some(text(entry.title())),
        standfirst: entry.summary().map(text),
        body_html: entry.content().and_then(|c| {
            let value = c.value()?;
            Some(match c.content_type() {
                Some("text") => format!("<p>{}</p>", escape(value)),
                _ => value.to_owned(),
            })
        }),
        author: entry.authors().first().map(|a| a.name().to_owned()),
        published_at: entry.published().map(|d| d.with_timezone(&Utc)),
        updated_at: Some(entry.updated().with_timezone(&Utc)),
        ..Draft::default()
    };
    categories(
        &mut draft,
        entry
            .categories()
            .iter()
            .map(|c| c.label().unwrap_or(c.term())),
    );
    if let Some(image) = entry
        .links()
        .iter()
        .find(|l| l.rel() == "enclosure" && l.mime_type().is_some_and(|m| m.starts_with("image/")))
    {
        draft.image_url = Some(image.href().to_owned());
        draft.image_alt = image.title().map(str::to_owned);
    }
    media_image(&mut draft, entry.extensions());
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

/// The parts of a feed extension element a Media RSS image needs; the RSS
/// and Atom crates each have their own (identical) extension type.
trait Extension {
    fn attr(&self, name: &str) -> Option<&str>;
    fn child_value(&self, name: &str) -> Option<&str>;
}

impl Extension for rss::extension::Extension {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs().get(name).map(String::as_str)
    }
    fn child_value(&self, name: &str) -> Option<&str> {
        self.children().get(name)?.first()?.value()
    }
}

impl Extension for atom_syndication::extension::Extension {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs().get(name).map(String::as_str)
    }
    fn child_value(&self, name: &str) -> Option<&str> {
        self.children().get(name)?.first()?.value()
    }
}

/// A Media RSS image: `<media:content medium="image">` or `<media:thumbnail>`.
fn media_image<E: Extension>(
    draft: &mut Draft,
    extensions: &BTreeMap<String, BTreeMap<String, Vec<E>>>,
) {
    let Some(media) = extensions.get("media") else {
        return;
    };
    let is_image = |e: &&E| {
        e.attr("medium") == Some("image") || e.attr("type").is_some_and(|t| t.starts_with("image/"))
    };
    let content = media.get("content").and_then(|c| c.iter().find(is_image));
    let thumbnail = media.get("thumbnail").and_then(|t| t.first());
    let Some(image) = content.or(thumbnail) else {
        return;
    };
    fill(&mut draft.image_url, image.attr("url"));
    fill(
        &mut draft.image_alt,
        image
            .child_value("description")
            .or_else(|| image.child_value("title")),
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
    fn entity_declarations_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><rss version="2.0"><channel><title>&lol2;</title></channel></rss>"#;
        let base = Url::parse("https://example.com/").unwrap();
        assert!(matches!(
            parse_feed(bomb, &base, "2026-11-23T12:00:00Z".parse().unwrap()),
            Err(IngestError::EntityDeclaration)
        ));
    }
}
