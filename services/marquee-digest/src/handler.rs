//! What a consumed message is, decided without I/O: a review or a
//! screening event for the digest's tables, or poison (a topic the digest
//! does not read, or an undecodable event). The consumer
//! ([`crate::consumer`]) stores it.

use marquee_bus::{HandlerError, Message};
use marquee_events::{Envelope, ReviewEvent, ScreeningEvent, topics};

/// A message the digest keeps.
#[derive(Debug)]
pub(crate) enum Item {
    /// A review published, updated or withdrawn.
    Review(Envelope<ReviewEvent>),
    /// A screening listed, changed or cancelled.
    Screening(Envelope<ScreeningEvent>),
}

/// Decodes `message` by its topic; anything else is poison, to dead-letter
/// at once rather than retry.
pub(crate) fn item(message: &Message) -> Result<Item, HandlerError> {
    match message.topic.as_str() {
        topics::REVIEWS => Ok(Item::Review(message.decode()?)),
        topics::SCREENINGS => Ok(Item::Screening(message.decode()?)),
        other => Err(HandlerError::Poison(anyhow::anyhow!(
            "the digest does not read topic `{other}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use marquee_events::{ReviewId, ReviewWithdrawn};

    use super::*;

    #[test]
    fn reviews_are_kept_and_other_topics_are_poison() {
        let withdrawn = Envelope::new(
            "marquee/tests",
            ReviewWithdrawn {
                id: ReviewId::parse("hamnet").expect("id"),
                reason: "withdrawn by CMS webhook".to_owned(),
            },
            chrono::DateTime::UNIX_EPOCH,
        );
        let mut message = Message::delivered(&withdrawn, 0);
        assert!(matches!(item(&message), Ok(Item::Review(_))));
        message.topic = "social-posts".to_owned();
        assert!(matches!(item(&message), Err(HandlerError::Poison(_))));
    }
}
