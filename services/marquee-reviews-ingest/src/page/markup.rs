//! An article's fields from the page's own markup, for pages without
//! structured data.

use std::collections::HashSet;

use scraper::{ElementRef, Html};

use super::selector;
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

/// The page's own markup, for pages without structured data: the `<h1>` is
/// the headline, a short paragraph or dek right under it the standfirst,
/// the following paragraphs the body until a "Where to watch", "More
/// Reviews…" or other heading closes it; a short label above the headline
/// is the section.
pub(super) fn read(html: &Html, draft: &mut Draft) {
    let (Some(h1s), Some(blocks)) = (
        selector("h1"),
        selector("h1, h2, h3, h4, h5, h6, p, blockquote, ul, ol, div, span, a, time, img"),
    ) else {
        return;
    };
    let h1 = html.select(&h1s).next();
    match (h1, selector("title")) {
        (Some(h1), _) => fill(&mut draft.headline, Some(text(h1))),
        // Without an <h1>, the <title> is the last resort for a headline.
        (None, Some(title)) => fill(&mut draft.headline, html.select(&title).next().map(text)),
        (None, None) => {}
    }
    // Looked for within the headline's <article> (or <main>), so teasers
    // elsewhere on the page stay out of the review.
    let scope = h1
        .and_then(|h1| {
            h1.ancestors()
                .filter_map(ElementRef::wrap)
                .find(|a| matches!(a.value().name(), "article" | "main"))
        })
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
    let Some(h1) = h1 else {
        return;
    };
    let mut taken = HashSet::new();
    let mut after_h1 = false;
    let mut standfirst = None;
    let mut body = Vec::new();
    let mut label_before_h1 = None;
    for element in scope.select(&blocks) {
        if in_chrome(element) || element.ancestors().any(|a| taken.contains(&a.id())) {
            continue;
        }
        let name = element.value().name();
        if element.id() == h1.id() {
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
