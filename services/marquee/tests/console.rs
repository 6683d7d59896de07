//! The operators' console in a real headless Chromium (Debian's chromium
//! and chromium-driver, installed by the test command), driven over
//! WebDriver: login, dashboard, calendar, subscriber import and search, a
//! live preview as one subscriber, backfill, dead letters. Screenshots go to
//! `target/console-screenshots/`.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Demo, TOKEN};
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// ChromeDriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Self {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: install Debian's chromium and \
             chromium-driver (./scripts/test does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    async fn browser(&self) -> Client {
        // Installed once per process; a second install is refused, harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", self._profile.path().display()),
                ],
            }),
        );
        ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1_000,
        "{name} is not a PNG"
    );
    std::fs::write(screenshots().join(name), png).unwrap();
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The text of the element at `css` once `accept` holds it. After a click
/// the browser may still be on the previous page, or between pages (the
/// element missing or stale), so it looks again until a deadline.
async fn text_once(browser: &Client, css: &str, accept: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = match browser.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if accept(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed what was wanted; last: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reloads `url` until the element at `css` contains `wanted`.
async fn until_shows(browser: &Client, url: &str, css: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        browser.goto(url).await.unwrap();
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && text.contains(wanted)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never showed {wanted:?} in {css}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn log_in(browser: &Client, base: &str, token: &str) {
    browser.goto(&format!("{base}/console/")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login")
    );
    let field = browser
        .find(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_previews_a_digest_and_walks_the_console() {
    let demo = Demo::start().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = demo.base.clone();

    log_in(&browser, &base, "not-the-token").await;
    text_once(&browser, "[role=alert]", |alert| {
        alert.contains("token refused")
    })
    .await;

    log_in(&browser, &base, TOKEN).await;
    let sources = until_shows(
        &browser,
        &format!("{base}/console/"),
        "#sources",
        "bfi-southbank-ics",
    )
    .await;
    assert!(sources.contains("sample-cms-feed"), "{sources}");
    assert!(
        !sources.contains("never read"),
        "every sample source was read: {sources}"
    );
    assert_eq!(text_of(&browser, "#dead-letter-count").await, "0");
    screenshot(&browser, "dashboard.png").await;

    browser
        .goto(&format!("{base}/console/calendar"))
        .await
        .unwrap();
    let calendar = text_of(&browser, "#calendar").await;
    assert!(
        calendar.contains("weekly") && calendar.contains("08:30"),
        "{calendar}"
    );
    screenshot(&browser, "calendar.png").await;
    // Pause and resume the schedule from the calendar.
    for (button, state) in [("Pause", "paused"), ("Resume", "active")] {
        browser
            .find(Locator::XPath(&format!(
                "//table[@id='schedules']//button[text()='{button}']"
            )))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        text_once(&browser, "[role=status]", |status| {
            status.starts_with("schedule weekly:")
        })
        .await;
        text_once(&browser, "#schedules", |schedules| {
            schedules.contains(state)
        })
        .await;
    }

    // Import a subscriber who only wants BFI Southbank, then find them.
    browser
        .goto(&format!("{base}/console/subscribers"))
        .await
        .unwrap();
    let csv = browser
        .find(Locator::Css("textarea[name=csv]"))
        .await
        .unwrap();
    csv.clear().await.unwrap();
    csv.send_keys("email,venues\nreader@films.example,bfi-southbank\n")
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//button[text()='Import']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_once(&browser, "[role=status]", |status| {
        status.starts_with("1 imported")
    })
    .await;
    browser
        .goto(&format!("{base}/console/subscribers?q=READER"))
        .await
        .unwrap();
    assert!(
        text_of(&browser, "#subscribers")
            .await
            .contains("reader@films.example")
    );
    screenshot(&browser, "subscribers.png").await;

    // The live preview, as that subscriber sees it: BFI Southbank's
    // standing weekly screening, nothing from other venues.
    let preview = format!("{base}/console/preview?schedule=weekly&email=reader%40films.example");
    let deadline = Instant::now() + Duration::from_secs(60);
    let digest = loop {
        browser.goto(&preview).await.unwrap();
        let frame = browser.find(Locator::Css("iframe#preview")).await.unwrap();
        frame.enter_frame().await.unwrap();
        // Rendered text: the template sets venue names in capitals.
        let body = text_of(&browser, "body").await.to_lowercase();
        browser.enter_parent_frame().await.unwrap();
        if body.contains("bfi southbank") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the preview never showed BFI Southbank: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        !digest.contains("prince charles cinema"),
        "preferences apply: {digest}"
    );
    screenshot(&browser, "preview.png").await;

    // Backfill from the sources page, followed to the end.
    browser
        .goto(&format!("{base}/console/sources"))
        .await
        .unwrap();
    browser
        .find(Locator::XPath(
            "//button[text()='Backfill every listings-ingest source']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The job page reloads itself every second while the job runs.
    text_once(&browser, "#job-state", |state| state.contains("succeeded")).await;
    screenshot(&browser, "backfill.png").await;

    browser
        .goto(&format!("{base}/console/dead-letters"))
        .await
        .unwrap();
    assert!(browser.source().await.unwrap().contains("No dead letters."));
    screenshot(&browser, "dead-letters.png").await;

    browser
        .find(Locator::XPath("//button[text()='Log out']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_once(&browser, "form[action='/console/login'] button", |button| {
        button == "Log in"
    })
    .await;
    browser
        .goto(&format!("{base}/console/calendar"))
        .await
        .unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login")
    );
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_needs_a_login() {
    let demo = Demo::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/console/",
        "/console/calendar",
        "/console/runs",
        "/console/preview",
        "/console/preview/frame?schedule=weekly",
        "/console/subscribers",
        "/console/subscribers.csv",
        "/console/sources",
        "/console/dead-letters",
        "/console/jobs?service=feeds&id=1",
    ] {
        let response = http
            .get(format!("{}{path}", demo.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/console/login", "{path}");
    }
    let forged = http
        .post(format!("{}/console/dead-letters/redrive", demo.base))
        .header("cookie", "marquee_console=guess")
        .form(&[("partition", "0"), ("offset", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303, "the API refuses a guessed token");
    assert_eq!(forged.headers()["location"], "/console/login");
}
