//! Change detection for one review, pure: its content fingerprint, the
//! fields an edit changed, and the decision against what the ledger holds.

use std::collections::BTreeMap;

use marquee_events::Review;
use marquee_ingest::{Change, Recorded, decide};
use sha2::{Digest, Sha256};

use crate::sanitize::{collapse_whitespace, normalize_html};
use crate::store::{Entry, Withdrawn};

/// What `review`, fingerprinted `content_hash`, comes to against the
/// ledger's `existing` row. `revive` lets the CMS re-publish a review it
/// withdrew without changing it; a poll never does.
pub(crate) fn decide_review(existing: Option<&Entry>, content_hash: &str, revive: bool) -> Change {
    decide(
        existing.map(|entry| Recorded {
            same_content: entry.content_hash == content_hash,
            withdrawn: entry.withdrawn != Withdrawn::No,
            sticky: entry.withdrawn == Withdrawn::ByCms && !revive,
        }),
        false,
    )
}

/// The content fingerprint of a review: per-field hashes of a normalized form
/// (whitespace collapsed, tracking parameters already stripped at the edge,
/// `updated_at` left out since a bare timestamp bump is not an edit).
pub(crate) fn fingerprint(review: &Review) -> (String, BTreeMap<String, String>) {
    let fields: [(&str, String); 11] = [
        ("url", review.url.to_string()),
        ("headline", collapse_whitespace(&review.headline)),
        (
            "film",
            format!(
                "{}|{:?}",
                collapse_whitespace(&review.film.title),
                review.film.year
            ),
        ),
        ("standfirst", collapse_whitespace(&review.standfirst)),
        ("body_html", normalize_html(&review.body_html)),
        (
            "author",
            review
                .author
                .as_deref()
                .map(collapse_whitespace)
                .unwrap_or_default(),
        ),
        ("rating", format!("{:?}", review.rating.map(|r| r.stars()))),
        ("section", collapse_whitespace(&review.section)),
        (
            "image",
            review
                .image
                .as_ref()
                .map(|i| format!("{}|{:?}", i.url, i.alt))
                .unwrap_or_default(),
        ),
        ("published_at", review.published_at.timestamp().to_string()),
        ("id", review.id.to_string()),
    ];
    let hashes: BTreeMap<String, String> = fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), hex::encode(Sha256::digest(value))))
        .collect();
    let all: String = hashes.iter().map(|(k, v)| format!("{k}={v};")).collect();
    (hex::encode(Sha256::digest(all)), hashes)
}

/// Names of the fields whose hashes differ.
pub(crate) fn changed_fields(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    after
        .iter()
        .filter(|(name, hash)| before.get(*name) != Some(*hash))
        .map(|(name, _)| name.clone())
        .collect()
}
