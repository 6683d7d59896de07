//! Why a source, a document, an item or a webhook delivery was rejected,
//! and how a refused delivery answers over HTTP.

use axum::http::StatusCode;
use marquee_runtime::error::HttpError;

/// A rejection while fetching, parsing or publishing. Every one is logged with
/// its source and counted by [`IngestError::kind`] (through
/// [`marquee_ingest::PollReport::reject`]); none stops the service.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Fetching the document was refused or failed.
    #[error(transparent)]
    Fetch(#[from] marquee_fetch::FetchError),
    /// The XML declares entities (the shape of an entity-expansion attack).
    #[error("the feed declares XML entities in a DOCTYPE, which is refused")]
    EntityDeclaration,
    /// The feed is not a readable RSS (2.0, 0.9x, 1.0) or Atom feed.
    #[error("not a readable RSS or Atom feed: {0}")]
    MalformedFeed(String),
    /// An index page or sitemap links no article: the source yields nothing,
    /// so its health says why instead of reporting a healthy empty read.
    #[error(
        "the index page {index} links no articles (looked for {looked_for}); set `links` to a CSS selector of its article links"
    )]
    NoArticles {
        /// The index page or sitemap.
        index: url::Url,
        /// What was looked for: the default places or the configured selector.
        looked_for: String,
    },
    /// An item or page lacks something every review needs.
    #[error("{0}")]
    InvalidItem(String),
    /// An item with a usable id lacks something every review needs: it is
    /// present but invalid, so never withdrawn for being invalid.
    #[error("item {id} {reason}")]
    InvalidReview {
        /// The item's id.
        id: marquee_events::ReviewId,
        /// What it lacks, e.g. `has no headline`.
        reason: String,
    },
    /// A field of an accepted item was left out, e.g. a date that is not a
    /// date: the item keeps its previous value.
    #[error("{0}")]
    InvalidField(String),
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
            Self::NoArticles { .. } => "no_articles",
            Self::InvalidItem(_) | Self::InvalidReview { .. } => "invalid_item",
            Self::InvalidField(_) => "invalid_field",
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

/// Why a CMS webhook delivery was refused; answered as JSON
/// `{"error": "…"}`, logged and counted in `marquee_ingest_rejected_total`
/// (in [`crate::http`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebhookError {
    /// No secret is configured.
    #[error("the CMS webhook is disabled: set webhook_secret to enable it")]
    Disabled,
    /// The timestamp or signature is missing, wrong, stale or used.
    #[error("{0}")]
    Signature(String),
    /// The body is not the JSON the webhook takes.
    #[error("invalid webhook body: {0}")]
    MalformedJson(#[from] serde_json::Error),
    /// The payload lacks something, or a value in it is refused.
    #[error("{0}")]
    InvalidItem(String),
    /// The review could not be published or recorded (retry later).
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl WebhookError {
    /// A short, stable label for metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Signature(_) => "signature",
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidItem(_) => "invalid_item",
            Self::Ingest(error) => error.kind(),
        }
    }
}

impl From<&WebhookError> for HttpError {
    fn from(error: &WebhookError) -> Self {
        match error {
            WebhookError::Disabled => HttpError::not_found(error),
            WebhookError::Signature(_) => HttpError::new(StatusCode::UNAUTHORIZED, error),
            WebhookError::MalformedJson(_)
            | WebhookError::InvalidItem(_)
            | WebhookError::Ingest(
                IngestError::InvalidItem(_) | IngestError::InvalidReview { .. },
            ) => HttpError::bad_request(error),
            // 503 so the CMS retries; the chain stays in the log.
            WebhookError::Ingest(_) => HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the review could not be recorded now; retry later (the service log says why)",
            ),
        }
    }
}
