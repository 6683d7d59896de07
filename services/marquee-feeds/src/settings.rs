//! The service's settings and the feeds it publishes.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// Everything the feeds service needs to run, deserialized from the layered
/// configuration the binary assembles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Public URL the feeds are served under, e.g. `http://127.0.0.1:8080/`;
    /// feed self links, ids of the index page and WebSub topics derive from it.
    pub base_url: Url,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Most items a feed carries, newest first.
    #[serde(default = "default_item_limit")]
    pub item_limit: usize,
    /// The feeds to publish; defaults to one site-wide feed, `all`.
    #[serde(default = "default_feeds")]
    pub feeds: Vec<FeedDefinition>,
    /// WebSub hub to advertise and notify after a feed changes.
    #[serde(default)]
    pub websub_hub: Option<Url>,
    /// When set, every feed file is also written here after it changes.
    #[serde(default)]
    pub output_dir: Option<PathBuf>,
    /// Consumer group of the review-event subscription; screening events
    /// are consumed by `{consumer_group}-screenings`.
    #[serde(default = "default_consumer_group")]
    pub consumer_group: String,
    /// How often calendar clients should re-fetch a calendar
    /// (`REFRESH-INTERVAL`), in seconds.
    #[serde(default = "default_calendar_refresh_interval_secs")]
    pub calendar_refresh_interval_secs: u64,
}

fn default_calendar_refresh_interval_secs() -> u64 {
    3600
}

fn default_item_limit() -> usize {
    50
}

fn default_consumer_group() -> String {
    "feeds".to_owned()
}

fn default_feeds() -> Vec<FeedDefinition> {
    vec![FeedDefinition {
        slug: FeedSlug("all".to_owned()),
        title: "Marquee".to_owned(),
        description: "Every review and feature, newest first.".to_owned(),
        section: None,
    }]
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Two feeds share a slug, so one URL would serve two feeds.
    #[error("feed slug `{0}` is configured twice; give every feed its own slug")]
    DuplicateSlug(FeedSlug),
    /// A feed needs a title and description: RSS requires both.
    #[error("feed `{0}` needs a non-empty title and description")]
    MissingText(FeedSlug),
    /// Calendar clients would poll without pause.
    #[error("calendar_refresh_interval_secs must be at least 60")]
    RefreshInterval,
    /// A zero limit would publish empty feeds forever.
    #[error("item_limit must be at least 1")]
    ZeroItemLimit,
    /// Feed URLs are joined onto the base URL, which needs a host.
    #[error("base_url `{0}` must be an absolute http(s) URL")]
    BaseUrl(Url),
}

impl Settings {
    /// Checks what serde cannot: unique slugs, non-empty texts, a usable base URL.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.item_limit == 0 {
            return Err(SettingsError::ZeroItemLimit);
        }
        if self.calendar_refresh_interval_secs < 60 {
            return Err(SettingsError::RefreshInterval);
        }
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.cannot_be_a_base() {
            return Err(SettingsError::BaseUrl(self.base_url.clone()));
        }
        let mut seen = HashSet::new();
        for feed in &self.feeds {
            if !seen.insert(&feed.slug) {
                return Err(SettingsError::DuplicateSlug(feed.slug.clone()));
            }
            if feed.title.trim().is_empty() || feed.description.trim().is_empty() {
                return Err(SettingsError::MissingText(feed.slug.clone()));
            }
        }
        Ok(())
    }
}

/// One published feed: site-wide, or one section of the publication.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedDefinition {
    /// URL name: the feed is served at `/feeds/{slug}.{rss,atom,json}`.
    pub slug: FeedSlug,
    /// Feed title.
    pub title: String,
    /// Feed description (RSS requires one).
    pub description: String,
    /// Section to carry, e.g. "In Cinemas"; `None` carries every section.
    #[serde(default)]
    pub section: Option<String>,
}

impl FeedDefinition {
    /// Whether an item of `section` belongs in this feed.
    pub fn includes(&self, section: &str) -> bool {
        self.section.as_deref().is_none_or(|s| s == section)
    }
}

/// A feed's URL name: lowercase ASCII letters, digits and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct FeedSlug(String);

/// Why a text is not a feed slug.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a feed slug: use 1-64 lowercase letters, digits and inner hyphens")]
pub struct InvalidSlug(String);

impl FeedSlug {
    /// Parses a slug such as `in-cinemas`.
    pub fn parse(slug: &str) -> Result<Self, InvalidSlug> {
        let valid = (1..=64).contains(&slug.len())
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        if valid {
            Ok(Self(slug.to_owned()))
        } else {
            Err(InvalidSlug(slug.to_owned()))
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FeedSlug {
    type Error = InvalidSlug;
    fn try_from(slug: String) -> Result<Self, InvalidSlug> {
        Self::parse(&slug)
    }
}

/// Lets the request path look a feed up without allocating a slug.
impl std::borrow::Borrow<str> for FeedSlug {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeedSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_url_safe() {
        assert!(FeedSlug::parse("in-cinemas").is_ok());
        assert!(FeedSlug::parse("all2").is_ok());
        for bad in [
            "",
            "-a",
            "a-",
            "In-Cinemas",
            "a/b",
            "a.rss",
            &"a".repeat(65),
        ] {
            assert!(FeedSlug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn settings_default_to_one_site_wide_feed() {
        let settings: Settings = serde_json::from_value(serde_json::json!({
            "base_url": "http://127.0.0.1:8080/",
            "database_url": "sqlite://feeds.sqlite",
        }))
        .expect("minimal settings parse");
        assert_eq!(settings.item_limit, 50);
        assert_eq!(settings.consumer_group, "feeds");
        assert_eq!(settings.calendar_refresh_interval_secs, 3600);
        assert_eq!(settings.feeds.len(), 1);
        assert!(settings.feeds[0].includes("Features"));
        settings.validate().expect("defaults are valid");
    }

    #[test]
    fn unknown_fields_and_duplicate_slugs_are_refused() {
        let unknown = serde_json::from_value::<Settings>(serde_json::json!({
            "base_url": "http://127.0.0.1:8080/",
            "database_url": "sqlite://feeds.sqlite",
            "item_limt": 5,
        }));
        assert!(unknown.is_err());
        let feed = serde_json::json!({"slug": "all", "title": "T", "description": "D"});
        let settings: Settings = serde_json::from_value(serde_json::json!({
            "base_url": "http://127.0.0.1:8080/",
            "database_url": "sqlite://feeds.sqlite",
            "feeds": [feed, feed],
        }))
        .expect("settings parse");
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::DuplicateSlug(_))
        ));
    }
}
