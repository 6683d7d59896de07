//! Operator endpoints: answered only with a bearer token from configuration,
//! compared in constant time.

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The `[admin]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Accepted bearer tokens; with none, operator endpoints are not served.
    pub tokens: Vec<SecretString>,
}

/// `router`, answering 401 unless the request carries one of `tokens`.
pub fn require_bearer(router: Router, tokens: Vec<SecretString>) -> Router {
    router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let authorized = bearer(&request).is_some_and(|presented| {
            tokens
                .iter()
                .any(|token| constant_time_eq(token.expose_secret().as_bytes(), presented))
        });
        async move {
            if authorized {
                next.run(request).await
            } else {
                unauthorized()
            }
        }
    }))
}

fn bearer(request: &Request) -> Option<&[u8]> {
    request
        .headers()
        .get(header::AUTHORIZATION)?
        .as_bytes()
        .strip_prefix(b"Bearer ")
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "a valid bearer token is required\n",
    )
        .into_response()
}

/// Equal without an early exit, so timing does not reveal a matching prefix.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut difference = expected.len() ^ presented.len();
    for (i, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ presented.get(i).copied().unwrap_or(!byte));
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn status(authorization: Option<&str>) -> StatusCode {
        let router = require_bearer(
            Router::new().route("/admin", get(|| async { "secret" })),
            vec![SecretString::from("s3cret-token")],
        );
        let mut request = Request::builder().uri("/admin");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn only_a_configured_token_is_let_through() {
        assert_eq!(status(Some("Bearer s3cret-token")).await, StatusCode::OK);
        assert_eq!(status(None).await, StatusCode::UNAUTHORIZED);
        for refused in [
            "Bearer s3cret-tokeN",
            "Bearer s3cret",
            "Bearer s3cret-token-and-more",
            "Basic s3cret-token",
        ] {
            assert_eq!(
                status(Some(refused)).await,
                StatusCode::UNAUTHORIZED,
                "{refused}"
            );
        }
    }

    #[test]
    fn comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
