//! The JSON API source; its shape is documented in the crate docs.

use chrono_tz::Tz;
use marquee_fetch::Document;
use serde::Deserialize;

use crate::error::IngestError;
use crate::normalize::{Draft, Parsed, access_note, booking_url, parse_start};
use crate::reading::{Output, Reading};

/// One item of the API. Unknown fields are ignored, so the API may grow.
#[derive(Debug, Deserialize)]
struct Item {
    id: Option<serde_json::Value>,
    title: String,
    start: String,
    screen: Option<String>,
    format: Option<String>,
    strand: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    accessibility: Vec<String>,
    booking_url: Option<String>,
    #[serde(default)]
    sold_out: bool,
    #[serde(default)]
    cancelled: bool,
    year: Option<u16>,
    director: Option<String>,
    runtime_minutes: Option<u16>,
}

/// Reads `document` as a JSON API (shape in the crate docs); registered in
/// [`crate::kinds`].
pub(crate) fn read(document: &Document, reading: &Reading) -> Output {
    parse(&document.text, reading.tz)
}

/// Parses `{"screenings": [...]}` (or a bare array).
pub(crate) fn parse(text: &str, tz: Tz) -> Result<Parsed, IngestError> {
    let document: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| IngestError::Document(format!("the JSON does not parse: {e}")))?;
    let items = match document {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut object) => match object.remove("screenings") {
            Some(serde_json::Value::Array(items)) => items,
            _ => {
                return Err(IngestError::Document(
                    "the JSON has no `screenings` array".to_owned(),
                ));
            }
        },
        _ => {
            return Err(IngestError::Document(
                "the JSON is neither an object with `screenings` nor an array".to_owned(),
            ));
        }
    };
    let mut parsed = Parsed::default();
    for (index, value) in items.into_iter().enumerate() {
        let title = value
            .get("title")
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        match item(index, value, tz) {
            Ok(draft) => parsed.drafts.push(draft),
            Err(error) => {
                parsed.rejected.push(error);
                parsed.invalid_titles.extend(title);
            }
        }
    }
    Ok(parsed)
}

fn item(index: usize, value: serde_json::Value, tz: Tz) -> Result<Draft, IngestError> {
    let location = format!("screenings[{index}]");
    let bad = |kind, reason: String| IngestError::row(&location, kind, reason);
    let item: Item =
        serde_json::from_value(value).map_err(|e| bad("invalid_item", e.to_string()))?;
    let start =
        parse_start(&item.start, tz).map_err(|reason| bad("bad_date", reason.to_string()))?;
    let mut draft = Draft::new(&location, item.title, start);
    draft.source_uid = item.id.and_then(|id| match id {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    draft.screen = item.screen;
    draft.format = item.format;
    draft.strand = item.strand;
    draft.extras = item.extras;
    for value in item.accessibility {
        let access = access_note(&value).map_err(|reason| bad("bad_accessibility", reason))?;
        draft.accessibility.push(access);
    }
    if let Some(url) = item.booking_url {
        draft.booking_url = Some(booking_url(&url).map_err(|reason| bad("bad_url", reason))?);
    }
    draft.sold_out = item.sold_out;
    draft.cancelled = item.cancelled;
    draft.year = item.year;
    draft.director = item.director;
    draft.runtime_minutes = item.runtime_minutes;
    Ok(draft)
}
