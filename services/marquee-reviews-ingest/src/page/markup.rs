//! An article's fields from the page's own markup, for pages without
//! structured data.

use std::collections::HashSet;

use scraper::{ElementRef, Html};

use super::{meta, selector};
use crate::draft::{Draft, fill, parse_date};
use crate::sanitize::{collapse_whitespace, push_text};

/// Headings and labels that end an article's body on the publication's pages.
const BODY_ENDS: [&str; 8] = [
    "where to watch",
    "more reviews",
    "features",
    "related",
    "read more",
    "you might also like",
    "share this",
    "comments",
];

/// Classes of bylines, ratings and kickers.
const LABEL_CLASSES: [&str; 9] = [
    "byline", "author", "rating", "stars", "kicker", "eyebrow", "category", "dateline", "section",
];

fn text(element: ElementRef<'_>) -> String {
    let mut out = String::new();
    push_text(element, &mut out);
    collapse_whitespace(&out)
}

fn class_has(element: ElementRef<'_>, words: &[&str]) -> bool {
    element.value().attr("class").is_some_and(|class| {
        let class = class.to_ascii_lowercase();
        words.iter().any(|w| class.contains(w))
    })
}

/// Page chrome: never part of an article's body.
fn is_chrome(element: ElementRef<'_>) -> bool {
    matches!(
        element.value().name(),
        "nav"
            | "aside"
            | "footer"
            | "header"
            | "form"
            | "figure"
            | "figcaption"
            | "script"
            | "style"
    )
}

fn ends_body(text: &str) -> bool {
    let text = text.trim_end_matches(['.', ':', '…']).to_lowercase();
    BODY_ENDS
        .iter()
        .any(|end| text == *end || text.starts_with(&format!("{end}.")))
}

/// Separators between a `<title>`'s headline and the site's name.
const TITLE_SEPARATORS: [&str; 3] = [" | ", " - ", " — "];

/// A site name is short: a longer tail after a separator is headline.
const SITE_NAME_CHARS: usize = 40;

/// `title` without its site suffix (" | Site", " - Site", " — Site"): the
/// page's `og:site_name` when it ends the title, else a short tail after
/// the last separator.
fn without_site_suffix(title: &str, site_name: Option<&str>) -> String {
    let title = title.trim();
    for separator in TITLE_SEPARATORS {
        if let Some(site) = site_name.map(str::trim).filter(|s| !s.is_empty())
            && let Some(head) = title
                .strip_suffix(site)
                .and_then(|t| t.strip_suffix(separator))
        {
            return head.trim().to_owned();
        }
    }
    let cut = TITLE_SEPARATORS
        .iter()
        .filter_map(|separator| title.rfind(separator).map(|at| (at, separator.len())))
        .max();
    match cut {
        Some((at, len))
            if at > 0 && title[at + len..].trim().chars().count() <= SITE_NAME_CHARS =>
        {
            title[..at].trim().to_owned()
        }
        _ => title.to_owned(),
    }
}

/// The same words, whatever the case and spacing.
fn same_text(a: &str, b: &str) -> bool {
    collapse_whitespace(a).to_lowercase() == collapse_whitespace(b).to_lowercase()
}

/// The page's own markup, for pages without structured data.
///
/// The headline is the best the page offers: its `<h1>`, else `og:title`
/// (or `twitter:title`), else the `<title>` without the site's name, else
/// the first `<h2>`/`<h3>` that does not close an article ("Where to
/// watch"). The body is read after the heading that holds the headline
/// (from the top of the article when none does): a short paragraph or dek
/// right under it is the standfirst, the following paragraphs the body
/// until a "Where to watch", "More Reviews…" or other heading closes it; a
/// short label above the headline is the section.
pub(super) fn read(html: &Html, draft: &mut Draft) {
    let (Some(heading_tags), Some(blocks)) = (
        selector("h1, h2, h3"),
        selector("h1, h2, h3, h4, h5, h6, p, blockquote, ul, ol, div, span, a, time, img"),
    ) else {
        return;
    };
    // Headings of the page, not of its menus or sidebars (a <header> may
    // hold the article's own headline).
    let headings: Vec<ElementRef<'_>> = html
        .select(&heading_tags)
        .filter(|h| {
            !h.ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| matches!(a.value().name(), "nav" | "aside" | "footer" | "form"))
        })
        .filter(|h| !text(*h).is_empty())
        .collect();
    let h1 = headings.iter().copied().find(|h| h.value().name() == "h1");
    let first_heading = headings
        .iter()
        .copied()
        .find(|h| h.value().name() != "h1" && !ends_body(&text(*h)));
    let site_name = meta::meta(html, "og:site_name");
    let title = selector("title")
        .and_then(|title| html.select(&title).next().map(text))
        .map(|title| without_site_suffix(&title, site_name.as_deref()));
    let headline = h1
        .map(text)
        .or_else(|| meta::meta(html, "og:title"))
        .or_else(|| meta::meta(html, "twitter:title"))
        .map(|h| collapse_whitespace(&h))
        .filter(|h| !h.is_empty())
        .or(title.filter(|t| !t.is_empty()))
        .or_else(|| first_heading.map(text));
    fill(&mut draft.headline, headline.clone());
    // The heading the body follows: the <h1>, else the one that says the
    // headline; a teaser's heading never starts the body.
    let h1 = h1.or_else(|| {
        let headline = draft.headline.as_deref().or(headline.as_deref())?;
        headings
            .iter()
            .copied()
            .find(|h| same_text(&text(*h), headline))
    });
    // Looked for within the headline's <article> (or <main>), so teasers
    // elsewhere on the page stay out of the review.
    let scope = match h1 {
        Some(h1) => h1
            .ancestors()
            .filter_map(ElementRef::wrap)
            .find(|a| matches!(a.value().name(), "article" | "main")),
        None => ["article", "main"].into_iter().find_map(|tag| {
            let tag = selector(tag)?;
            html.select(&tag).next()
        }),
    }
    .unwrap_or_else(|| html.root_element());
    let h1_line: HashSet<_> = h1
        .iter()
        .flat_map(|h1| h1.ancestors())
        .map(|a| a.id())
        .collect();
    let in_chrome = |element: ElementRef<'_>| {
        is_chrome(element)
            || element
                .ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| is_chrome(a) && !h1_line.contains(&a.id()))
    };
    for element in scope.select(&blocks) {
        if !in_chrome(element) {
            read_labels(element, &text(element), draft);
        }
    }
    let mut taken = HashSet::new();
    // Without a heading to follow, the body starts at the top of the scope.
    let mut after_h1 = h1.is_none();
    let mut standfirst = None;
    let mut body = Vec::new();
    let mut label_before_h1 = None;
    for element in scope.select(&blocks) {
        if in_chrome(element) || element.ancestors().any(|a| taken.contains(&a.id())) {
            continue;
        }
        let name = element.value().name();
        if h1.is_some_and(|h1| element.id() == h1.id()) {
            after_h1 = true;
            continue;
        }
        let content = text(element);
        if name == "img" && after_h1 {
            fill(&mut draft.image_url, element.value().attr("src"));
            fill(&mut draft.image_alt, element.value().attr("alt"));
            continue;
        }
        if !after_h1 {
            let leaf = element.children().all(|c| !c.value().is_element());
            if leaf && !content.is_empty() && content.chars().count() <= 40 {
                label_before_h1 = Some(content);
            }
            continue;
        }
        // Bylines, ratings and labels were read above; they are not prose.
        if class_has(element, &LABEL_CLASSES) {
            continue;
        }
        let is_heading = matches!(name, "h2" | "h3" | "h4" | "h5" | "h6");
        if ends_body(&content) || (is_heading && !body.is_empty()) {
            break;
        }
        let dek = class_has(
            element,
            &[
                "standfirst",
                "dek",
                "subtitle",
                "subhead",
                "lede",
                "excerpt",
                "intro",
            ],
        );
        if body.is_empty()
            && standfirst.is_none()
            && (dek || is_heading || (name == "p" && content.chars().count() <= 300))
        {
            if !content.is_empty() {
                standfirst = Some(content);
                taken.insert(element.id());
            }
            continue;
        }
        if matches!(name, "p" | "blockquote" | "ul" | "ol") && !content.is_empty() {
            body.push(element.html());
            taken.insert(element.id());
        }
    }
    fill(&mut draft.section, label_before_h1);
    fill(&mut draft.standfirst, standfirst);
    if !body.is_empty() {
        fill(&mut draft.body_html, Some(body.concat()));
    }
}

/// Bylines, ratings and dates marked up by class, `rel` or `itemprop`.
fn read_labels(element: ElementRef<'_>, content: &str, draft: &mut Draft) {
    let attr = |name| element.value().attr(name).unwrap_or_default();
    if class_has(element, &["byline", "author"])
        || attr("rel") == "author"
        || attr("itemprop") == "author"
    {
        fill(&mut draft.author, Some(content));
    }
    if class_has(element, &["rating", "stars"]) || attr("itemprop") == "ratingValue" {
        let label = element.value().attr("aria-label").unwrap_or(content);
        draft.rating_hints.push(label.to_owned());
    }
    if element.value().name() == "time" && draft.published_at.is_none() {
        draft.published_at = element.value().attr("datetime").and_then(parse_date);
    }
    if class_has(element, &["section", "category", "kicker", "eyebrow"])
        && !class_has(element, &["sections"])
        && content.chars().count() <= 40
    {
        fill(&mut draft.section, Some(content));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The headline `markup::read` finds in a page with `head` and `body`.
    fn headline(head: &str, body: &str) -> Option<String> {
        let html = Html::parse_document(&format!(
            "<html><head>{head}</head><body>{body}</body></html>"
        ));
        let mut draft = Draft::default();
        read(&html, &mut draft);
        draft.headline
    }

    #[test]
    fn the_headline_is_the_best_the_page_offers() {
        let og = r#"<meta property="og:title" content="Heat review – og"><title>Heat review – title | Marquee</title>"#;
        let body = "<h2>Heat review – heading</h2><p>Michael Mann.</p>";
        assert_eq!(
            headline(og, &format!("<h1>Heat review – h1</h1>{body}")).as_deref(),
            Some("Heat review – h1")
        );
        assert_eq!(headline(og, body).as_deref(), Some("Heat review – og"));
        let title = |t: &str| headline(&format!("<title>{t}</title>"), body);
        for (written, read) in [
            ("Heat review – title | Marquee", "Heat review – title"),
            ("Heat review – title - Marquee Films", "Heat review – title"),
            ("Heat review – title — Marquee", "Heat review – title"),
            // An en dash is the headline's own; a long tail is no site name.
            ("Heat review – a slow burn", "Heat review – a slow burn"),
            (
                "Heat - a crime saga of two men who are each other's mirror",
                "Heat - a crime saga of two men who are each other's mirror",
            ),
        ] {
            assert_eq!(title(written).as_deref(), Some(read), "{written}");
        }
        let site = r#"<meta property="og:site_name" content="Marquee | Films"><title>Heat | Marquee | Films</title>"#;
        assert_eq!(headline(site, "").as_deref(), Some("Heat"));
        // The first heading that does not close an article.
        assert_eq!(
            headline("", "<h3>Where to watch</h3><h2>Heat review</h2>").as_deref(),
            Some("Heat review")
        );
        assert_eq!(headline("", "<p>No heading at all.</p>"), None);
    }

    #[test]
    fn without_an_h1_the_body_follows_the_heading_that_holds_the_headline() {
        let html = Html::parse_document(
            "<html><head><title>Heat review | Marquee</title></head><body>\
             <h3>Most read</h3><p>A teaser.</p>\
             <h2>Heat review</h2><p>A slow burn.</p><p>Mann's finest.</p>\
             <h3>Where to watch</h3><p>Cinemas.</p></body></html>",
        );
        let mut draft = Draft::default();
        read(&html, &mut draft);
        assert_eq!(draft.headline.as_deref(), Some("Heat review"));
        assert_eq!(draft.standfirst.as_deref(), Some("A slow burn."));
        assert_eq!(draft.body_html.as_deref(), Some("<p>Mann's finest.</p>"));
    }
}
