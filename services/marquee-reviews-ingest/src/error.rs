//! Why a source, a document or an item was rejected.

/// A rejection while fetching, parsing or publishing. Every one is logged with
/// its source and counted by [`IngestError::kind`]; none stops the service.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Fetching the document was refused or failed.
    #[error(transparent)]
    Fetch(#[from] marquee_fetch::FetchError),
    /// The XML declares entities (the shape of an entity-expansion attack).
    #[error("the feed declares XML entities in a DOCTYPE, which is refused")]
    EntityDeclaration,
    /// The feed is not well-formed RSS 2.0 or Atom 1.0.
    #[error("not a valid RSS 2.0 or Atom 1.0 feed: {0}")]
    MalformedFeed(String),
    /// An item or page lacks something every review needs.
    #[error("{0}")]
    InvalidItem(String),
    /// The bus did not accept an event; it is retried on the next poll.
    #[error(transparent)]
    Bus(#[from] marquee_bus::BusError),
    /// Anything else, e.g. the ledger database.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IngestError {
    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fetch(error) => error.kind(),
            Self::EntityDeclaration => "xml_entities",
            Self::MalformedFeed(_) => "malformed_feed",
            Self::InvalidItem(_) => "invalid_item",
            Self::Bus(_) => "bus",
            Self::Unexpected(_) => "unexpected",
        }
    }

    /// Logs and counts the rejection; the caller carries on with the next thing.
    pub(crate) fn report(&self, source: &str) {
        tracing::warn!(source = %source, reason = %self, kind = self.kind(), "Rejected input from a review source");
        metrics::counter!(
            "marquee_ingest_rejected_total",
            "source" => source.to_owned(),
            "reason" => self.kind()
        )
        .increment(1);
    }
}
