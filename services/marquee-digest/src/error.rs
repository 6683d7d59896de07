//! The digest's error enums at its boundaries, and how each answers over
//! HTTP: every variant maps to one status, so a route returns
//! `Result<_, HttpError>` and uses `?`.

use marquee_runtime::error::HttpError;

use crate::bounces::BounceError;
use crate::compose::TemplateError;
use crate::store::StoreError;
use crate::token::TokenError;

impl From<StoreError> for ScheduleChangeError {
    fn from(error: StoreError) -> Self {
        Self::Store(error.into())
    }
}

impl From<StoreError> for RunError {
    fn from(error: StoreError) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<StoreError> for SubscriptionError {
    fn from(error: StoreError) -> Self {
        Self::Unexpected(error.into())
    }
}

/// Why a schedule could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleChangeError {
    /// Its cron expression, time zone or template is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A schedule of that name exists already.
    #[error("schedule `{0}` exists already")]
    Exists(String),
    /// There is no schedule of that name.
    #[error("no schedule `{0}`")]
    Unknown(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<ScheduleChangeError> for HttpError {
    fn from(error: ScheduleChangeError) -> Self {
        match error {
            ScheduleChangeError::Invalid(_) => Self::unprocessable(error),
            ScheduleChangeError::Exists(_) => Self::conflict(error),
            ScheduleChangeError::Unknown(_) => Self::not_found(error),
            ScheduleChangeError::Store(error) => Self::internal(&error),
        }
        .refusing("a schedule change")
    }
}

/// Why an operator's action on a schedule's digest or a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// There is no schedule of that name.
    #[error("no schedule `{0}`")]
    UnknownSchedule(String),
    /// There is no run of that id.
    #[error("no run {0}")]
    UnknownRun(String),
    /// There is no subscriber of that address.
    #[error("no subscriber {0}")]
    UnknownSubscriber(String),
    /// The run is not in the state the action needs (e.g. resuming a run
    /// that is not paused).
    #[error("run {id} is {status}, not {wanted}")]
    WrongStatus {
        /// Run id.
        id: String,
        /// Where it stands.
        status: String,
        /// Where it must stand.
        wanted: &'static str,
    },
    /// The digest template is missing or refused.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The database or the relay failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<BounceError> for HttpError {
    fn from(error: BounceError) -> Self {
        use axum::http::StatusCode;
        match error {
            BounceError::Malformed(_) | BounceError::SignatureVersion(_) => {
                Self::unprocessable(error)
            }
            BounceError::Signature(_) | BounceError::CertUrl(_) | BounceError::Topic(_) => {
                Self::new(StatusCode::FORBIDDEN, error)
            }
            BounceError::SnsOff => Self::not_found(error),
            BounceError::Cert { .. } | BounceError::Confirm(_) => {
                Self::new(StatusCode::BAD_GATEWAY, error)
            }
            BounceError::Unexpected(error) => Self::internal(&error),
        }
    }
}

impl From<TemplateError> for HttpError {
    fn from(error: TemplateError) -> Self {
        match error {
            TemplateError::Missing(_) => Self::not_found(error),
            TemplateError::Render { .. } => Self::internal(&anyhow::Error::from(error)),
            TemplateError::Name(_)
            | TemplateError::Invalid { .. }
            | TemplateError::Subject(_)
            | TemplateError::Script(_) => Self::unprocessable(error),
        }
    }
}

impl From<RunError> for HttpError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::UnknownSchedule(_)
            | RunError::UnknownRun(_)
            | RunError::UnknownSubscriber(_) => Self::not_found(error),
            RunError::WrongStatus { .. } => Self::conflict(error),
            RunError::Template(error) => error.into(),
            RunError::Unexpected(error) => Self::internal(&error),
        }
    }
}

/// Why a subscription action failed.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// The link's token is bad.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token names nobody (deleted since).
    #[error("this subscription no longer exists")]
    Unknown,
    /// A confirmation link whose subscription has ended (unsubscribed,
    /// suppressed) or been replaced by a later one.
    #[error(
        "this confirmation link is no longer valid: the subscription it was sent for has ended or been replaced. To get the digest, subscribe again"
    )]
    Stale,
    /// The confirmation email could not be sent.
    #[error("the confirmation email could not be sent; try again later")]
    Send(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<SubscriptionError> for HttpError {
    fn from(error: SubscriptionError) -> Self {
        use axum::http::StatusCode;
        match error {
            SubscriptionError::Token(TokenError::Expired) | SubscriptionError::Stale => {
                Self::new(StatusCode::GONE, error)
            }
            SubscriptionError::Token(_) | SubscriptionError::Unknown => Self::bad_request(error),
            SubscriptionError::Send(_) => {
                tracing::error!(error = %error, "Could not send a confirmation");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, error)
            }
            SubscriptionError::Unexpected(error) => Self::internal(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn each_variant_answers_its_status() {
        let status = |error: ScheduleChangeError| HttpError::from(error).status();
        assert_eq!(
            status(ScheduleChangeError::Invalid("bad cron".to_owned())),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(ScheduleChangeError::Exists("weekly".to_owned())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(ScheduleChangeError::Unknown("weekly".to_owned())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(ScheduleChangeError::Store(anyhow::anyhow!("disk full"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let run = |error: RunError| HttpError::from(error).status();
        assert_eq!(
            run(RunError::UnknownRun("r1".to_owned())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            run(RunError::WrongStatus {
                id: "r1".to_owned(),
                status: "sent".to_owned(),
                wanted: "paused"
            }),
            StatusCode::CONFLICT
        );
        let link = |error: SubscriptionError| HttpError::from(error).status();
        assert_eq!(
            link(SubscriptionError::Token(TokenError::Expired)),
            StatusCode::GONE
        );
        assert_eq!(
            link(SubscriptionError::Token(TokenError::Invalid)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(link(SubscriptionError::Stale), StatusCode::GONE);
    }
}
