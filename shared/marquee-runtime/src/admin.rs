//! Operator endpoints: answered only with a bearer token from configuration,
//! compared in constant time, and only for calls its role allows.
//!
//! [`require_bearer`] authenticates (401) and hands the handlers a
//! [`Caller`]; [`require_role`] refuses a call outside the caller's role
//! (403, naming the role it needs). They are two layers so that something
//! between them (the audit trail) sees who was refused, and why.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use marquee_admin::ErrorBody;
pub use marquee_admin::audit::Role;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The `[admin]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Accepted bearer tokens; with none, operator endpoints are not served.
    pub tokens: Vec<TokenSetting>,
}

impl AdminSettings {
    /// Every token as a [`Token`]; a plain one (the old form) is an admin
    /// token named by its place in the list, `token-1`, `token-2`, …
    pub fn tokens(&self) -> Vec<Token> {
        self.tokens
            .iter()
            .enumerate()
            .map(|(i, setting)| match setting {
                TokenSetting::Named(token) => token.clone(),
                TokenSetting::Plain(secret) => Token {
                    name: format!("token-{}", i + 1),
                    role: Role::Admin,
                    token: secret.clone(),
                },
            })
            .collect()
    }

    /// Logs a deprecation warning for each plain token, by its name only.
    pub fn warn_deprecated(&self) {
        for (i, setting) in self.tokens.iter().enumerate() {
            if let TokenSetting::Plain(_) = setting {
                let name = format!("token-{}", i + 1);
                tracing::warn!(
                    %name,
                    "A plain [admin] token is deprecated: it is read as an admin token called \
                     {name}; write it as {{ name = \"…\", role = \"admin\", token = \"…\" }}"
                );
            }
        }
    }
}

/// One entry of `[admin] tokens`: a named token with its role, or (the
/// deprecated form) the bare secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TokenSetting {
    /// `{ name = "ana", role = "editor", token = "…" }`.
    Named(Token),
    /// `"…"`: an admin token, named by its place in the list.
    Plain(SecretString),
}

/// A bearer token, who it stands for, and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Who holds it, as the audit trail names them.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The secret itself; never logged.
    pub token: SecretString,
}

/// Who made an authenticated request: put in its extensions by
/// [`require_bearer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// The token's role.
    pub role: Role,
}

/// Which role a route needs. `{…}` in a pattern matches one path segment;
/// the first rule matching the method and path decides.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The HTTP method, e.g. `"POST"`.
    pub method: &'static str,
    /// The path, e.g. `"/admin/digest/send/{schedule}"`.
    pub pattern: &'static str,
    /// The least role that may call it.
    pub role: Role,
}

/// The role each admin route needs (docs/operators.md has the same table).
/// A read needs a viewer unless listed; a change not listed needs an
/// admin, so a new route is closed until someone decides otherwise.
pub const RULES: &[Rule] = &[
    rule("GET", "/admin/digest/preview/{schedule}", Role::Editor),
    rule("POST", "/admin/digest/dry-run/{schedule}", Role::Editor),
    // A test send goes only to the addresses the editor names.
    rule("POST", "/admin/digest/test-send/{schedule}", Role::Editor),
    rule("PUT", "/admin/digest/templates/{name}", Role::Editor),
    rule(
        "POST",
        "/admin/digest/templates/{name}/preview",
        Role::Editor,
    ),
    rule("PUT", "/admin/digest/picks/{schedule}", Role::Editor),
    rule("POST", "/admin/digest/schedules", Role::Editor),
    rule("PUT", "/admin/digest/schedules/{name}", Role::Editor),
    rule("POST", "/admin/digest/schedules/{name}/pause", Role::Editor),
    rule(
        "POST",
        "/admin/digest/schedules/{name}/resume",
        Role::Editor,
    ),
    // Stopping a send is safe; carrying one on sends.
    rule("POST", "/admin/digest/runs/{id}/pause", Role::Editor),
    rule(
        "POST",
        "/admin/social/accounts/{account}/pause",
        Role::Editor,
    ),
    rule(
        "POST",
        "/admin/social/posts/{review_id}/{account}/cancel",
        Role::Editor,
    ),
    rule("POST", "/admin/social/actors/{actor}/pause", Role::Editor),
];

const fn rule(method: &'static str, pattern: &'static str, role: Role) -> Rule {
    Rule {
        method,
        pattern,
        role,
    }
}

/// The role `method` on `path` needs under `rules`.
pub fn required_role(rules: &[Rule], method: &Method, path: &str) -> Role {
    rules
        .iter()
        .find(|rule| rule.method == method.as_str() && matches(rule.pattern, path))
        .map_or_else(
            || {
                if is_read(method) {
                    Role::Viewer
                } else {
                    Role::Admin
                }
            },
            |rule| rule.role,
        )
}

/// Whether `method` only reads.
pub fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn matches(pattern: &str, path: &str) -> bool {
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w == g || (w.starts_with('{') && !g.is_empty()) => {}
            _ => return false,
        }
    }
}

/// `router`, answering 401 unless the request carries one of `tokens`; the
/// handlers (and layers inside this one) find its [`Caller`].
pub fn require_bearer(router: Router, tokens: Vec<Token>) -> Router {
    let tokens = Arc::new(tokens);
    router.layer(middleware::from_fn(
        move |mut request: Request, next: Next| {
            let caller = bearer(&request).and_then(|presented| identify(&tokens, presented));
            async move {
                match caller {
                    Some(caller) => {
                        request.extensions_mut().insert(caller);
                        next.run(request).await
                    }
                    None => unauthorized(),
                }
            }
        },
    ))
}

/// `router`, answering 403 to a [`Caller`] whose role is below what
/// [`RULES`] asks for the call (inside [`require_bearer`]).
pub fn require_role(router: Router) -> Router {
    router.layer(middleware::from_fn(
        |request: Request, next: Next| async move {
            let needed = required_role(RULES, request.method(), request.uri().path());
            match request.extensions().get::<Caller>() {
                Some(caller) if caller.role >= needed => next.run(request).await,
                caller => forbidden(caller, needed),
            }
        },
    ))
}

/// The token `presented` matches, checking every one of them in constant
/// time so timing reveals neither a prefix nor which token matched.
fn identify(tokens: &[Token], presented: &[u8]) -> Option<Caller> {
    let mut found = None;
    for token in tokens {
        if constant_time_eq(token.token.expose_secret().as_bytes(), presented) && found.is_none() {
            found = Some(Caller {
                name: token.name.clone(),
                role: token.role,
            });
        }
    }
    found
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

fn forbidden(caller: Option<&Caller>, needed: Role) -> Response {
    let error = match caller {
        Some(caller) => format!(
            "this call needs the {needed} role (the token {} has the {} role)",
            caller.name, caller.role
        ),
        None => format!("this call needs the {needed} role"),
    };
    (StatusCode::FORBIDDEN, axum::Json(ErrorBody { error })).into_response()
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
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;

    fn token(name: &str, role: Role, secret: &str) -> Token {
        Token {
            name: name.to_owned(),
            role,
            token: SecretString::from(secret),
        }
    }

    fn router() -> Router {
        let inner = Router::new()
            .route(
                "/admin",
                get(|request: Request| async move {
                    let caller = request.extensions().get::<Caller>().unwrap().clone();
                    format!("{} {}", caller.name, caller.role)
                }),
            )
            .route("/admin/digest/send/{schedule}", post(|| async { "sent" }))
            .route(
                "/admin/digest/schedules/{name}/pause",
                post(|| async { "paused" }),
            );
        require_bearer(
            require_role(inner),
            vec![
                token("root", Role::Admin, "s3cret-token"),
                token("ana", Role::Editor, "editor-token"),
                token("vic", Role::Viewer, "viewer-token"),
            ],
        )
    }

    async fn call(method: &str, uri: &str, authorization: Option<&str>) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = router()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn only_a_configured_token_is_let_through() {
        assert_eq!(
            call("GET", "/admin", Some("Bearer s3cret-token")).await,
            (StatusCode::OK, "root admin".to_owned())
        );
        assert_eq!(
            call("GET", "/admin", Some("Bearer viewer-token")).await,
            (StatusCode::OK, "vic viewer".to_owned())
        );
        assert_eq!(
            call("GET", "/admin", None).await.0,
            StatusCode::UNAUTHORIZED
        );
        for refused in [
            "Bearer s3cret-tokeN",
            "Bearer s3cret",
            "Bearer s3cret-token-and-more",
            "Basic s3cret-token",
        ] {
            assert_eq!(
                call("GET", "/admin", Some(refused)).await.0,
                StatusCode::UNAUTHORIZED,
                "{refused}"
            );
        }
    }

    #[tokio::test]
    async fn a_call_outside_the_role_is_refused_naming_the_role_it_needs() {
        let send = "/admin/digest/send/weekly";
        let pause = "/admin/digest/schedules/weekly/pause";
        assert_eq!(
            call("POST", send, Some("Bearer s3cret-token")).await,
            (StatusCode::OK, "sent".to_owned())
        );
        let (status, body) = call("POST", send, Some("Bearer editor-token")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            r#"{"error":"this call needs the admin role (the token ana has the editor role)"}"#
        );
        assert_eq!(
            call("POST", pause, Some("Bearer editor-token")).await.0,
            StatusCode::OK
        );
        let (status, body) = call("POST", pause, Some("Bearer viewer-token")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("needs the editor role"), "{body}");
    }

    #[test]
    fn roles_follow_the_table_and_close_unlisted_changes() {
        let role = |method: Method, path: &str| required_role(RULES, &method, path);
        assert_eq!(role(Method::GET, "/admin/digest/runs"), Role::Viewer);
        assert_eq!(
            role(Method::GET, "/admin/digest/preview/weekly"),
            Role::Editor
        );
        assert_eq!(
            role(Method::PUT, "/admin/digest/schedules/weekly"),
            Role::Editor
        );
        assert_eq!(role(Method::POST, "/admin/digest/send/weekly"), Role::Admin);
        assert_eq!(
            role(Method::POST, "/admin/digest/test-send/weekly"),
            Role::Editor
        );
        assert_eq!(
            role(Method::PUT, "/admin/digest/templates/weekly"),
            Role::Editor
        );
        assert_eq!(
            role(Method::GET, "/admin/digest/templates/weekly"),
            Role::Viewer
        );
        assert_eq!(
            role(Method::PUT, "/admin/digest/picks/weekly"),
            Role::Editor
        );
        assert_eq!(
            role(Method::POST, "/admin/digest/runs/r1/resume"),
            Role::Admin
        );
        assert_eq!(role(Method::POST, "/admin/never-heard-of"), Role::Admin);
        // A segment placeholder matches one non-empty segment, no more.
        assert_eq!(role(Method::PUT, "/admin/digest/schedules/"), Role::Admin);
        assert_eq!(
            role(Method::PUT, "/admin/digest/schedules/a/b"),
            Role::Admin
        );
    }

    #[test]
    fn the_plain_list_is_read_as_admin_tokens() {
        let settings: AdminSettings = serde_json::from_str(
            r#"{"tokens": ["old-secret", {"name": "ana", "role": "editor", "token": "t"}]}"#,
        )
        .unwrap();
        let tokens = settings.tokens();
        assert_eq!(tokens[0].name, "token-1");
        assert_eq!(tokens[0].role, Role::Admin);
        assert_eq!(tokens[0].token.expose_secret(), "old-secret");
        assert_eq!(
            (tokens[1].name.as_str(), tokens[1].role),
            ("ana", Role::Editor)
        );
        assert!(!format!("{tokens:?}").contains("old-secret"));
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
