//! RSS 2.0 with the Atom (self and hub links), Dublin Core (creator),
//! content (`content:encoded`) and Media RSS (image) extensions.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use marquee_runtime::html::escape;

use super::xml::xml_text;
use super::{Channel, Entry, Format, Fragment, GENERATOR, RenderError, Site, assemble, fragment};

/// The namespaces items use, declared on `<rss>`: the writer would declare
/// them itself only for the items it writes, and the channel's head is
/// written with none.
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";
const DUBLIN_CORE_NS: &str = rss::extension::dublincore::NAMESPACE;
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// Where items go: they are the last children of `<channel>`.
const CLOSING: &str = "</channel></rss>";

/// `entry` as an RSS `<item>`, as the `rss` crate writes it in a channel.
pub(super) fn item(entry: &Entry) -> Result<Vec<u8>, RenderError> {
    use rss::extension::dublincore::DublinCoreExtension;

    let item = rss::Item {
        title: Some(xml_text(&entry.title).into_owned()),
        link: entry.url.clone(),
        description: Some(escape(&xml_text(&entry.summary))),
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
        extensions: entry.image.as_ref().map(media).unwrap_or_default(),
        ..rss::Item::default()
    };
    let alone = rss::Channel {
        items: vec![item],
        ..rss::Channel::default()
    }
    .write_to(Vec::new())?;
    fragment(&alone, "<item>", CLOSING)
}

/// A Media RSS `media:content` image, with its alt text as its description.
fn media((url, alt): &(String, Option<String>)) -> rss::extension::ExtensionMap {
    use rss::extension::Extension;

    let mut media = Extension {
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
            vec![Extension {
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
}

pub(super) fn feed(
    site: &Site,
    feed: &Channel<'_>,
    items: &[Arc<Fragment>],
    updated: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    use rss::extension::atom::{AtomExtension, Link};

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
    let mut namespaces = BTreeMap::new();
    let uses = |used: fn(&Entry) -> bool| items.iter().any(|item| used(&item.entry));
    if !items.is_empty() {
        namespaces.insert("content".to_owned(), CONTENT_NS.to_owned());
    }
    if uses(|entry| entry.author.is_some()) {
        namespaces.insert("dc".to_owned(), DUBLIN_CORE_NS.to_owned());
    }
    if uses(|entry| entry.image.is_some()) {
        namespaces.insert("media".to_owned(), MEDIA_NS.to_owned());
    }
    let head = rss::Channel {
        title: xml_text(feed.title).into_owned(),
        link: site.base_url.to_string(),
        description: xml_text(feed.description).into_owned(),
        last_build_date: Some(updated.to_rfc2822()),
        generator: Some(GENERATOR.to_owned()),
        atom_ext: Some(AtomExtension { links }),
        namespaces,
        ..rss::Channel::default()
    }
    .write_to(Vec::new())?;
    assemble(&head, CLOSING, items.iter().map(|item| &*item.rss))
}
