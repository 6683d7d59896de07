//! The admin API client: the console and the `marquee admin` CLI both call
//! the API through it, so they agree on how a refusal reads.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The API did not answer.
    Unreachable(String),
    /// The API answered with an error status; `message` is its reason.
    Refused {
        /// HTTP status.
        status: u16,
        /// The `error` of a JSON answer, or the body.
        message: String,
    },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(reason) => write!(f, "the admin API does not answer: {reason}"),
            Self::Refused { status, message } => write!(f, "{status}: {message}"),
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
        let message = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|json| json["error"].as_str().map(str::to_owned))
            .unwrap_or(body);
        Err(ApiError::Refused {
            status: status.as_u16(),
            message: message.trim().to_owned(),
        })
    }

    /// Calls `path` with an optional JSON `body` and reads the JSON answer
    /// (`null` for an empty one).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let text = self.text(request).await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ApiError::Refused {
            status: 200,
            message: format!("{path} did not answer JSON: {e}"),
        })
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.json(Method::GET, path, None).await
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
