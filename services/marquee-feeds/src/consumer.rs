//! The bus consumers: decode an event, apply it to the store, then queue
//! the documents the change touches for rendering ([`crate::handler`]
//! decides which; [`FeedsService::queue`] renders them). The admin replay
//! applies events the same way, hundreds to a transaction, and republishes
//! once, at its end.

use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{Envelope, ReviewEvent, ReviewId, ScreeningEvent};

use crate::handler::{review_documents, sanitize, screening_documents};
use crate::store::Batch;
use crate::store::reviews::Applied;
use crate::store::screenings::ScreeningApplied;
use crate::{Document, FeedsService};

impl FeedsService {
    /// A transaction of the store to apply events in.
    pub(crate) async fn batch(&self) -> Result<Batch, HandlerError> {
        self.inner
            .store
            .batch()
            .await
            .map_err(HandlerError::transient)
    }
}

/// Applies review events to the feeds; see [`FeedsService::handler`].
#[derive(Clone)]
pub struct FeedsHandler(pub(crate) FeedsService);

impl FeedsHandler {
    /// Applies the event in `batch`: the review feeds it changed and the
    /// review, or `None` when it changed nothing.
    pub(crate) async fn apply(
        &self,
        batch: &mut Batch,
        message: &Message,
    ) -> Result<Option<(Vec<Document>, ReviewId)>, HandlerError> {
        let mut event: Envelope<ReviewEvent> = message.decode()?;
        sanitize(&mut event.data);
        let applied = batch.apply(&event).await.map_err(HandlerError::transient)?;
        let review_id = event.data.review_id();
        match applied {
            Applied::Changed {
                previous_section,
                section,
            } => {
                tracing::info!(
                    event_id = %event.id,
                    %review_id,
                    event_type = %event.event_type,
                    "Applied a review event to the feeds"
                );
                let mut sections = vec![section.as_str()];
                sections.extend(previous_section.as_deref());
                let documents = review_documents(&self.0.inner.settings.feeds, &sections);
                Ok(Some((documents, review_id.clone())))
            }
            Applied::Ignored(reason) => {
                tracing::debug!(
                    event_id = %event.id,
                    %review_id,
                    reason,
                    "Review event left the feeds unchanged"
                );
                Ok(None)
            }
        }
    }
}

impl Handler for FeedsHandler {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let mut batch = self.0.batch().await?;
        let applied = self.apply(&mut batch, message).await?;
        batch.commit().await.map_err(HandlerError::transient)?;
        if let Some((documents, review)) = applied {
            self.0.queue(documents, Some(review));
        }
        Ok(())
    }
}

/// Applies screening events to the screening feeds and calendars; see
/// [`FeedsService::screenings_handler`].
#[derive(Clone)]
pub struct ScreeningsHandler(pub(crate) FeedsService);

impl ScreeningsHandler {
    /// Applies the event in `batch`: the documents it changed, or `None`
    /// when it changed nothing.
    pub(crate) async fn apply(
        &self,
        batch: &mut Batch,
        message: &Message,
    ) -> Result<Option<Vec<Document>>, HandlerError> {
        let event: Envelope<ScreeningEvent> = message.decode()?;
        let applied = batch
            .apply_screening(&event)
            .await
            .map_err(HandlerError::transient)?;
        match applied {
            ScreeningApplied::Changed { venue_id, strands } => {
                tracing::info!(
                    event_id = %event.id,
                    screening_id = %event.subject,
                    event_type = %event.event_type,
                    "Applied a screening event to the feeds"
                );
                Ok(Some(screening_documents(&venue_id, &strands)))
            }
            ScreeningApplied::Ignored(reason) => {
                tracing::debug!(
                    event_id = %event.id,
                    screening_id = %event.subject,
                    reason,
                    "Screening event left the feeds unchanged"
                );
                Ok(None)
            }
        }
    }
}

impl Handler for ScreeningsHandler {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let mut batch = self.0.batch().await?;
        let applied = self.apply(&mut batch, message).await?;
        batch.commit().await.map_err(HandlerError::transient)?;
        if let Some(documents) = applied {
            self.0.queue(documents, None);
        }
        Ok(())
    }
}
