//! `marquee up` in the test's own process, for the admin API, CLI and
//! console tests; `marquee` as a child process ([`process`]). Each test
//! target uses part of it.

#![allow(dead_code)]

pub mod browser;
pub mod process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use marquee_test_support::wait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "marquee-local-admin";

/// `marquee up` in this process, on a free port, in a temporary folder.
pub struct Demo {
    pub base: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

/// The built-in defaults with every `127.0.0.1:8080` (listener, public URLs,
/// sample sources) moved to `port`.
pub fn config_on(port: u16) -> String {
    marquee::DEFAULT_CONFIG.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Demo {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// The demo with no SMTP relay listening: a sent run pauses itself at
    /// its first failed message, so there is a run to look at and resume.
    pub async fn start_without_relay() -> Self {
        Self::start_with(|settings| {
            let smtp = &mut settings.digest.smtp;
            smtp.port = marquee_test_support::free_port();
            smtp.max_attempts = 1;
            smtp.pause_after_errors = 1;
        })
        .await
    }

    /// The demo with its settings changed by `change` first.
    pub async fn start_with(change: impl FnOnce(&mut marquee::Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = marquee_test_support::free_port();
        let config = config_on(port);
        let mut settings: marquee::Settings = marquee_runtime::config::load(&config, None).unwrap();
        settings.data_dir = dir.path().to_owned();
        change(&mut settings);
        for sample in settings.samples.values_mut() {
            *sample = repo().join(&*sample);
        }
        let shutdown = CancellationToken::new();
        let started = marquee::start(settings, &marquee::Service::ALL, true, shutdown.clone())
            .await
            .unwrap();
        tokio::spawn(started.wait());
        Self {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            shutdown,
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn admin(&self, path: &str) -> Value {
        let (status, body) = self.get(path, Some(TOKEN)).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls `path` until `accept` holds for its body, for up to 60 s.
    pub async fn until(
        &self,
        path: &str,
        token: Option<&str>,
        accept: impl Fn(&str) -> bool,
    ) -> String {
        let accept = &accept;
        wait::until_value(
            &format!("{path} answers as expected"),
            Duration::from_secs(60),
            move || self.get(path, token),
            |(status, body)| *status == 200 && accept(body),
        )
        .await
        .1
    }

    /// `marquee admin ARGS` against this demo.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_marquee"))
            .arg("admin")
            .args(args)
            .env("MARQUEE_API", &self.base)
            .env("MARQUEE_ADMIN_TOKEN", TOKEN)
            .output()
            .unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn items(feed: &str) -> usize {
    feed.matches("<item>").count()
}
