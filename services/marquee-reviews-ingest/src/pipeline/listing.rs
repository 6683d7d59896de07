//! What a listing (a whole feed, or an index and all its articles) said,
//! and what a read in full no longer has: the ingest core withdraws those
//! once they have been missing past the grace period.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use marquee_events::ReviewId;
use marquee_ingest::{Change, Sweep};

use super::Pipeline;
use crate::draft::Candidate;
use crate::error::IngestError;
use crate::store::Withdrawn;

/// The review ids a listing had, and whether every item was accounted for.
#[derive(Debug)]
pub(super) struct Listing {
    /// Every id listed, valid or not: a rejected item is present but
    /// invalid, never withdrawn for being invalid.
    pub(super) seen: HashSet<String>,
    /// Oldest publication date listed: feeds are rolling windows, so an item
    /// older than this has scrolled off rather than been taken down.
    oldest: Option<DateTime<Utc>>,
    /// Whether every listed item could be identified (an article that did
    /// not load may be any review); only then may absence mean withdrawal.
    pub(super) whole: bool,
    /// Whether every item was recorded; only then may a 304 stand for the
    /// document next time.
    pub(super) recorded: bool,
}

impl Listing {
    /// Nothing seen yet.
    pub(super) fn new() -> Self {
        Self {
            seen: HashSet::new(),
            oldest: None,
            whole: true,
            recorded: true,
        }
    }

    /// Notes a valid item; false when an earlier item had its id.
    pub(super) fn see(&mut self, candidate: &Candidate) -> bool {
        if !self.seen.insert(candidate.review.id.to_string()) {
            return false;
        }
        if candidate.dated {
            let at = candidate.review.published_at;
            self.oldest = Some(self.oldest.map_or(at, |o| o.min(at)));
        }
        true
    }
}

impl Pipeline {
    /// What a listing read in full found present and missing: the source's
    /// live reviews it no longer has, unless they scrolled off.
    pub(super) async fn sweep(
        &self,
        source: &str,
        listing: Listing,
    ) -> Result<Option<Sweep>, IngestError> {
        // An empty listing is far likelier an upstream fault than the whole
        // catalogue being taken down.
        if !listing.whole || listing.seen.is_empty() {
            return Ok(None);
        }
        let missing = self
            .store
            .live_in(source)
            .await?
            .into_iter()
            .filter(|entry| {
                !listing.seen.contains(&entry.id)
                    && listing
                        .oldest
                        .is_none_or(|oldest| entry.published_at >= oldest)
            })
            .map(|entry| entry.id)
            .collect();
        Ok(Some(Sweep {
            present: listing.seen.into_iter().collect(),
            missing,
        }))
    }

    /// Withdraws `id`, missing from `source` past the grace period, unless
    /// it is withdrawn already or another source lists it now.
    pub(super) async fn expire_review(
        &self,
        source: &str,
        id: &str,
    ) -> Result<Change, IngestError> {
        let id =
            ReviewId::parse(id).map_err(|error| IngestError::InvalidItem(error.to_string()))?;
        let Some(entry) = self.store.get(&id).await? else {
            return Ok(Change::Unchanged);
        };
        if entry.source != source || entry.withdrawn != Withdrawn::No {
            return Ok(Change::Unchanged);
        }
        let reason = format!("no longer listed by source `{source}`");
        self.withdraw(source, id, reason, Withdrawn::Absent).await
    }
}
