//! Reading a source: a feed (conditionally), or an index page or sitemap
//! (in full) and then each article it links (conditionally).

use marquee_fetch::Document;
use marquee_ingest::{Answer, PollReport};
use url::Url;

use super::Pipeline;
use super::listing::Listing;
use crate::draft::Candidate;
use crate::error::IngestError;
use crate::feed::parse_feed;
use crate::page::{article_links, extract_article};

/// What a read source yielded (feed items, an index's links) and the
/// listing its items are gathered in; or, when the document itself could not
/// be read, `None` with the error rejected.
fn begin<T>(
    name: &str,
    read: Result<T, IngestError>,
    report: &mut PollReport,
) -> Option<(T, Listing)> {
    match read {
        Ok(yielded) => {
            report.read = true;
            Some((yielded, Listing::new()))
        }
        Err(error) => {
            report.reject(name, &error);
            None
        }
    }
}

impl Pipeline {
    pub(super) async fn poll_feed(
        &self,
        name: &str,
        url: &Url,
        report: &mut PollReport,
    ) -> Option<Listing> {
        let document = match self.fetch.get(url).await {
            Ok(Answer::Document(document)) => document,
            Ok(Answer::NotModified(ids)) => {
                report.read = true;
                self.still_listed(name, ids, report).await;
                return None;
            }
            Err(error) => {
                report.reject(name, &IngestError::from(error));
                return None;
            }
        };
        let items = parse_feed(&document.text, &document.url, self.clock.now());
        let (items, mut listing) = begin(name, items, report)?;
        for item in items {
            match self.accept_item(name, item, &mut listing, report).await {
                Ok(change) => report.count(change),
                Err(error) => report.reject(name, &error),
            }
        }
        // Remembered only when everything went through, so a failed publish
        // is retried on the next poll instead of hidden behind a 304.
        if listing.recorded {
            let ids: Vec<String> = listing.seen.iter().cloned().collect();
            self.fetch.remember(url, document.validators, &ids).await;
        }
        Some(listing)
    }

    pub(super) async fn poll_pages(
        &self,
        name: &str,
        index: &Url,
        links: Option<&crate::settings::LinkSelector>,
        report: &mut PollReport,
    ) -> Option<Listing> {
        // The index is fetched in full every time: editing an article rarely
        // changes the index, and the articles themselves are fetched conditionally.
        let links = match self.fetch.fetcher().get_in_full(index).await {
            Ok(document) => article_links(&document.text, &document.url, links),
            Err(error) => Err(error.into()),
        };
        let (links, mut listing) = begin(name, links, report)?;
        for link in links {
            let document = match self.fetch.get(&link).await {
                Ok(Answer::Document(document)) => document,
                Ok(Answer::NotModified(ids)) => {
                    listing.seen.extend(ids.iter().cloned());
                    self.still_listed(name, ids, report).await;
                    continue;
                }
                Err(error) => {
                    // Whichever review it holds, it is not known missing.
                    listing.whole = false;
                    report.reject(name, &IngestError::from(error));
                    continue;
                }
            };
            self.accept_article(name, &link, document, &mut listing, report)
                .await;
        }
        Some(listing)
    }

    async fn accept_article(
        &self,
        name: &str,
        link: &Url,
        document: Document,
        listing: &mut Listing,
        report: &mut PollReport,
    ) {
        let item = extract_article(&document.text, &document.url, self.clock.now());
        let id = item.as_ref().map(|c| c.review.id.to_string()).ok();
        match self.accept_item(name, item, listing, report).await {
            Ok(change) => {
                report.count(change);
                let ids: Vec<String> = id.into_iter().collect();
                self.fetch.remember(link, document.validators, &ids).await;
            }
            Err(error) => report.reject(name, &error),
        }
    }

    /// Change detection for one item of a listing. The first item with an
    /// id wins; a later one reusing it is rejected, never taken as an edit
    /// (a feed would flip between the two on every read). An invalid item
    /// with an id is present all the same; a field left out of a valid one
    /// is rejected alone.
    async fn accept_item(
        &self,
        source: &str,
        item: Result<Candidate, IngestError>,
        listing: &mut Listing,
        report: &mut PollReport,
    ) -> Result<marquee_ingest::Change, IngestError> {
        let candidate = match item {
            Ok(candidate) => candidate,
            Err(error) => {
                if let IngestError::InvalidReview { id, .. } = &error {
                    listing.seen.insert(id.to_string());
                }
                return Err(error);
            }
        };
        if !listing.see(&candidate) {
            return Err(IngestError::InvalidItem(format!(
                "item {} reuses the id of an earlier item in the same document; the first is kept",
                candidate.review.id
            )));
        }
        for problem in &candidate.problems {
            report.reject(source, &IngestError::InvalidField(problem.clone()));
        }
        let accepted = self.accept(source, candidate, false).await;
        if accepted.is_err() {
            listing.recorded = false;
        }
        accepted
    }

    /// A 304 confirms the reviews the document yielded last time are still listed.
    async fn still_listed(&self, source: &str, ids: Vec<String>, report: &mut PollReport) {
        let now = self.now_ms();
        for id in ids {
            match self.store.touch(&id, source, now).await {
                Ok(()) => report.unchanged += 1,
                Err(error) => report.reject(source, &IngestError::from(error)),
            }
        }
    }
}
