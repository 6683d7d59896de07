//! The feeds service's errors, and what a request that meets one answers.

use std::io;

use marquee_runtime::error::HttpError;

/// Why the store failed; every variant is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or held something this build cannot read.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why a feed could not be serialized.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// RSS serialization failed.
    #[error("Failed to write RSS: {0}")]
    Rss(#[from] rss::Error),
    /// Atom serialization failed.
    #[error("Failed to write Atom: {0}")]
    Atom(#[from] atom_syndication::Error),
    /// JSON serialization failed.
    #[error("Failed to write JSON Feed: {0}")]
    Json(#[from] io::Error),
    /// A writer's output lacked the tag items are spliced at: the `rss` or
    /// `atom_syndication` crate changed how it writes a channel.
    #[error("Failed to assemble a feed: the writer's output has no `{0}` where items go")]
    Assembly(&'static str),
    /// An item's HTML template failed.
    #[error("Failed to write an item's HTML: {0:#}")]
    Html(#[from] minijinja::Error),
}

/// A reader's request met a store that does not answer: the documents are
/// still there once it does, so say "try again later" rather than "failed".
impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        let StoreError::Unexpected(error) = error;
        tracing::error!(
            error = format!("{error:#}"),
            "The feeds store failed a request"
        );
        HttpError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the feeds are unavailable for a moment; try again shortly",
        )
    }
}
