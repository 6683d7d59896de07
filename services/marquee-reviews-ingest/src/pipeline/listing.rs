//! What a listing (a whole feed, or an index and all its articles) said, and
//! the withdrawal of what a complete listing no longer has.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use marquee_events::ReviewId;
use marquee_ingest::PollReport;

use super::Pipeline;
use crate::draft::Candidate;
use crate::error::IngestError;
use crate::store::Withdrawn;

/// The review ids a listing had, and whether it was read whole.
#[derive(Debug)]
pub(super) struct Listing {
    pub(super) seen: HashSet<String>,
    /// Oldest publication date listed: feeds are rolling windows, so an item
    /// older than this has scrolled off rather than been taken down.
    oldest: Option<DateTime<Utc>>,
    /// Whether every item was read and recorded; only then may absence mean
    /// withdrawal.
    pub(super) complete: bool,
}

impl Listing {
    /// Nothing seen yet, complete until an item fails.
    pub(super) fn new() -> Self {
        Self {
            seen: HashSet::new(),
            oldest: None,
            complete: true,
        }
    }

    pub(super) fn see(&mut self, candidate: &Candidate) {
        self.seen.insert(candidate.review.id.to_string());
        if candidate.dated {
            let at = candidate.review.published_at;
            self.oldest = Some(self.oldest.map_or(at, |o| o.min(at)));
        }
    }
}

impl Pipeline {
    /// Withdraws the source's reviews that a complete listing no longer has.
    pub(super) async fn sweep(
        &self,
        source: &str,
        listing: &Listing,
        report: &mut PollReport,
    ) -> Result<(), IngestError> {
        // An empty listing is far likelier an upstream fault than the whole
        // catalogue being taken down.
        if listing.seen.is_empty() {
            return Ok(());
        }
        report.swept = true;
        let grace = i64::try_from(self.withdraw_grace.as_millis()).unwrap_or(i64::MAX);
        let now = self.now_ms();
        for entry in self.store.live_in(source).await? {
            let missing_long_enough = now.saturating_sub(entry.last_seen) >= grace;
            let scrolled_off = listing
                .oldest
                .is_some_and(|oldest| entry.published_at < oldest);
            if listing.seen.contains(&entry.id) || !missing_long_enough || scrolled_off {
                continue;
            }
            let id = ReviewId::parse(&entry.id)
                .map_err(|error| IngestError::InvalidItem(error.to_string()))?;
            let reason = format!("no longer listed by source `{source}`");
            let change = self.withdraw(source, id, reason, Withdrawn::Absent).await?;
            report.count(change);
        }
        Ok(())
    }
}
