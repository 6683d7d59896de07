//! The event handler: reviews and screenings into the digest's own tables.

use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{ReviewEvent, ScreeningEvent, topics};

use crate::DigestService;

/// Stores review and screening events; see [`DigestService::handler`].
#[derive(Clone)]
pub struct DigestHandler {
    service: DigestService,
}

impl DigestHandler {
    pub(crate) fn new(service: DigestService) -> Self {
        Self { service }
    }
}

impl Handler for DigestHandler {
    #[tracing::instrument(
        skip_all,
        fields(topic = %message.topic, partition = message.partition, offset = message.offset)
    )]
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let store = &self.service.inner.store;
        let changed = match message.topic.as_str() {
            topics::REVIEWS => {
                let event = message.decode::<ReviewEvent>()?;
                store.apply_review(&event).await
            }
            topics::SCREENINGS => {
                let event = message.decode::<ScreeningEvent>()?;
                store.apply_screening(&event).await
            }
            other => {
                return Err(HandlerError::Poison(anyhow::anyhow!(
                    "the digest does not read topic `{other}`"
                )));
            }
        }
        .map_err(|error| HandlerError::Transient(error.into()))?;
        tracing::debug!(changed, "Stored an event for the digest");
        Ok(())
    }
}
