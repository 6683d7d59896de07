//! Why a source, a document or a single listing was rejected.

/// A rejection while fetching, parsing, normalizing or publishing. Every one
/// is logged with its source and counted by [`IngestError::kind`] (through
/// [`marquee_ingest::PollReport::reject`]); none stops
/// the service, and a rejected row never keeps the valid rows out.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Fetching the document was refused or failed.
    #[error(transparent)]
    Fetch(#[from] marquee_fetch::FetchError),
    /// The whole document is unusable: not iCalendar, CSV without a
    /// `title` column, JSON that does not parse.
    #[error("{0}")]
    Document(String),
    /// One row, event or item is unusable; the rest of the document is kept.
    #[error("{location}: {reason}")]
    Row {
        /// Where in the document, e.g. `line 12` or `screenings[3]`.
        location: String,
        /// A short label for metrics, e.g. `missing_dtstart`, `unknown_tzid`.
        kind: &'static str,
        /// What is wrong, in words an editor can act on.
        reason: String,
    },
    /// The bus did not accept an event; it is retried on the next poll.
    #[error(transparent)]
    Bus(#[from] marquee_bus::BusError),
    /// Anything else, e.g. the ledger database.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IngestError {
    /// A per-row rejection.
    pub(crate) fn row(
        location: impl Into<String>,
        kind: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::Row {
            location: location.into(),
            kind,
            reason: reason.into(),
        }
    }

    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fetch(error) => error.kind(),
            Self::Document(_) => "invalid_document",
            Self::Row { kind, .. } => kind,
            Self::Bus(_) => "bus",
            Self::Unexpected(_) => "unexpected",
        }
    }
}

impl marquee_ingest::Rejection for IngestError {
    fn kind(&self) -> &'static str {
        IngestError::kind(self)
    }
}
