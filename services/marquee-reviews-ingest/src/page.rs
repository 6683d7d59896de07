//! Reading article pages: links from an index page or sitemap, then each
//! article's fields from schema.org JSON-LD, then OpenGraph and `<meta>`
//! tags, then the page's own markup (headline, standfirst, body paragraphs).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use url::Url;

use crate::draft::{Candidate, Draft, fill, parse_date};
use crate::error::IngestError;
use crate::feed::{root_element, without_prolog};
use crate::film::{scaled, year_of};
use crate::sanitize::{collapse_whitespace, push_text};

/// Articles read per poll at most, so a huge sitemap cannot stall a source.
pub(crate) const MAX_ARTICLES: usize = 200;

/// schema.org types that describe an article, most specific first.
const ARTICLE_TYPES: [&str; 6] = [
    "Review",
    "CriticReview",
    "NewsArticle",
    "ReportageNewsArticle",
    "Article",
    "BlogPosting",
];

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

fn selector(css: &str) -> Option<Selector> {
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

/// The review on the article page `text`, found at `url`.
pub(crate) fn extract_article(text: &str, url: &Url) -> Result<Candidate, IngestError> {
    let html = Html::parse_document(text);
    let mut draft = Draft::default();
    if let Some(article) = json_ld_article(&html) {
        read_json_ld(&article, &mut draft);
    }
    read_meta(&html, &mut draft);
    read_markup(&html, &mut draft);
    fill(&mut draft.url, Some(url.as_str()));
    draft.finish(url)
}

/// The most specific article object among the page's JSON-LD blocks,
/// looking inside arrays and `@graph`.
fn json_ld_article(html: &Html) -> Option<Value> {
    let scripts = selector(r#"script[type="application/ld+json"]"#)?;
    let mut objects = Vec::new();
    for script in html.select(&scripts) {
        let json: String = script.text().collect();
        // A broken block is common in the wild; the other readers still run.
        if let Ok(value) = serde_json::from_str::<Value>(&json) {
            flatten(value, &mut objects);
        }
    }
    ARTICLE_TYPES.iter().find_map(|wanted| {
        objects
            .iter()
            .find(|o| types(o).any(|t| t == *wanted))
            .cloned()
    })
}

fn flatten(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        Value::Object(mut object) => {
            if let Some(graph) = object.remove("@graph") {
                flatten(graph, out);
            }
            out.push(Value::Object(object));
        }
        _ => {}
    }
}

fn types(object: &Value) -> impl Iterator<Item = &str> {
    let types = match object.get("@type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    types.into_iter()
}

/// A string, a number, the first of an array, or an object's `key` field.
fn text_of(value: Option<&Value>, key: &str) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.iter().find_map(|v| text_of(Some(v), key)),
        object @ Value::Object(_) => text_of(object.get(key), key),
        _ => None,
    }
}

fn first_object(value: Option<&Value>) -> Option<&Value> {
    match value? {
        Value::Array(items) => items.iter().find(|v| v.is_object()),
        object @ Value::Object(_) => Some(object),
        _ => None,
    }
}

fn read_json_ld(article: &Value, draft: &mut Draft) {
    let field = |name: &str| text_of(article.get(name), "name");
    fill(
        &mut draft.headline,
        field("headline").or_else(|| field("name")),
    );
    fill(&mut draft.standfirst, field("description"));
    fill(
        &mut draft.body_text,
        field("articleBody").or_else(|| field("reviewBody")),
    );
    fill(&mut draft.author, field("author"));
    fill(&mut draft.section, field("articleSection"));
    fill(
        &mut draft.url,
        text_of(article.get("url"), "@id")
            .or_else(|| text_of(article.get("mainEntityOfPage"), "@id")),
    );
    draft.published_at = draft
        .published_at
        .or_else(|| field("datePublished").as_deref().and_then(parse_date));
    draft.updated_at = draft
        .updated_at
        .or_else(|| field("dateModified").as_deref().and_then(parse_date));
    let image = first_object(article.get("image"));
    fill(
        &mut draft.image_url,
        text_of(article.get("image"), "url")
            .or_else(|| text_of(image.and_then(|i| i.get("contentUrl")), "url")),
    );
    fill(
        &mut draft.image_alt,
        image.and_then(|i| {
            text_of(i.get("caption"), "text").or_else(|| text_of(i.get("name"), "name"))
        }),
    );
    let film =
        first_object(article.get("itemReviewed")).or_else(|| first_object(article.get("about")));
    if let Some(film) = film {
        fill(&mut draft.film_title, text_of(film.get("name"), "name"));
        draft.film_year = draft.film_year.or_else(|| {
            [
                "dateCreated",
                "datePublished",
                "releaseDate",
                "copyrightYear",
            ]
            .into_iter()
            .find_map(|key| text_of(film.get(key), "name").as_deref().and_then(year_of))
        });
    }
    if let Some(rating) = first_object(article.get("reviewRating")) {
        let value = text_of(rating.get("ratingValue"), "value");
        let best = text_of(rating.get("bestRating"), "value").unwrap_or_else(|| "5".to_owned());
        draft.rating = draft.rating.or_else(|| scaled(value.as_deref()?, &best));
    }
}

fn read_meta(html: &Html, draft: &mut Draft) {
    let meta = |key: &str| {
        let css = format!(r#"meta[property="{key}"], meta[name="{key}"]"#);
        let sel = selector(&css)?;
        html.select(&sel)
            .find_map(|m| m.value().attr("content").map(str::to_owned))
    };
    if let Some(canonical) = selector(r#"link[rel="canonical"]"#) {
        fill(
            &mut draft.url,
            html.select(&canonical).find_map(|l| l.value().attr("href")),
        );
    }
    fill(&mut draft.url, meta("og:url"));
    fill(
        &mut draft.headline,
        meta("og:title").or_else(|| meta("twitter:title")),
    );
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
fn read_markup(html: &Html, draft: &mut Draft) {
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
