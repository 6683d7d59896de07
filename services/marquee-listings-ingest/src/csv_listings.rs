//! CSV listings kept by editors; the columns are documented in the crate docs.

use chrono_tz::Tz;
use marquee_fetch::Document;

use crate::error::IngestError;
use crate::normalize::{Draft, Parsed, access_note, booking_url, parse_start};
use crate::reading::{Output, Reading};

/// The columns read; any other column is ignored (with a warning).
const COLUMNS: [&str; 15] = [
    "id",
    "venue_id",
    "title",
    "start",
    "screen",
    "format",
    "strand",
    "extras",
    "accessibility",
    "booking_url",
    "sold_out",
    "cancelled",
    "year",
    "director",
    "runtime_minutes",
];

/// Reads `document` as a CSV file kept by editors (columns in the crate
/// docs); registered in [`crate::kinds`].
pub(crate) fn read(document: &Document, reading: &Reading) -> Output {
    parse(&document.text, &reading.venue_id, reading.tz)
}

/// Parses a CSV document for the venue `venue_id`.
pub(crate) fn parse(text: &str, venue_id: &str, tz: Tz) -> Result<Parsed, IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| IngestError::Document(format!("the CSV header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase().replace([' ', '-'], "_"))
        .collect();
    for required in ["title", "start"] {
        if !headers.iter().any(|h| h == required) {
            return Err(IngestError::Document(format!(
                "the CSV has no `{required}` column (columns: {})",
                headers.join(", ")
            )));
        }
    }
    for unknown in headers.iter().filter(|h| !COLUMNS.contains(&h.as_str())) {
        tracing::warn!(column = %unknown, "Ignored an unknown CSV column");
    }
    let mut parsed = Parsed::default();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                let (kind, reason) = match error.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => (
                        "wrong_columns",
                        format!("the row has {len} columns, the header {expected_len}"),
                    ),
                    _ => ("bad_row", error.to_string()),
                };
                parsed
                    .rejected
                    .push(IngestError::row(format!("line {line}"), kind, reason));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let field = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|at| record.get(at))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match row(line, &field, venue_id, tz) {
            Ok(draft) => parsed.drafts.push(draft),
            Err(error) => {
                parsed.rejected.push(error);
                parsed
                    .invalid_titles
                    .extend(field("title").map(str::to_owned));
            }
        }
    }
    Ok(parsed)
}

fn row<'a>(
    line: u64,
    field: &impl Fn(&str) -> Option<&'a str>,
    venue_id: &str,
    tz: Tz,
) -> Result<Draft, IngestError> {
    let location = format!("line {line}");
    let bad = |kind, reason: String| IngestError::row(&location, kind, reason);
    if let Some(listed) = field("venue_id")
        && listed != venue_id
    {
        return Err(bad(
            "wrong_venue",
            format!("venue_id {listed:?} is not this source's venue {venue_id:?}"),
        ));
    }
    let title =
        field("title").ok_or_else(|| bad("missing_title", "the title is empty".to_owned()))?;
    let start = field("start").ok_or_else(|| bad("bad_date", "the start is empty".to_owned()))?;
    let start = parse_start(start, tz).map_err(|reason| bad("bad_date", reason.to_string()))?;
    let mut draft = Draft::new(&location, title.to_owned(), start);
    draft.source_uid = field("id").map(str::to_owned);
    draft.screen = field("screen").map(str::to_owned);
    draft.format = field("format").map(str::to_owned);
    draft.strand = field("strand").map(str::to_owned);
    draft.extras = field("extras")
        .map(|e| {
            e.split(';')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for value in field("accessibility")
        .into_iter()
        .flat_map(|a| a.split([';', ',']))
    {
        let value = value.trim();
        if !value.is_empty() {
            let access = access_note(value).map_err(|reason| bad("bad_accessibility", reason))?;
            draft.accessibility.push(access);
        }
    }
    if let Some(url) = field("booking_url") {
        draft.booking_url = Some(booking_url(url).map_err(|reason| bad("bad_url", reason))?);
    }
    draft.sold_out = flag(field("sold_out"))
        .map_err(|v| bad("bad_flag", format!("sold_out {v:?} is not yes/no")))?;
    draft.cancelled = flag(field("cancelled"))
        .map_err(|v| bad("bad_flag", format!("cancelled {v:?} is not yes/no")))?;
    if let Some(year) = field("year") {
        draft.year = Some(
            year.parse::<u16>()
                .ok()
                .filter(|y| (1870..=2200).contains(y))
                .ok_or_else(|| bad("bad_year", format!("year {year:?} is not a year")))?,
        );
    }
    draft.director = field("director").map(str::to_owned);
    if let Some(minutes) = field("runtime_minutes") {
        draft.runtime_minutes = Some(minutes.parse().map_err(|_| {
            bad(
                "bad_runtime",
                format!("runtime_minutes {minutes:?} is not a number"),
            )
        })?);
    }
    Ok(draft)
}

/// Yes/no columns: empty, `no`, `false`, `0`, `n` are no; `yes`, `true`,
/// `1`, `y`, `x`, and the column's own name ("sold out", "cancelled") yes.
fn flag(value: Option<&str>) -> Result<bool, String> {
    let Some(value) = value else { return Ok(false) };
    match value.to_ascii_lowercase().as_str() {
        "no" | "n" | "false" | "0" => Ok(false),
        "yes" | "y" | "true" | "1" | "x" | "sold out" | "cancelled" | "canceled" => Ok(true),
        _ => Err(value.to_owned()),
    }
}
