//! The review-event consumer: keeps the small table of reviewed films that
//! listings are matched against ([`crate::handler::match_review`]).

use marquee_bus::{Handler, HandlerError, Message};
use marquee_events::{Envelope, ReviewEvent};

use crate::normalize::title_key;
use crate::store::Store;

/// Records review id, film title key and year; see [`crate::ListingsIngest::handler`].
#[derive(Clone)]
pub(crate) struct ReviewsHandler {
    store: Store,
}

impl ReviewsHandler {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }
}

impl Handler for ReviewsHandler {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let event: Envelope<ReviewEvent> = message.decode()?;
        // Upserts and deletes keyed by review id: replaying is harmless.
        let applied = match &event.data {
            ReviewEvent::Published(e) => {
                let film = &e.review.film;
                self.store
                    .put_review(&e.review.id, &title_key(&film.title), film.year)
                    .await
            }
            ReviewEvent::Updated(e) => {
                let film = &e.review.film;
                self.store
                    .put_review(&e.review.id, &title_key(&film.title), film.year)
                    .await
            }
            ReviewEvent::Withdrawn(e) => self.store.forget_review(&e.id).await,
        };
        applied.map_err(HandlerError::Transient)?;
        tracing::debug!(event_id = %event.id, review_id = %event.data.review_id(), "Recorded a review for film matching");
        Ok(())
    }
}
