//! The operators' web console at `/console/`: small, server-rendered HTML
//! over the admin API (docs/operators.md), which it calls with the token the
//! operator logged in with. It can do nothing the API cannot, and every
//! action goes through the API's own checks.
//!
//! - [`session`]: the [`session::Session`] extractor every page takes (no
//!   cookie: to the login page), and its cookie; `pages/login.rs` logs in and out;
//! - `pages/`: one file per page and the actions on it, each reading the
//!   admin contract's types (`marquee_admin`) into a small view that its
//!   minijinja template (`templates/`, extending the shared layout) shows.
//!
//! Also home of [`ApiClient`], which the `marquee admin` CLI shares.

mod client;
mod pages;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use marquee_runtime::clock::{SharedClock, SystemClock};
use minijinja::Environment;
use serde::Deserialize;
use url::Url;

pub use client::{ApiClient, ApiError, encode};

/// The `[console]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Base URL of the admin API (the gateway or ingress of a distributed
    /// deployment); unset, the console calls its own process.
    pub api_url: Option<Url>,
}

/// What every handler shares: where the API is, the templates, the clock
/// that says how old a source's last read is.
#[derive(Clone)]
struct Console {
    api: String,
    http: reqwest::Client,
    templates: Arc<Environment<'static>>,
    clock: SharedClock,
}

impl Console {
    fn client(&self, token: &str) -> ApiClient {
        ApiClient::new(self.http.clone(), &self.api, token)
    }
}

/// The console's routes; `own_address` is this process's listener, the API
/// when `settings.api_url` is unset.
pub fn router(settings: &Settings, own_address: SocketAddr) -> Router {
    let api = settings
        .api_url
        .as_ref()
        .map_or_else(|| format!("http://{own_address}"), Url::to_string);
    let console = Console {
        api,
        http: reqwest::Client::new(),
        templates: Arc::new(pages::templates()),
        clock: SystemClock::shared(),
    };
    use pages::{
        calendar, dashboard, dead_letters, picks, preview, runs, social, sources, subscribers,
        templates,
    };
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(dashboard::page))
        .route(
            "/console/login",
            get(pages::login::login_page).post(pages::login::login),
        )
        .route("/console/logout", post(pages::login::logout))
        .route("/console/calendar", get(calendar::page))
        .route("/console/schedules", post(calendar::save))
        .route("/console/schedules/toggle", post(calendar::toggle))
        .route("/console/digest/send", post(runs::send))
        .route("/console/runs", get(runs::page))
        .route("/console/runs/toggle", post(runs::toggle))
        .route("/console/preview", get(preview::page))
        .route("/console/preview/frame", get(preview::frame))
        .route(
            "/console/templates",
            get(templates::page).post(templates::act),
        )
        .route("/console/picks", get(picks::page).post(picks::act))
        .route("/console/subscribers", get(subscribers::page))
        .route("/console/subscribers/suppress", post(subscribers::suppress))
        .route("/console/subscribers.csv", get(subscribers::export))
        .route("/console/subscribers/import", post(subscribers::import))
        .route("/console/sources", get(sources::page))
        .route("/console/backfill", post(sources::backfill))
        .route("/console/replay", post(sources::replay))
        .route("/console/jobs", get(sources::job))
        .route("/console/dead-letters", get(dead_letters::page))
        .route("/console/dead-letters/redrive", post(dead_letters::redrive))
        .route("/console/social", get(social::page))
        .route("/console/social/toggle", post(social::toggle))
        .route("/console/social/actors/toggle", post(social::toggle_actor))
        .route("/console/social/posts", post(social::act))
        .route("/console/audit", get(pages::audit::page))
        .with_state(console)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use super::*;

    /// The console over an API that is not there (a port nothing listens on).
    fn console() -> Router {
        let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = nowhere.local_addr().unwrap();
        drop(nowhere);
        router(&Settings::default(), address)
    }

    async fn get(path: &str, cookie: Option<&str>) -> axum::response::Response {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        console()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn without_the_cookie_every_page_is_the_login_page() {
        for path in [
            "/console/",
            "/console/runs",
            "/console/jobs?service=feeds&id=1",
        ] {
            for cookie in [None, Some("other=1"), Some("marquee_console=")] {
                let response = get(path, cookie).await;
                assert_eq!(
                    response.status(),
                    StatusCode::SEE_OTHER,
                    "{path} {cookie:?}"
                );
                assert_eq!(response.headers()[header::LOCATION], "/console/login");
            }
        }
    }

    #[tokio::test]
    async fn with_the_cookie_an_unreachable_api_is_a_bad_gateway_page() {
        let response = get("/console/runs", Some("a=b; marquee_console=some-token")).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("the admin API does not answer"), "{page}");
    }

    #[tokio::test]
    async fn logging_out_clears_the_cookie() {
        let response = console()
            .oneshot(
                Request::post("/console/logout")
                    .header(header::COOKIE, "marquee_console=some-token")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.headers()[header::LOCATION], "/console/login");
        let cleared = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cleared.starts_with("marquee_console=;") && cleared.contains("Max-Age=0"),
            "{cleared}"
        );
    }
}
