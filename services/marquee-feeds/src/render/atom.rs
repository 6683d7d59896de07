//! Atom 1.0 (RFC 4287).

use std::sync::Arc;

use atom_syndication::{Category, Feed, Link, Person, WriteConfig};
use chrono::{DateTime, Utc};

use super::xml::xml_text;
use super::{Channel, Entry, Format, Fragment, GENERATOR, RenderError, Site, assemble, fragment};

/// Where entries go: they are the last children of `<feed>` (it has no
/// extensions after them).
const CLOSING: &str = "</feed>";

const CONFIG: WriteConfig = WriteConfig {
    write_document_declaration: true,
    indent_size: None,
};

/// `entry` as an Atom `<entry>`, as `atom_syndication` writes it in a feed
/// (where it inherits the feed's namespace).
pub(super) fn entry(entry: &Entry) -> Result<Vec<u8>, RenderError> {
    use atom_syndication::{Content, Text};

    let atom = atom_syndication::Entry {
        title: Text::plain(xml_text(&entry.title)),
        id: entry.id.clone(),
        updated: entry.updated.fixed_offset(),
        published: Some(entry.published.fixed_offset()),
        authors: entry.author.iter().map(|name| person(name)).collect(),
        categories: entry.categories.iter().map(|term| category(term)).collect(),
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
        ..atom_syndication::Entry::default()
    };
    let alone = Feed {
        entries: vec![atom],
        ..Feed::default()
    }
    .write_with_config(Vec::new(), CONFIG)?;
    fragment(&alone, "<entry>", CLOSING)
}

pub(super) fn feed(
    site: &Site,
    feed: &Channel<'_>,
    items: &[Arc<Fragment>],
    updated: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    use atom_syndication::{Generator, Text};

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
    // Atom requires an author on every entry; the feed's stands in for
    // entries without a byline.
    let authors = if items.iter().any(|item| item.entry.author.is_none()) {
        vec![person(feed.title)]
    } else {
        Vec::new()
    };
    let head = Feed {
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
        ..Feed::default()
    }
    .write_with_config(Vec::new(), CONFIG)?;
    assemble(&head, CLOSING, items.iter().map(|item| &*item.atom))
}

fn link(href: String, rel: &str, mime_type: Option<&str>) -> Link {
    Link {
        href,
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Link::default()
    }
}

/// A person named `name` (escaped for XML).
fn person(name: &str) -> Person {
    Person {
        name: xml_text(name).into_owned(),
        ..Person::default()
    }
}

/// A category of `term` (escaped for XML).
fn category(term: &str) -> Category {
    Category {
        term: xml_text(term).into_owned(),
        ..Category::default()
    }
}
