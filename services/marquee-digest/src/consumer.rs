//! The consumer of the `reviews` and `screenings` topics: each message, as
//! [`handler::item`] reads it, applied to the digest's
//! tables once by event id and never over a newer version of its item.

use marquee_bus::{Handler, HandlerError, Message};

use crate::DigestService;
use crate::handler::{self, Item};

/// Stores review and screening events; see [`DigestService::handler`].
#[derive(Clone)]
pub(crate) struct DigestHandler(pub(crate) DigestService);

impl Handler for DigestHandler {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let store = &self.0.inner.store;
        let changed = match handler::item(message)? {
            Item::Review(event) => store.apply_review(&event).await,
            Item::Screening(event) => store.apply_screening(&event).await,
        }
        .map_err(HandlerError::transient)?;
        tracing::debug!(changed, "Stored an event for the digest");
        Ok(())
    }
}
