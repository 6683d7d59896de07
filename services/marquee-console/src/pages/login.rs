//! Logging in and out: the API decides whether a token is good.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::{PageError, render};
use crate::Console;
use crate::session::{LOGIN, cookie};

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
