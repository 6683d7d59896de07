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

/// Why a review cannot be posted on purpose.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostSkippedError {
    /// The ledger has no post of it.
    #[error(
        "review `{0}` has no post in the social ledger: check the id (GET /admin/social/posts)"
    )]
    Unknown(String),
    /// Its posts are not skipped: posted already, queued, failed …
    #[error(
        "review `{review_id}` is not skipped as back catalogue ({states}); only a skipped review can be posted on purpose"
    )]
    NotSkipped {
        /// The review.
        review_id: String,
        /// Each account's state, e.g. `queued on marquee-mastodon`.
        states: String,
    },
}

impl From<PostSkippedError> for HttpError {
    fn from(error: PostSkippedError) -> Self {
        match error {
            PostSkippedError::Unknown(_) => HttpError::not_found(error),
            PostSkippedError::NotSkipped { .. } => HttpError::conflict(error),
        }
    }
}
