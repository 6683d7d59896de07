//! HTTP: the outbox and ledger, as an HTML page and as JSON.

use std::fmt::Write;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::SocialService;
use crate::ledger::Entry;

/// Most rows a page shows, newest first.
const PAGE_LIMIT: i64 = 200;

pub(crate) fn router(service: SocialService) -> Router {
    Router::new()
        .route("/social/outbox", get(outbox_html))
        .route("/social/outbox.json", get(outbox_json))
        .with_state(service)
}

#[derive(Serialize)]
struct Outbox {
    dry_run: bool,
    posts: Vec<Entry>,
}

async fn entries(service: &SocialService) -> Result<Vec<Entry>, Response> {
    service
        .inner
        .ledger
        .list(false, PAGE_LIMIT)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "Could not read the social ledger");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        })
}

async fn outbox_json(State(service): State<SocialService>) -> Response {
    match entries(&service).await {
        Ok(posts) => Json(Outbox {
            dry_run: service.inner.settings.dry_run,
            posts,
        })
        .into_response(),
        Err(response) => response,
    }
}

async fn outbox_html(State(service): State<SocialService>) -> Response {
    let posts = match entries(&service).await {
        Ok(posts) => posts,
        Err(response) => return response,
    };
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Marquee — social outbox</title></head><body>\n<h1>Social outbox</h1>\n",
    );
    if service.inner.settings.dry_run {
        page.push_str("<p>Dry run: posts are composed here and never sent.</p>\n");
    }
    if posts.is_empty() {
        page.push_str("<p>No posts yet.</p>\n");
    }
    page.push_str("<ol>\n");
    for post in &posts {
        let _ = write!(
            page,
            "<li><p><strong>{account}</strong> ({network}) · {status} · review {review} · {at}</p>\
             <pre>{text}</pre>",
            account = escape(&post.account),
            network = escape(&post.network),
            status = post.status.as_str(),
            review = escape(&post.review_id),
            at = post.created_at.to_rfc3339(),
            text = escape(&post.post.text),
        );
        if let Some(url) = &post.remote_url {
            let _ = write!(page, "<p><a href=\"{0}\">{0}</a></p>", escape(url));
        }
        if let Some(reason) = &post.reason {
            let _ = write!(page, "<p>{}</p>", escape(reason));
        }
        page.push_str("</li>\n");
    }
    page.push_str("</ol>\n</body></html>\n");
    Html(page).into_response()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
