//! A fake upstream site for ingest tests: bodies by path, strong ETags with
//! 304s, and a log of the statuses it answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

#[derive(Clone)]
struct Fixture {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The fake site, on a free loopback port.
#[derive(Clone)]
pub struct Upstream {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Fixture>>>,
    answers: Arc<Mutex<Vec<(String, u16)>>>,
}

async fn answer(State(upstream): State<Upstream>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let fixture = upstream.routes().get(&path).cloned();
    let fixture = fixture.unwrap_or(Fixture {
        status: StatusCode::NOT_FOUND,
        headers: vec![],
        body: b"not found".to_vec(),
    });
    let etag = format!("\"{}\"", hex::encode(Sha256::digest(&fixture.body)));
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let status = if not_modified && fixture.status == StatusCode::OK {
        StatusCode::NOT_MODIFIED
    } else {
        fixture.status
    };
    upstream
        .answers
        .lock()
        .expect("answers lock")
        .push((path, status.as_u16()));
    let mut response = Response::new(if status == StatusCode::NOT_MODIFIED {
        Body::empty()
    } else {
        Body::from(fixture.body)
    });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex ETag"),
    );
    for (name, value) in fixture.headers {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
            HeaderValue::from_str(&value).expect("a valid header value"),
        );
    }
    response
}

impl Upstream {
    /// Starts the site; it runs until the test's runtime ends.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let upstream = Self {
            base: format!("http://{}", listener.local_addr().expect("bound address")),
            routes: Arc::default(),
            answers: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(upstream.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        upstream
    }

    /// The absolute URL of `path` on this site.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("{}{path}", self.base)).expect("a valid URL")
    }

    /// Answers `path` with `status`, `headers` and `body` from now on.
    pub fn respond(
        &self,
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) {
        let fixture = Fixture {
            status: StatusCode::from_u16(status).expect("a valid status"),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        };
        self.routes().insert(path.to_owned(), fixture);
    }

    /// Serves `text` with `{{BASE}}` replaced by this site's address.
    pub fn serve(&self, path: &str, content_type: &str, text: &str) {
        let body = text.replace("{{BASE}}", &self.base);
        self.respond(path, 200, &[("content-type", content_type)], body);
    }

    /// Statuses answered for `path`, in order.
    pub fn answers(&self, path: &str) -> Vec<u16> {
        self.answers
            .lock()
            .expect("answers lock")
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fixture>> {
        self.routes.lock().expect("routes lock")
    }
}
