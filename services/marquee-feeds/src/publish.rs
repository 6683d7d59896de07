//! Publishing a change: the documents it touches queued, then re-rendered
//! by one task, their changed files written to `output_dir` and the WebSub
//! hub notified.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use marquee_events::ReviewId;

use crate::cache::RenderedFeed;
use crate::documents::ReadReviews;
use crate::listings::CALENDAR_EXTENSION;
use crate::{Document, FeedsService, output};

/// Changes handled and not yet rendered.
#[derive(Default)]
pub(crate) struct Queued {
    documents: HashSet<Document>,
    /// Reviews whose linking screening documents must be re-rendered.
    reviews: HashSet<ReviewId>,
    /// Changes queued since the start, counted: [`FeedsService::published`]
    /// waits for the task to publish as many.
    changes: u64,
    /// A task is rendering the queue.
    rendering: bool,
}

impl FeedsService {
    /// Queues what a change touched for rendering: `documents`, and the
    /// screening documents that link `review`. The consumers hand the
    /// change over and go on to the next event; one task renders the queue,
    /// taking in everything queued meanwhile, so under a burst (a calendar
    /// imported, a backlog caught up) each document is rendered once per
    /// pass instead of once per event (scripts/scale).
    pub(crate) fn queue(&self, documents: Vec<Document>, review: Option<ReviewId>) {
        let start = {
            let mut queued = lock(&self.inner.queued);
            queued.documents.extend(documents);
            queued.reviews.extend(review);
            queued.changes += 1;
            !std::mem::replace(&mut queued.rendering, true)
        };
        if start {
            let service = self.clone();
            tokio::spawn(async move { while service.render_queued().await {} });
        }
    }

    /// One pass over the queue; `false` once it is empty, when the task
    /// ends (the next change starts another).
    async fn render_queued(&self) -> bool {
        let inner = &self.inner;
        let (documents, reviews, changes) = {
            let mut queued = lock(&inner.queued);
            if queued.documents.is_empty() && queued.reviews.is_empty() {
                queued.rendering = false;
                inner.published.send_replace(queued.changes);
                return false;
            }
            (
                std::mem::take(&mut queued.documents),
                std::mem::take(&mut queued.reviews),
                queued.changes,
            )
        };
        let documents: Vec<Document> = documents.into_iter().collect();
        let mut read = ReadReviews::new();
        self.publish_reading(&documents, &mut read).await;
        // Those just rendered read the reviews as they are now.
        let linking: Vec<Document> = self
            .listings_linking(&reviews)
            .into_iter()
            .filter(|document| !documents.contains(document))
            .collect();
        self.publish_reading(&linking, &mut read).await;
        inner.published.send_replace(changes);
        true
    }

    /// Waits until every change queued before the call is published: in the
    /// cache the routes serve, in `output_dir`, announced to the hub.
    pub fn published(&self) -> impl Future<Output = ()> + Send + use<> {
        let target = lock(&self.inner.queued).changes;
        let mut published = self.inner.published.subscribe();
        async move {
            // The sender lives as long as the service: an error means it is gone.
            published.wait_for(|done| *done >= target).await.ok();
        }
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
        self.publish_reading(documents, &mut ReadReviews::new())
            .await;
    }

    /// [`Self::publish`], the documents sharing the reviews `read` so far.
    async fn publish_reading(&self, documents: &[Document], read: &mut ReadReviews) {
        for document in documents {
            let changed = match self.refresh(document, read).await {
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
