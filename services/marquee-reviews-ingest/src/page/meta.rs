//! An article's fields from OpenGraph, Twitter and `<meta>` tags and the
//! canonical link.

use scraper::Html;

use super::selector;
use crate::draft::{Draft, fill, parse_date};

/// The `content` of the page's first `<meta>` with `property` or `name`
/// `key`.
pub(super) fn meta(html: &Html, key: &str) -> Option<String> {
    let css = format!(r#"meta[property="{key}"], meta[name="{key}"]"#);
    let sel = selector(&css)?;
    html.select(&sel)
        .find_map(|m| m.value().attr("content").map(str::to_owned))
}

/// Fills what the page's meta tags say but the headline, which
/// [`super::markup`] chooses among the page's candidates (`og:title` one).
pub(super) fn read(html: &Html, draft: &mut Draft) {
    let meta = |key: &str| meta(html, key);
    if let Some(canonical) = selector(r#"link[rel="canonical"]"#) {
        fill(
            &mut draft.url,
            html.select(&canonical).find_map(|l| l.value().attr("href")),
        );
    }
    fill(&mut draft.url, meta("og:url"));
    fill(
        &mut draft.standfirst,
        meta("og:description")
            .or_else(|| meta("description"))
            .or_else(|| meta("twitter:description")),
    );
    fill(
        &mut draft.image_url,
        meta("og:image:secure_url").or_else(|| meta("og:image")),
    );
    fill(&mut draft.image_alt, meta("og:image:alt"));
    fill(&mut draft.section, meta("article:section"));
    // `article:author` is often a profile URL; only a name is useful here.
    fill(
        &mut draft.author,
        meta("author").or_else(|| meta("article:author").filter(|a| !a.starts_with("http"))),
    );
    draft.published_at = draft.published_at.or_else(|| {
        meta("article:published_time")
            .as_deref()
            .and_then(parse_date)
    });
    draft.updated_at = draft.updated_at.or_else(|| {
        meta("article:modified_time")
            .or_else(|| meta("og:updated_time"))
            .as_deref()
            .and_then(parse_date)
    });
}
