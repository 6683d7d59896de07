//! One HTTP error type for every service's routes: a status and a message a
//! person can act on, as JSON (`{"error": "…"}`, the admin contract's
//! `ErrorBody`) or, for pages readers open, as an HTML page. An unexpected
//! error is logged with its whole chain and answers a plain 500: the chain
//! never reaches the client.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use marquee_admin::ErrorBody;

/// A request that could not be served.
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    message: String,
    /// What a refusal's log line says was refused.
    refused: &'static str,
}

impl HttpError {
    /// An answer with `status` saying `message`.
    pub fn new(status: StatusCode, message: impl fmt::Display) -> Self {
        Self {
            status,
            message: message.to_string(),
            refused: "a request",
        }
    }

    /// Names what was refused in the log line a client error writes
    /// ("Refused a subscription"), so operators can count refusals by kind.
    pub fn refusing(mut self, what: &'static str) -> Self {
        self.refused = what;
        self
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: what the request names does not exist.
    pub fn not_found(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: it conflicts with what exists.
    pub fn conflict(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 422: well-formed, but the values are refused.
    pub fn unprocessable(message: impl fmt::Display) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500: logs `error` with its chain; the client reads only that the
    /// request failed and where to look.
    pub fn internal(error: &anyhow::Error) -> Self {
        tracing::error!(error = format!("{error:#}"), "Request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request failed on the server; the service log says why",
        )
    }

    /// The status it answers.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What it says.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error as an HTML page, for routes a reader opens in a
    /// browser.
    pub fn page(self) -> HtmlError {
        HtmlError(self)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl From<anyhow::Error> for HttpError {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(&error)
    }
}

impl HttpError {
    /// A refusal is logged once, as JSON or as a page; a 500 was logged
    /// with its chain when it was made.
    fn log(&self) {
        if self.status.is_client_error() {
            tracing::warn!(status = self.status.as_u16(), reason = %self.message, "Refused {}", self.refused);
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.log();
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// An [`HttpError`] answered as a page in the shared layout.
#[derive(Debug)]
pub struct HtmlError(HttpError);

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        self.0.log();
        let HttpError {
            status, message, ..
        } = self.0;
        let title = status.canonical_reason().unwrap_or("Error");
        let page = crate::html::error_page(title, &message);
        match page {
            Ok(page) => (status, Html(page)).into_response(),
            Err(error) => {
                tracing::error!(%error, "The error page did not render");
                (status, message).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::to_bytes;

    use super::*;

    async fn body(response: Response) -> String {
        String::from_utf8(
            to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn an_internal_error_never_shows_its_chain() {
        let error = anyhow::anyhow!("password=hunter2").context("Failed to connect");
        let response = HttpError::from(error).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = body(response).await;
        assert!(
            !text.contains("hunter2") && !text.contains("connect"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn refusals_say_why_as_json_or_as_a_page() {
        let json = body(HttpError::not_found("no schedule named \"x\"").into_response()).await;
        assert_eq!(json, r#"{"error":"no schedule named \"x\""}"#);
        let page = HttpError::unprocessable("<b>bad</b>")
            .page()
            .into_response();
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = body(page).await;
        assert!(
            html.contains("&lt;b&gt;bad&lt;/b&gt;") && html.contains("<h1>Unprocessable Entity"),
            "{html}"
        );
    }
}
