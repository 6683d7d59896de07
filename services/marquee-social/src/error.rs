//! The social service's errors, and what a request that meets one answers.

use axum::http::StatusCode;
use marquee_runtime::error::HttpError;

/// Why the store failed; every variant is worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or held something this build cannot read.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A reader of the outbox met a database that does not answer: the posts
/// are still there once it does, so say "try again" rather than "failed".
impl From<StoreError> for HttpError {
    fn from(error: StoreError) -> Self {
        let StoreError::Unexpected(error) = error;
        tracing::error!(
            error = format!("{error:#}"),
            "Could not read the social ledger"
        );
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the outbox is unavailable for a moment; try again shortly",
        )
    }
}
