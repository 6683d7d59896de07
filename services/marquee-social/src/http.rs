//! HTTP: the outbox and ledger, as an HTML page (`templates/outbox.html`)
//! and as JSON.

use std::sync::LazyLock;

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use marquee_runtime::error::{HtmlError, HttpError};
use minijinja::Environment;
use serde::Serialize;

use crate::SocialService;
use crate::store::posts::Entry;

/// Most rows a page shows, newest first.
const PAGE_LIMIT: i64 = 200;

/// The outbox page's template in the shared layout; parsed once.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    marquee_runtime::html::environment_with(&[(
        "outbox.html",
        include_str!("../templates/outbox.html"),
    )])
});

pub(crate) fn router(service: SocialService) -> Router {
    Router::new()
        .route("/social/outbox", get(outbox_html))
        .route("/social/outbox.json", get(outbox_json))
        .with_state(service)
}

/// What both forms of the outbox show.
#[derive(Serialize)]
struct Outbox {
    dry_run: bool,
    posts: Vec<Entry>,
}

async fn outbox(service: &SocialService) -> Result<Outbox, HttpError> {
    let posts = service.inner.store.list(None, PAGE_LIMIT).await?;
    Ok(Outbox {
        dry_run: service.inner.settings.dry_run,
        posts,
    })
}

async fn outbox_json(State(service): State<SocialService>) -> Result<Json<Outbox>, HttpError> {
    Ok(Json(outbox(&service).await?))
}

async fn outbox_html(State(service): State<SocialService>) -> Result<Html<String>, HtmlError> {
    let outbox = outbox(&service).await.map_err(HttpError::page)?;
    let page = TEMPLATES
        .get_template("outbox.html")
        .and_then(|template| template.render(&outbox))
        .map_err(|error| HttpError::from(anyhow::Error::from(error)).page())?;
    Ok(Html(page))
}
