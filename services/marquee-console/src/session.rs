//! Logging in and out, and the [`Session`] every page and action takes.
//!
//! The operator's token lives in an HTTP-only cookie scoped to `/console`,
//! read and written with `axum-extra`'s `CookieJar` (the `cookie` crate's
//! parsing and percent-encoding, rather than splitting `Cookie` headers by
//! hand). Whether a token is good is the API's to say: the console keeps no
//! list of its own.

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;

use crate::pages::{PageError, render};
use crate::{ApiClient, Console};

/// The cookie holding the operator's token.
const COOKIE: &str = "marquee_console";
/// Where an operator without a session is sent.
pub(crate) const LOGIN: &str = "/console/login";

/// A logged-in operator: the API client calling with their token. Taken
/// by every page and action; without the cookie the request goes to the
/// login page. (A token the API stopped accepting ends there too, when the
/// first call is refused: see [`PageError`].)
pub(crate) struct Session(pub ApiClient);

impl FromRequestParts<Console> for Session {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Redirect> {
        CookieJar::from_headers(&parts.headers)
            .get(COOKIE)
            .map(Cookie::value)
            .filter(|token| !token.is_empty())
            .map(|token| Self(console.client(token)))
            .ok_or_else(|| Redirect::to(LOGIN))
    }
}

fn cookie(value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}

pub(crate) async fn login_page(State(console): State<Console>) -> Result<Html<String>, PageError> {
    render(&console, "login.html", &Refusal { refused: None })
}

#[derive(serde::Serialize)]
struct Refusal {
    refused: Option<&'static str>,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

pub(crate) async fn login(
    State(console): State<Console>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let token = form.token.trim();
    // The API decides: a token is good if it may read the API's description.
    let accepted = !token.is_empty()
        && console
            .client(token)
            .send(
                console
                    .client(token)
                    .request(reqwest::Method::GET, "/admin/openapi.json"),
            )
            .await
            .is_ok();
    if !accepted {
        let page = render(
            &console,
            "login.html",
            &Refusal {
                refused: Some("token refused"),
            },
        )?;
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    }
    Ok((jar.add(cookie(token.to_owned())), Redirect::to("/console/")).into_response())
}

pub(crate) async fn logout(jar: CookieJar) -> impl IntoResponse {
    (jar.remove(cookie(String::new())), Redirect::to(LOGIN))
}
