//! The [`Session`] every page and action takes, and the cookie it lives in
//! (logging in and out is [`crate::pages::login`]).
//!
//! The operator's token lives in an HTTP-only cookie scoped to `/console`,
//! read and written with `axum-extra`'s `CookieJar` (the `cookie` crate's
//! parsing and percent-encoding, rather than splitting `Cookie` headers by
//! hand). Whether a token is good is the API's to say: the console keeps no
//! list of its own.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Redirect;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::{ApiClient, Console};

/// The cookie holding the operator's token.
const COOKIE: &str = "marquee_console";
/// Where an operator without a session is sent.
pub(crate) const LOGIN: &str = "/console/login";

/// A logged-in operator: the API client calling with their token. Taken
/// by every page and action; without the cookie the request goes to the
/// login page. (A token the API stopped accepting ends there too, when the
/// first call is refused: see [`crate::pages::PageError`].)
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

/// The session cookie holding `value` (empty to remove it).
pub(crate) fn cookie(value: String) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}
