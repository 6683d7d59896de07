//! An article's fields from its schema.org JSON-LD: the most specific
//! article object among the page's blocks, looking inside arrays and
//! `@graph`.

use scraper::Html;
use serde_json::Value;

use super::selector;
use crate::draft::{Draft, fill, parse_date};
use crate::film::{scaled, year_of};

/// schema.org types that describe an article, most specific first.
const ARTICLE_TYPES: [&str; 6] = [
    "Review",
    "CriticReview",
    "NewsArticle",
    "ReportageNewsArticle",
    "Article",
    "BlogPosting",
];

/// The most specific article object among the page's JSON-LD blocks,
/// looking inside arrays and `@graph`.
pub(super) fn article(html: &Html) -> Option<Value> {
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

pub(super) fn read(article: &Value, draft: &mut Draft) {
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
        draft.film_runtime_minutes = draft.film_runtime_minutes.or_else(|| {
            text_of(film.get("duration"), "name")
                .as_deref()
                .and_then(duration_minutes)
        });
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

/// Whole minutes (seconds rounded) of a schema.org `Movie.duration`, an
/// ISO 8601 duration such as `PT2H22M`, `PT142M` or `P0DT2H22M30S`; `None`
/// for anything else, or for zero.
fn duration_minutes(text: &str) -> Option<u16> {
    let time = text.trim().to_ascii_uppercase();
    let date = time.strip_prefix('P')?;
    let (days, time) = date.split_once('T').unwrap_or((date, ""));
    let days = match days.strip_suffix('D') {
        Some(n) => n.parse::<u32>().ok()?,
        None if days.is_empty() => 0,
        None => return None,
    };
    let mut seconds = days * 86_400;
    let mut number = String::new();
    for c in time.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'H' => 3600,
            'M' => 60,
            'S' => 1,
            _ => return None,
        };
        seconds = seconds.checked_add(number.parse::<u32>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        return None;
    }
    u16::try_from((seconds + 30) / 60).ok().filter(|m| *m > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movie_durations_are_read_in_minutes() {
        assert_eq!(duration_minutes("PT2H22M"), Some(142));
        assert_eq!(duration_minutes("PT142M"), Some(142));
        assert_eq!(duration_minutes("P0DT2H22M30S"), Some(143));
        assert_eq!(duration_minutes(" pt1h "), Some(60));
        for refused in ["", "P", "PT", "142", "PT2X", "PT0M", "P1Y", "PT22"] {
            assert_eq!(duration_minutes(refused), None, "{refused:?}");
        }
    }
}
