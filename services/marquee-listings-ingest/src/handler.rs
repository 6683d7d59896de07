//! Change detection for one screening, pure: the decision against what the
//! ledger holds, the fields a change touched, and the review a listed film
//! is matched to.

use marquee_events::{ReviewId, Screening};
use marquee_ingest::{Change, Recorded, decide};

use crate::normalize::Normalized;
use crate::store::{Entry, ReviewIndex};

/// What a screening the ledger holds as `existing` comes to, `changed`
/// naming the fields that differ and `cancelled` whether the source marks
/// it cancelled.
pub(crate) fn decide_screening(
    existing: Option<&Entry>,
    changed: &[String],
    cancelled: bool,
) -> Change {
    decide(
        existing.map(|entry| Recorded {
            same_content: changed.is_empty(),
            withdrawn: entry.cancelled,
            sticky: false,
        }),
        cancelled,
    )
}

/// The review of the listed film: same title key and same year; when either
/// year is unknown, the title's only review.
pub(crate) fn match_review(reviews: &ReviewIndex, listing: &Normalized) -> Option<ReviewId> {
    let candidates = reviews.get(&listing.title_key)?;
    let year = listing.screening.film.year;
    if let Some(year) = year
        && let Some((id, _)) = candidates.iter().find(|(_, y)| *y == Some(year))
    {
        return Some(id.clone());
    }
    match candidates.as_slice() {
        [(id, review_year)] if year.is_none() || review_year.is_none() => Some(id.clone()),
        _ => None,
    }
}

/// Names of the fields that differ, as `Screening` names them
/// (`starts_at` covers its local twin).
pub(crate) fn changed_fields(before: &Screening, after: &Screening) -> Vec<String> {
    let checks = [
        ("venue", before.venue != after.venue),
        ("film", before.film != after.film),
        (
            "starts_at",
            before.starts_at != after.starts_at || before.starts_at_local != after.starts_at_local,
        ),
        ("time_zone", before.time_zone != after.time_zone),
        ("screen", before.screen != after.screen),
        ("format", before.format != after.format),
        ("strand", before.strand != after.strand),
        ("extras", before.extras != after.extras),
        ("accessibility", before.accessibility != after.accessibility),
        ("booking_url", before.booking_url != after.booking_url),
        ("sold_out", before.sold_out != after.sold_out),
        ("review_id", before.review_id != after.review_id),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| name.to_owned())
        .collect()
}
