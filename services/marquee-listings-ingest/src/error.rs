//! Why a source, a document or a single listing was rejected.

/// A rejection while fetching, parsing, normalizing or publishing. Every one
/// is logged with its source and counted by [`IngestError::kind`]; none stops
/// the service, and a rejected row never keeps the valid rows out.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The URL is not http(s).
    #[error("refusing {url}: only http and https URLs can be fetched")]
    UnsupportedScheme {
        /// The URL.
        url: String,
    },
    /// The host is (or resolves to) a loopback, private or link-local address.
    #[error(
        "refusing {host}: it resolves to a loopback or private address (set allow_private_addresses = true for local sources)"
    )]
    PrivateAddress {
        /// The host.
        host: String,
    },
    /// The request failed: DNS, connection, TLS or timeout.
    #[error("fetching {url} failed: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Redirects went round in a circle or on for too long.
    #[error("{url}: {reason}")]
    Redirect {
        /// The URL first asked for.
        url: String,
        /// Loop, too many hops, or a bad `Location`.
        reason: String,
    },
    /// The body is larger than `max_body_bytes`.
    #[error("{url} sent more than {limit} bytes (raise max_body_bytes if this is legitimate)")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The document declares a character encoding we do not know.
    #[error("unknown character encoding {label:?}")]
    UnknownEncoding {
        /// The declared label.
        label: String,
    },
    /// The bytes are not valid in the declared encoding.
    #[error("the document is not valid {encoding}")]
    InvalidEncoding {
        /// The encoding it claims.
        encoding: &'static str,
    },
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
            Self::UnsupportedScheme { .. } => "unsupported_scheme",
            Self::PrivateAddress { .. } => "private_address",
            Self::Network { .. } => "network",
            Self::Status { .. } => "http_status",
            Self::Redirect { .. } => "redirect",
            Self::TooLarge { .. } => "too_large",
            Self::UnknownEncoding { .. } | Self::InvalidEncoding { .. } => "encoding",
            Self::Document(_) => "invalid_document",
            Self::Row { kind, .. } => kind,
            Self::Bus(_) => "bus",
            Self::Unexpected(_) => "unexpected",
        }
    }

    /// Logs and counts the rejection; the caller carries on with the next thing.
    pub(crate) fn report(&self, source: &str) {
        tracing::warn!(source = %source, reason = %self, kind = self.kind(), "Rejected input from a listings source");
        metrics::counter!(
            "marquee_ingest_rejected_total",
            "source" => source.to_owned(),
            "reason" => self.kind()
        )
        .increment(1);
    }
}
