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
use scraper::{Html, Selector};
use url::Url;

use crate::draft::{Candidate, Draft, fill};
use crate::error::IngestError;
use crate::feed::{root_element, without_prolog};

/// Articles read per poll at most, so a huge sitemap cannot stall a source.
pub(crate) const MAX_ARTICLES: usize = 200;

pub(super) fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

/// Article links of an index page (`<article>` and heading links on the same
/// site) or a sitemap (`<loc>`), in order, without duplicates.
pub(crate) fn article_links(text: &str, base: &Url) -> Result<Vec<Url>, IngestError> {
    let mut seen = HashSet::new();
    let mut links = Vec::new();
    let mut push = |href: &str| {
        if let Ok(mut url) = base.join(href.trim()) {
            url.set_fragment(None);
            if url.origin() == base.origin() && url != *base && seen.insert(url.clone()) {
                links.push(url);
            }
        }
    };
    if matches!(
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
    } else {
        let html = Html::parse_document(text);
        if let Some(anchors) = selector("article a[href], h2 a[href], h3 a[href]") {
            for a in html.select(&anchors) {
                if let Some(href) = a.value().attr("href") {
                    push(href);
                }
            }
        }
    }
    links.truncate(MAX_ARTICLES);
    Ok(links)
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
