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

/// Why an operator's change to an account or a post is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QueueError {
    /// No account of that name is configured.
    #[error("no social account `{account}` is configured (configured: {known})")]
    UnknownAccount {
        /// The name asked for.
        account: String,
        /// The configured accounts' names.
        known: String,
    },
    /// The ledger has no post of that review on that account.
    #[error(
        "review `{review_id}` has no post on `{account}` in the social ledger: check both (GET /admin/social/posts)"
    )]
    UnknownPost {
        /// The review asked for.
        review_id: String,
        /// The account asked for.
        account: String,
    },
    /// Pausing a paused account.
    #[error("account `{account}` is paused already (since {since}); resume it to send again")]
    AlreadyPaused {
        /// The account.
        account: String,
        /// When it was paused.
        since: String,
    },
    /// Resuming an account that is not paused.
    #[error("account `{0}` is not paused")]
    NotPaused(String),
    /// Cancelling a post that is no longer waiting.
    #[error("the post of `{review_id}` on `{account}` cannot be cancelled: {why}")]
    NotCancellable {
        /// The review.
        review_id: String,
        /// The account.
        account: String,
        /// Its state, and what to do instead.
        why: &'static str,
    },
    /// Retrying a post that did not fail.
    #[error("the post of `{review_id}` on `{account}` cannot be retried: {why}")]
    NotRetryable {
        /// The review.
        review_id: String,
        /// The account.
        account: String,
        /// Its state, and what to do instead.
        why: &'static str,
    },
}

impl From<QueueError> for HttpError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::UnknownAccount { .. } | QueueError::UnknownPost { .. } => {
                HttpError::not_found(error)
            }
            QueueError::AlreadyPaused { .. }
            | QueueError::NotPaused(_)
            | QueueError::NotCancellable { .. }
            | QueueError::NotRetryable { .. } => HttpError::conflict(error),
        }
    }
}
