//! Publishing a change: the documents it touches re-rendered, their
//! changed files written to `output_dir` and the WebSub hub notified.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};

use marquee_events::ReviewId;

use crate::cache::RenderedFeed;
use crate::listings::CALENDAR_EXTENSION;
use crate::{Document, FeedsService, output};

impl FeedsService {
    /// Publishes the review feeds a changed review touched (`documents`),
    /// then re-renders the screening documents that link `review`.
    pub(crate) async fn publish_review_change(&self, documents: &[Document], review: &ReviewId) {
        self.publish(documents).await;
        // Re-render the cached screening documents linking the review,
        // without holding up the consumer. One task at a time does it,
        // taking in every review changed meanwhile: a task per event piled
        // up renders under a stream of reviews (scripts/load). Only those
        // linking it: re-rendering every listing per review held up the
        // screening events behind it (scripts/scale).
        let inner = &self.inner;
        lock(&inner.changed_reviews).insert(review.clone());
        if inner.listings_rendering.swap(true, Ordering::SeqCst) {
            return; // The running task takes this change in.
        }
        let service = self.clone();
        tokio::spawn(async move {
            let inner = &service.inner;
            loop {
                loop {
                    let changed = std::mem::take(&mut *lock(&inner.changed_reviews));
                    if changed.is_empty() {
                        break;
                    }
                    service.publish(&service.listings_linking(&changed)).await;
                }
                inner.listings_rendering.store(false, Ordering::SeqCst);
                // A change marked just before letting go found the task
                // still running: take it in unless another task already has.
                if lock(&inner.changed_reviews).is_empty()
                    || inner.listings_rendering.swap(true, Ordering::SeqCst)
                {
                    return;
                }
            }
        });
    }

    /// The screening documents in the cache.
    pub(crate) fn cached_listings(&self) -> Vec<Document> {
        self.cached_listings_where(|_| true)
    }

    /// The cached screening documents that link any of `reviews`.
    fn listings_linking(&self, reviews: &HashSet<ReviewId>) -> Vec<Document> {
        self.cached_listings_where(|rendered| !rendered.linked_reviews.is_disjoint(reviews))
    }

    fn cached_listings_where(&self, keep: impl Fn(&RenderedFeed) -> bool) -> Vec<Document> {
        self.inner
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(document, rendered)| {
                !matches!(document, Document::Reviews(_)) && keep(rendered)
            })
            .map(|(document, _)| document.clone())
            .collect()
    }

    /// Re-renders `documents`, then writes the changed files and notifies
    /// the hub. Failures are logged: the change is stored, and revalidation
    /// or the next change catches up.
    pub(crate) async fn publish(&self, documents: &[Document]) {
        for document in documents {
            let changed = match self.refresh(document).await {
                Ok(Some(changed)) => changed,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(document = %document.label(), error = %error, "Could not re-render a document after a change");
                    continue;
                }
            };
            self.write_files(document, &changed).await;
            self.notify_hub(document, &changed);
        }
    }

    pub(crate) async fn write_files(&self, document: &Document, extensions: &[&'static str]) {
        let Some(dir) = &self.inner.settings.output_dir else {
            return;
        };
        let Some(rendered) = self.cached(document) else {
            return;
        };
        // Review feeds sit at the top of output_dir, as they always have;
        // screening documents in their URL folder.
        let (folder, name) = document.path();
        let dir = match document {
            Document::Reviews(_) => dir.clone(),
            _ => dir.join(folder),
        };
        for &extension in extensions {
            let Some(representation) = rendered.get(extension) else {
                continue;
            };
            let file = format!("{name}.{extension}");
            if let Err(error) = output::write_atomically(&dir, &file, representation.body()).await {
                tracing::error!(file = %file, error = format!("{error:#}"), "Could not write a feed file");
            }
        }
    }

    fn notify_hub(&self, document: &Document, extensions: &[&'static str]) {
        let Some(hub) = &self.inner.hub else {
            return;
        };
        let (folder, name) = document.path();
        // WebSub is for feeds; calendar clients poll.
        for &extension in extensions.iter().filter(|e| **e != CALENDAR_EXTENSION) {
            let hub = hub.clone();
            let topic = self.inner.site.document_url(folder, name, extension);
            // The hub is another service: never hold up the consumer for it.
            tokio::spawn(async move {
                match hub.publish(&topic).await {
                    Ok(()) => tracing::debug!(%topic, "Notified the WebSub hub"),
                    Err(error) => {
                        tracing::warn!(%topic, error = format!("{error:#}"), "Could not notify the WebSub hub")
                    }
                }
            });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
