//! RSS 2.0 with the Atom (self and hub links), Dublin Core (creator),
//! content (`content:encoded`) and Media RSS (image) extensions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use marquee_runtime::html::escape;

use super::xml::xml_text;
use super::{Channel, Entry, Format, GENERATOR, RenderError, Site, output_buffer};

/// The Media RSS namespace, declared when an item carries an image.
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub(super) fn feed(
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
