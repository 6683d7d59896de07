//! Headless Chromium (Debian's chromium and chromium-driver, installed by
//! the test command) driven over WebDriver, and axe-core run in its pages
//! (installed by `scripts/npm.sh`, found by `AXE_CORE_DIR`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use marquee_test_support::wait;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// `target/{name}/`, made if need be: where a test keeps its screenshots.
pub fn screenshots(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// ChromeDriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Driver {
    pub fn start() -> Self {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "{CHROMEDRIVER} or {CHROMIUM} is missing: install Debian's chromium and \
             chromium-driver (./scripts/test does)"
        );
        let port = marquee_test_support::free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait::blocking_until("chromedriver listens", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn browser(&self) -> Client {
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
                    format!("--user-data-dir={}", self.profile.path().display()),
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

/// The text of the element at `css` once `accept` holds it: after a click
/// the browser may still be on the previous page, or between pages.
pub async fn text_once(browser: &Client, css: &str, accept: impl Fn(&str) -> bool) -> String {
    wait::until_value(
        &format!("{css} shows what was wanted"),
        Duration::from_secs(30),
        || async {
            match browser.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        },
        |text| accept(text),
    )
    .await
}

/// Clicks the element at `css`.
pub async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// axe-core's `axe.min.js`, from `AXE_CORE_DIR` (`scripts/npm.sh`).
pub fn axe_source() -> String {
    let dir = std::env::var("AXE_CORE_DIR").expect(
        "AXE_CORE_DIR is not set: run `source scripts/broker.sh && source scripts/npm.sh && install_axe` \
         (./scripts/test does)",
    );
    std::fs::read_to_string(Path::new(&dir).join("node_modules/axe-core/axe.min.js")).unwrap()
}

/// The WCAG 2.1 A and AA violations axe-core finds in the current page,
/// each as `rule (impact): help — the elements`.
pub async fn axe_violations(browser: &Client, axe: &str) -> Vec<String> {
    browser.execute(axe, vec![]).await.unwrap();
    let found = browser
        .execute(
            "return axe.run(document, { runOnly: { type: 'tag', \
               values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
             .then(r => r.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +
               v.nodes.map(n => n.target.join(' ')).join(', ')));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}
