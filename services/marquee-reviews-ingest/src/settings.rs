//! The `[reviews_ingest]` configuration section.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// Settings of the reviews-ingest service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The ledger database: `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Sources polled, each on its own interval.
    pub sources: Vec<SourceSettings>,
    /// Shared secret of the CMS webhook; the webhook answers 404 without one.
    pub webhook_secret: Option<SecretString>,
    /// How far a webhook's timestamp may be from now, in seconds; a
    /// signature is accepted once within it.
    pub webhook_replay_window_secs: u64,
    /// How long a review may be missing from its source before it is
    /// withdrawn, in seconds.
    pub withdraw_grace_secs: u64,
    /// Largest document (or webhook body) accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time limit of one upstream request, in seconds.
    pub fetch_timeout_secs: u64,
    /// Whether sources on loopback or private addresses may be fetched;
    /// off in production so a source URL cannot reach internal services.
    pub allow_private_addresses: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/reviews-ingest.sqlite".to_owned(),
            sources: Vec::new(),
            webhook_secret: None,
            webhook_replay_window_secs: 300,
            withdraw_grace_secs: 24 * 60 * 60,
            max_body_bytes: 5 * 1024 * 1024,
            fetch_timeout_secs: 20,
            allow_private_addresses: false,
        }
    }
}

/// One upstream source, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSettings {
    /// The CMS's RSS 2.0 or Atom 1.0 feed.
    Feed {
        /// Unique name, used in logs, metrics, event sources and the ledger.
        name: String,
        /// The feed's URL.
        url: Url,
        /// Seconds between polls.
        poll_interval_secs: u64,
    },
    /// Article pages, listed by an index page or a `sitemap.xml`.
    Pages {
        /// Unique name, used in logs, metrics, event sources and the ledger.
        name: String,
        /// The index page or sitemap.
        index_url: Url,
        /// Seconds between polls.
        poll_interval_secs: u64,
        /// Which links of the index page are articles, as a CSS selector
        /// (e.g. `main .reviews a`); without it, the same-site links of
        /// `<article>`s, headings, lists and cards outside the page chrome.
        #[serde(default)]
        links: Option<LinkSelector>,
    },
}

/// A CSS selector of an index page's article links, parsed when the
/// settings are read so a typo stops the service at start, not every poll.
#[derive(Debug, Clone)]
pub struct LinkSelector {
    css: String,
    selector: scraper::Selector,
}

/// A `links` value that is not a CSS selector.
#[derive(Debug, thiserror::Error)]
#[error("links {css:?} is not a CSS selector: {reason}")]
pub struct InvalidLinkSelector {
    css: String,
    reason: String,
}

impl LinkSelector {
    /// Parses `css`.
    pub fn parse(css: &str) -> Result<Self, InvalidLinkSelector> {
        let css = css.trim();
        let selector = scraper::Selector::parse(css).map_err(|error| InvalidLinkSelector {
            css: css.to_owned(),
            reason: error.to_string(),
        })?;
        Ok(Self {
            css: css.to_owned(),
            selector,
        })
    }

    /// The selector as configured.
    pub fn as_str(&self) -> &str {
        &self.css
    }

    pub(crate) fn selector(&self) -> &scraper::Selector {
        &self.selector
    }
}

impl PartialEq for LinkSelector {
    fn eq(&self, other: &Self) -> bool {
        self.css == other.css
    }
}

impl Eq for LinkSelector {}

impl<'de> Deserialize<'de> for LinkSelector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let css = String::deserialize(deserializer)?;
        Self::parse(&css).map_err(serde::de::Error::custom)
    }
}

impl marquee_ingest::Source for SourceSettings {
    fn name(&self) -> &str {
        SourceSettings::name(self)
    }

    fn kind(&self) -> &str {
        match self {
            Self::Feed { .. } => "feed",
            Self::Pages { .. } => "pages",
        }
    }

    fn url(&self) -> &Url {
        match self {
            Self::Feed { url, .. } => url,
            Self::Pages { index_url, .. } => index_url,
        }
    }

    fn poll_interval(&self) -> Duration {
        SourceSettings::poll_interval(self)
    }
}

impl SourceSettings {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Feed { name, .. } | Self::Pages { name, .. } => name,
        }
    }

    /// Time between polls; at least one second.
    pub fn poll_interval(&self) -> Duration {
        let secs = match self {
            Self::Feed {
                poll_interval_secs, ..
            }
            | Self::Pages {
                poll_interval_secs, ..
            } => *poll_interval_secs,
        };
        Duration::from_secs(secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(value: serde_json::Value) -> Result<Settings, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn sources_are_tagged_by_kind_and_strict() {
        let settings = parse(serde_json::json!({
            "database_url": "sqlite://x.sqlite",
            "sources": [
                {"kind": "feed", "name": "cms", "url": "https://e.com/feed.xml", "poll_interval_secs": 60},
                {"kind": "pages", "name": "site", "index_url": "https://e.com/sitemap.xml", "poll_interval_secs": 600}
            ]
        }))
        .unwrap();
        assert_eq!(settings.sources.len(), 2);
        assert_eq!(settings.sources[1].name(), "site");
        assert_eq!(settings.withdraw_grace_secs, 86_400);
        let typo = parse(serde_json::json!({
            "sources": [{"kind": "feed", "name": "cms", "url": "https://e.com/", "poll_interval_secs": 1, "intervall": 2}]
        }));
        assert!(typo.is_err());
        assert!(parse(serde_json::json!({"databse_url": "x"})).is_err());
    }

    #[test]
    fn a_pages_source_may_pick_its_article_links_by_css_selector() {
        let source = |links: serde_json::Value| {
            parse(
                serde_json::json!({"sources": [{"kind": "pages", "name": "site",
                "index_url": "https://e.com/reviews", "poll_interval_secs": 600, "links": links}]}),
            )
        };
        let settings = source(serde_json::json!("main .reviews a")).unwrap();
        let SourceSettings::Pages { links, .. } = &settings.sources[0] else {
            panic!("a pages source");
        };
        assert_eq!(
            links.as_ref().map(LinkSelector::as_str),
            Some("main .reviews a")
        );
        let error = source(serde_json::json!("main >> a["))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a CSS selector"), "{error}");
    }
}
