//! The admin API client: the console and the `marquee admin` CLI both call
//! the API through it, read its answers as the admin contract's types
//! (`marquee_admin`), and agree on how a refusal reads.

use marquee_admin::ErrorBody;
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The API did not answer.
    Unreachable(String),
    /// The API answered with an error status; `message` is its reason.
    Refused {
        /// HTTP status.
        status: u16,
        /// The `error` of a JSON answer ([`ErrorBody`]), or the body.
        message: String,
    },
    /// The API answered 2xx with something that is not the contract's type.
    Unreadable {
        /// What was asked.
        path: String,
        /// What did not fit.
        reason: String,
    },
}

impl ApiError {
    /// Whether the API refused the token (the operator must log in again).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Refused { status: 401, .. })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(reason) => write!(f, "the admin API does not answer: {reason}"),
            Self::Refused { status, message } => write!(f, "{status}: {message}"),
            Self::Unreadable { path, reason } => {
                write!(f, "{path} answered something unexpected: {reason}")
            }
        }
    }
}

impl std::error::Error for ApiError {}

/// The admin API at one base URL, called with one operator's token.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:8080`) using `token`.
    pub fn new(http: reqwest::Client, base: &str, token: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        }
    }

    /// A request to `path` (starting with `/admin/`), authenticated.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends `request`; an answer other than 2xx is an [`ApiError::Refused`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ApiError> {
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(format!("{} ({e})", self.base)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message =
            serde_json::from_str::<ErrorBody>(&body).map_or(body, |refusal| refusal.error);
        Err(ApiError::Refused {
            status: status.as_u16(),
            message: message.trim().to_owned(),
        })
    }

    /// Sends `request` and reads the answer as `T`.
    pub async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ApiError> {
        let response = self.send(request).await?;
        let path = response.url().path().to_owned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Unreachable(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Unreadable {
            path,
            reason: e.to_string(),
        })
    }

    /// `GET path` as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.call(self.request(Method::GET, path)).await
    }

    /// `GET path?query` as `T`, the query one of the contract's `…Query` types.
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &impl Serialize,
    ) -> Result<T, ApiError> {
        self.call(self.request(Method::GET, path).query(query))
            .await
    }

    /// `POST path` without a body, answered with `T`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.call(self.request(Method::POST, path)).await
    }

    /// `POST path` with `body` as JSON, answered with `T`.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        self.call(self.request(Method::POST, path).json(body)).await
    }

    /// `PUT path` with `body` as JSON, answered with `T`.
    pub async fn put_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        self.call(self.request(Method::PUT, path).json(body)).await
    }

    /// Sends `request` and reads the answer as text (HTML previews, CSV).
    pub async fn text(&self, request: RequestBuilder) -> Result<String, ApiError> {
        self.send(request)
            .await?
            .text()
            .await
            .map_err(|e| ApiError::Unreachable(e.to_string()))
    }
}

/// `text` made safe as one path segment or query value.
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
