//! Publishing a change: the documents it touches re-rendered, their
//! changed files written to `output_dir` and the WebSub hub notified.

use std::sync::atomic::Ordering;

use crate::listings::CALENDAR_EXTENSION;
use crate::{Document, FeedsService, output};

impl FeedsService {
    /// Publishes the review feeds a changed review touched (`documents`),
    /// then re-renders the screening documents, which link reviews.
    pub(crate) async fn publish_review_change(&self, documents: &[Document]) {
        self.publish(documents).await;
        // Screening feeds link the reviews they match: re-render the cached
        // ones, without holding up the consumer. One task at a time does it,
        // taking in every review changed meanwhile: a task per event piled
        // up renders under a stream of reviews (scripts/load).
        let inner = &self.inner;
        inner.listings_stale.store(true, Ordering::SeqCst);
        if inner.listings_rendering.swap(true, Ordering::SeqCst) {
            return; // The running task takes this change in.
        }
        let service = self.clone();
        tokio::spawn(async move {
            let inner = &service.inner;
            loop {
                while inner.listings_stale.swap(false, Ordering::SeqCst) {
                    let listings: Vec<Document> = inner
                        .cache
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .keys()
                        .filter(|document| !matches!(document, Document::Reviews(_)))
                        .cloned()
                        .collect();
                    service.publish(&listings).await;
                }
                inner.listings_rendering.store(false, Ordering::SeqCst);
                // A change marked just before letting go found the task
                // still running: take it in unless another task already has.
                if !inner.listings_stale.load(Ordering::SeqCst)
                    || inner.listings_rendering.swap(true, Ordering::SeqCst)
                {
                    return;
                }
            }
        });
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
