//! Reading article pages: links from an index page or sitemap, then each
//! article's fields from schema.org JSON-LD ([`json_ld`]), then OpenGraph and
//! `<meta>` tags ([`meta`]), then the page's own markup ([`markup`]:
//! headline, standfirst, body paragraphs).

mod json_ld;
mod markup;
mod meta;

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use crate::draft::{Candidate, Draft, fill};
use crate::error::IngestError;
use crate::feed::{root_element, without_prolog};
use crate::settings::LinkSelector;

/// Articles read per poll at most, so a huge sitemap cannot stall a source.
pub(crate) const MAX_ARTICLES: usize = 200;

pub(super) fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

/// Where an index page's article links are looked for without a `links`
/// selector: `<article>`s, headings, list items (`<ul>`/`<ol>` of links)
/// and cards or teasers, so a plain list of links is read like a grid.
const DEFAULT_LINKS: &str = "article a[href], h2 a[href], h3 a[href], h4 a[href], li a[href], \
     [class*=card] a[href], [class*=teaser] a[href], [class*=tile] a[href], \
     [class*=post] a[href], [class*=story] a[href], [class*=entry] a[href]";

/// What [`DEFAULT_LINKS`] is called in a [`IngestError::NoArticles`].
const DEFAULT_LINKS_SAID: &str = "same-site links in <article>s, headings, <ul>/<ol> lists and cards, outside <nav>, <header>, <footer>, <aside> and forms";

/// Article links of an index page or a sitemap (`<loc>`), in order, without
/// duplicates, on the index's site. On an index page, `links` picks them
/// exactly (an element it selects is a link, or holds links); without it
/// they are looked for as [`DEFAULT_LINKS`] says, outside the page chrome
/// (navigation, header, footer, sidebars, forms). A document that links no
/// article is an error: the source is then unhealthy, with the reason.
pub(crate) fn article_links(
    text: &str,
    base: &Url,
    links: Option<&LinkSelector>,
) -> Result<Vec<Url>, IngestError> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut push = |href: &str| {
        if let Ok(mut url) = base.join(href.trim()) {
            url.set_fragment(None);
            if url.origin() == base.origin() && url != *base && seen.insert(url.clone()) {
                found.push(url);
            }
        }
    };
    let looked_for = if matches!(
        root_element(text.trim_start_matches('\u{feff}')),
        Some("urlset")
    ) {
        static LOC: LazyLock<Option<Regex>> =
            LazyLock::new(|| Regex::new(r"(?s)<loc>\s*(.*?)\s*</loc>").ok());
        let text = without_prolog(text)?;
        if let Some(loc) = LOC.as_ref() {
            for caps in loc.captures_iter(text) {
                if let Some(href) = caps.get(1) {
                    push(&href.as_str().replace("&amp;", "&"));
                }
            }
        }
        "same-site <loc> entries of the sitemap".to_owned()
    } else {
        let html = Html::parse_document(text);
        match links {
            Some(links) => {
                for element in html.select(links.selector()) {
                    match element.value().attr("href") {
                        Some(href) if element.value().name() == "a" => push(href),
                        _ => element
                            .descendants()
                            .filter_map(ElementRef::wrap)
                            .filter(|e| e.value().name() == "a")
                            .filter_map(|a| a.value().attr("href"))
                            .for_each(&mut push),
                    }
                }
                format!("same-site links selected by `{}`", links.as_str())
            }
            None => {
                if let Some(anchors) = selector(DEFAULT_LINKS) {
                    for a in html.select(&anchors).filter(|a| !in_page_chrome(*a)) {
                        if let Some(href) = a.value().attr("href") {
                            push(href);
                        }
                    }
                }
                DEFAULT_LINKS_SAID.to_owned()
            }
        }
    };
    if found.is_empty() {
        return Err(IngestError::NoArticles {
            index: base.clone(),
            looked_for,
        });
    }
    found.truncate(MAX_ARTICLES);
    Ok(found)
}

/// Whether `a` sits in the page's navigation, header, footer, a sidebar or
/// a form, or is a pagination, tag or author link: menus are lists of
/// same-site links too, but never articles. A card's own `<header>` or
/// `<footer>` (inside an `<article>`) is not the page's.
fn in_page_chrome(a: ElementRef<'_>) -> bool {
    let rel = a.value().attr("rel").unwrap_or_default();
    if rel
        .split_whitespace()
        .any(|r| matches!(r, "next" | "prev" | "tag" | "author" | "category"))
    {
        return true;
    }
    let ancestors: Vec<ElementRef<'_>> = a.ancestors().filter_map(ElementRef::wrap).collect();
    ancestors.iter().enumerate().any(|(n, e)| {
        let name = e.value().name();
        let role = e.value().attr("role").unwrap_or_default();
        let in_article = || {
            ancestors[n + 1..]
                .iter()
                .any(|o| o.value().name() == "article")
        };
        matches!(name, "nav" | "aside" | "form")
            || matches!(
                role,
                "navigation" | "banner" | "contentinfo" | "complementary"
            )
            || (matches!(name, "header" | "footer") && !in_article())
    })
}

/// The review on the article page `text`, found at `url`; `now` dates an
/// undated one.
pub(crate) fn extract_article(
    text: &str,
    url: &Url,
    now: DateTime<Utc>,
) -> Result<Candidate, IngestError> {
    let html = Html::parse_document(text);
    let mut draft = Draft::default();
    if let Some(article) = json_ld::article(&html) {
        json_ld::read(&article, &mut draft);
    }
    meta::read(&html, &mut draft);
    markup::read(&html, &mut draft);
    fill(&mut draft.url, Some(url.as_str()));
    draft.finish(url, now)
}
