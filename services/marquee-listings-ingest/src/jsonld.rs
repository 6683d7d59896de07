//! HTML pages carrying schema.org `ScreeningEvent`s as JSON-LD: every
//! `<script type="application/ld+json">` is read, through arrays, `@graph`
//! and `ItemList`s.
//!
//! Mapping: `name` is the listed title (cleaned later); `workPresented`
//! gives year (`dateCreated`/`copyrightYear`), `director` and `duration`;
//! `startDate` the start (with an offset an instant, without one the venue's
//! wall clock); `identifier` (else `@id`) the identity; `location.name` the
//! screen unless it is the venue itself; `videoFormat` the format;
//! `superEvent.name` the strand; `offers.url` the booking link and
//! `offers.availability` `SoldOut`; `eventStatus` `EventCancelled` cancels;
//! `accessibilityFeature` the access provisions.

use chrono_tz::Tz;
use marquee_fetch::Document;
use scraper::{Html, Selector};
use serde_json::Value;
use url::Url;

use crate::error::IngestError;
use crate::normalize::{Draft, Label, Parsed, classify, parse_start};
use crate::reading::{Output, Reading};

/// Reads `document` as an HTML page with schema.org `ScreeningEvent`
/// JSON-LD; registered in [`crate::kinds`].
pub(crate) fn read(document: &Document, reading: &Reading) -> Output {
    parse(
        &document.text,
        &document.url,
        &reading.venue_name,
        reading.tz,
    )
}

/// Parses the page at `base`.
pub(crate) fn parse(
    html: &str,
    base: &Url,
    venue_name: &str,
    tz: Tz,
) -> Result<Parsed, IngestError> {
    let document = Html::parse_document(html);
    let selector = Selector::parse(r#"script[type="application/ld+json"]"#)
        .map_err(|e| IngestError::Unexpected(anyhow::anyhow!("bad selector: {e}")))?;
    let mut parsed = Parsed::default();
    let mut found = 0;
    for (script_index, script) in document.select(&selector).enumerate() {
        let text: String = script.text().collect();
        let value: Value = match serde_json::from_str(text.trim()) {
            Ok(value) => value,
            Err(error) => {
                parsed.rejected.push(IngestError::row(
                    format!("JSON-LD script {}", script_index + 1),
                    "invalid_json",
                    format!("the JSON-LD does not parse: {error}"),
                ));
                continue;
            }
        };
        let mut events = Vec::new();
        collect(&value, &mut events);
        for event in events {
            found += 1;
            let location = format!("JSON-LD script {} event {found}", script_index + 1);
            match screening_event(&location, event, base, venue_name, tz) {
                Ok(draft) => parsed.drafts.push(draft),
                Err(error) => parsed.rejected.push(error),
            }
        }
    }
    if found == 0 && parsed.rejected.is_empty() {
        return Err(IngestError::Document(
            "the page has no schema.org ScreeningEvent in JSON-LD".to_owned(),
        ));
    }
    Ok(parsed)
}

fn is_type(value: &Value, wanted: &str) -> bool {
    match value.get("@type") {
        Some(Value::String(t)) => t == wanted,
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some(wanted)),
        _ => false,
    }
}

fn collect<'a>(value: &'a Value, events: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect(item, events)),
        Value::Object(object) => {
            if is_type(value, "ScreeningEvent") {
                events.push(value);
                return;
            }
            for key in ["@graph", "itemListElement", "item", "subEvent", "event"] {
                if let Some(inner) = object.get(key) {
                    collect(inner, events);
                }
            }
        }
        _ => {}
    }
}

/// A text field: a string, or an object's `name`.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.iter().find_map(|item| text(Some(item))),
        object @ Value::Object(_) => text(object.get("name")),
        _ => None,
    }
}

fn screening_event(
    location: &str,
    event: &Value,
    base: &Url,
    venue_name: &str,
    tz: Tz,
) -> Result<Draft, IngestError> {
    let work = event.get("workPresented");
    let title = text(event.get("name"))
        .or_else(|| work.and_then(|w| text(w.get("name"))))
        .ok_or_else(|| {
            IngestError::row(location, "missing_title", "the ScreeningEvent has no name")
        })?;
    let start = text(event.get("startDate")).ok_or_else(|| {
        IngestError::row(
            location,
            "missing_start",
            format!("the ScreeningEvent {title:?} has no startDate"),
        )
    })?;
    let start = parse_start(&start, tz)
        .map_err(|reason| IngestError::row(location, "bad_date", reason.to_string()))?;
    let mut draft = Draft::new(location, title, start);
    draft.source_uid = text(event.get("identifier")).or_else(|| text(event.get("@id")));
    draft.screen = text(event.get("location")).filter(|l| !l.eq_ignore_ascii_case(venue_name));
    draft.format = text(event.get("videoFormat"));
    draft.strand = text(event.get("superEvent"));
    if let Some(work) = work {
        draft.year = ["dateCreated", "copyrightYear", "datePublished"]
            .iter()
            .find_map(|key| text(work.get(*key)))
            .and_then(|date| date.get(..4)?.parse().ok());
        draft.director = text(work.get("director"));
        draft.runtime_minutes = text(work.get("duration")).as_deref().and_then(minutes);
    }
    let offers: Vec<&Value> = match event.get("offers") {
        Some(Value::Array(offers)) => offers.iter().collect(),
        Some(offer) => vec![offer],
        None => vec![],
    };
    for offer in &offers {
        if draft.booking_url.is_none()
            && let Some(url) = text(offer.get("url"))
        {
            draft.booking_url = base
                .join(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"));
        }
    }
    draft.sold_out = !offers.is_empty()
        && offers
            .iter()
            .all(|o| text(o.get("availability")).is_some_and(|a| a.ends_with("SoldOut")));
    draft.cancelled = text(event.get("eventStatus")).is_some_and(|s| s.ends_with("EventCancelled"));
    let features: Vec<String> = match event.get("accessibilityFeature") {
        Some(Value::Array(items)) => items.iter().filter_map(|i| text(Some(i))).collect(),
        other => text(other).into_iter().collect(),
    };
    for feature in features {
        if let Some(Label::Access(access)) = classify(&feature) {
            draft.accessibility.push(access);
        }
    }
    Ok(draft)
}

/// Minutes of an ISO 8601 duration such as `PT2H45M` or `PT165M`.
fn minutes(duration: &str) -> Option<u16> {
    let rest = duration.strip_prefix("PT")?;
    let (hours, rest) = match rest.split_once('H') {
        Some((h, rest)) => (h.parse::<u16>().ok()?, rest),
        None => (0, rest),
    };
    let mins = match rest.strip_suffix('M') {
        Some(m) if !m.is_empty() => m.parse::<u16>().ok()?,
        _ => 0,
    };
    Some(hours * 60 + mins).filter(|m| *m > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_are_read_in_minutes() {
        assert_eq!(minutes("PT2H45M"), Some(165));
        assert_eq!(minutes("PT165M"), Some(165));
        assert_eq!(minutes("PT2H"), Some(120));
        assert_eq!(minutes("P1D"), None);
    }
}
